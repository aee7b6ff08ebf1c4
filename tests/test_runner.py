"""firmware/ runs unchanged on the model; resets reboot it as the board would."""

import json
from pathlib import Path
from typing import Any

from picostim.fakehw.chip import WDT_RESET
from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod

MS = 1_000_000


def _status(runner: BoardRunner) -> list[dict[str, object]]:
    return [json.loads(line) for line in runner.console_out if line.startswith('{"status"')]


def test_main_boots_safe_and_goes_ready_with_key_and_estop_released() -> None:
    brd = board_mod.load(str(BOARDS_DIR / "stim4.json"))
    with BoardRunner(BOARDS_DIR / "stim4.json") as r:
        world = World(r.chip, brd)
        world.key(False)
        world.estop(False)
        r.run_for(100 * MS)
        assert _status(r)[-1]["status"] == "SAFE"
        assert r.chip.level(brd.outputs.output_enable.pin) != brd.outputs.output_enable.active_level
        world.key(True)
        r.run_for(100 * MS)
        assert _status(r)[-1]["status"] == "READY"
        led = brd.outputs.status_led
        assert r.chip.level(led.pin) == led.active_level
        world.estop(True)
        r.run_for(50 * MS)
        assert _status(r)[-1]["status"] == "FAULT"  # the e-stop latches
        assert _status(r)[-1]["reason"] == "e-stop"
        for pin in brd.stim_pins():
            assert r.chip.edges(pin, 0, r.now_ns) == []  # never a pulse
        assert r.crashes == []


def test_bad_board_file_is_a_fault_not_a_crash(tmp_path: Path) -> None:
    d = json.loads((BOARDS_DIR / "stim4.json").read_text())
    d["channels"][0]["pulse_b"] = d["channels"][1]["pulse_b"]  # two channels share a pin
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    with BoardRunner(bad) as r:
        r.run_for(200 * MS)
        st = _status(r)
        assert st[-1]["status"] == "FAULT"
        assert "board file" in str(st[-1]["reason"])
        assert r.crashes == []
        assert r.boots == 1


def test_a_board_file_with_another_clock_is_refused(tmp_path: Path) -> None:
    """A file saying 200 MHz, which nothing sets, would make every phase 1.6x wider (issue 12)."""
    d = json.loads((BOARDS_DIR / "stim4.json").read_text())
    d["cpu_hz"] = 200_000_000
    bad = tmp_path / "fast.json"
    bad.write_text(json.dumps(d))
    with BoardRunner(bad) as r:
        r.run_for(200 * MS)
        st = _status(r)
        assert st[-1]["status"] == "FAULT" and "cpu_hz" in str(st[-1]["reason"]), st[-1]
        assert r.crashes == []


def test_a_chip_that_runs_another_clock_than_the_board_file_says_boots_into_fault(monkeypatch: Any) -> None:
    """The firmware reads machine.freq() at boot: pulse settings hold only at the checked clock."""
    from picostim.fakehw.chip import Chip

    monkeypatch.setattr(Chip, "clock_hz", lambda _self: 133_000_000)
    brd = board_mod.load(str(BOARDS_DIR / "stim4.json"))
    with BoardRunner(BOARDS_DIR / "stim4.json") as r:
        World(r.chip, brd).key(True)
        r.run_for(200 * MS)
        st = _status(r)
        assert [s["status"] for s in st] == ["FAULT"], st
        assert st[0]["reason"] == "clock: the chip runs at 133000000 Hz, the board file says 125000000 Hz"
        oe = brd.outputs.output_enable
        assert r.chip.level(oe.pin) != oe.active_level
        for pin in brd.stim_pins():
            assert r.chip.edges(pin, 0, r.now_ns) == []


def test_a_deploy_style_reset_boots_ready_and_only_an_expiry_of_our_watchdog_boots_fault() -> None:
    """machine.reset() (mpremote, a deploy, a UF2 copy) is REASON FORCE: the board boots as after
    power-on. An expiry while PicoStim's watchdog runs is REASON TIMER: FAULT "watchdog reset"."""
    from picostim.fakehw.chip import WDT_REASON_FORCE, WDT_REASON_TIMER

    brd = board_mod.load(str(BOARDS_DIR / "stim4.json"))
    with BoardRunner(BOARDS_DIR / "stim4.json") as r:
        world = World(r.chip, brd)
        world.key(True)
        world.estop(False)
        r.run_for(300 * MS)
        assert _status(r)[-1]["status"] == "READY"
        n = len(_status(r))
        r.at(r.now_ns, lambda: r.chip.trigger_reset(WDT_RESET, "machine.reset()", WDT_REASON_FORCE))
        r.run_for(300 * MS)
        after = _status(r)[n:]
        assert r.boots == 2 and after and all(s["status"] != "FAULT" for s in after), after
        assert after[-1]["status"] == "READY", after
        n = len(_status(r))
        r.at(r.now_ns, lambda: r.chip.trigger_reset(WDT_RESET, "watchdog timeout", WDT_REASON_TIMER))
        r.run_for(300 * MS)
        after = _status(r)[n:]
        assert r.boots == 3 and (after[0]["status"], after[0]["reason"]) == ("FAULT", "watchdog reset"), after


def _tiny_firmware(tmp_path: Path, main_py: str) -> Path:
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "boot.py").write_text("")
    (fw / "main.py").write_text(main_py)
    return fw


HANGING_MAIN = """
import time
from machine import WDT, Pin, reset_cause
print("boot cause", reset_cause())
out = Pin(2, Pin.OUT, value=1)
w = WDT(timeout=100)
hang = Pin(10, Pin.IN, Pin.PULL_DOWN)
while True:
    w.feed()
    time.sleep_ms(10)
    while hang.value():   # a stuck loop that only polls the hardware
        pass
"""


def test_hung_loop_is_reset_by_the_watchdog_and_reboots_with_wdt_cause(tmp_path: Path) -> None:
    fw = _tiny_firmware(tmp_path, HANGING_MAIN)
    with BoardRunner(BOARDS_DIR / "stim4.json", firmware_dir=fw) as r:
        r.run_for(500 * MS)
        assert r.boots == 1
        assert r.chip.level(2) == 1
        t_hang = r.now_ns
        r.chip.drive(10, 1)  # inject the hang
        r.run_for(150 * MS)
        assert r.boots == 2
        reset_t, cause, _why, _reason = r.chip.resets[-1]
        assert cause == WDT_RESET
        assert t_hang < reset_t <= t_hang + 100 * MS + 10 * MS  # within the timeout (+ one loop pass)
        assert r.console_out[:2] == ["boot cause 1", "boot cause 3"]
        # The reset returned GPIO 2 to its reset state before main.py drove it again.
        assert r.chip.level(2, reset_t) == 0


def test_main_that_raises_leaves_the_board_at_the_repl(tmp_path: Path) -> None:
    fw = _tiny_firmware(tmp_path, "raise RuntimeError('oops')\n")
    with BoardRunner(BOARDS_DIR / "stim4.json", firmware_dir=fw) as r:
        r.run_for(1000 * MS)
        assert r.boots == 1
        assert len(r.crashes) == 1 and "oops" in r.crashes[0]
        assert r.now_ns == 1000 * MS


def test_runs_are_deterministic() -> None:
    def one_run() -> list[tuple[int, int]]:
        brd = board_mod.load(str(BOARDS_DIR / "stim4.json"))
        with BoardRunner(BOARDS_DIR / "stim4.json") as r:
            w = World(r.chip, brd)
            w.estop(False)
            r.at(30 * MS, lambda: w.key(True))
            r.at(70 * MS, lambda: w.estop(True))
            r.run_for(120 * MS)
            return r.chip.edges(brd.outputs.status_led.pin, 0, r.now_ns)

    a = one_run()
    assert a == one_run()
    assert a  # the LED did change
