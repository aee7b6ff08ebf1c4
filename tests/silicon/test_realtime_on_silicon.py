"""Issue 12's regressions on the real firmware: MicroPython v1.28.0 on the emulated RP2040, stim4.

Each of these failed on the firmware before issue 12:
- a deploy-style reset (machine.reset(), as mpremote and the UF2 reboot do: watchdog REASON
  FORCE) booted into FAULT "watchdog reset"; now it boots SAFE and goes READY;
- a real expiry of PicoStim's watchdog (REASON TIMER, its marker in SCRATCH0) still boots FAULT;
- a 400 ms sector erase (W25Q16JV tSE max) starved the 100 ms watchdog: the board reset;
- a USB host that stops reading blocked a console write for 500 ms: the watchdog reset the board
  mid-session;
- a board file saying 200 MHz was deployed, and nothing set that clock.
"""

import json
from pathlib import Path

import pytest
from picostim.deploy import DeployError
from picostim.silicon import measure
from picostim.silicon.deploy import SiliconDeploy
from picostim.silicon.repl import RawRepl
from picostim.silicon.session import SiliconSession

REPO = Path(__file__).resolve().parents[2]
STIM4 = str(REPO / "boards" / "stim4.json")
MS = 1_000_000
WATCHDOG_REASON = 0x40058008
REASON_TIMER = 1
REASON_FORCE = 2


def _quiet(_line: str) -> None:
    pass


def _statuses_since(s: SiliconSession, t_ns: int) -> list[tuple[str, str]]:
    return [(str(st["status"]), str(st["reason"])) for ns, st in measure.status_lines(s.lines) if ns >= t_ns]


def _maintenance_repl(s: SiliconSession) -> RawRepl:
    """Boot with the program button held: main.py stops before its watchdog, the REPL is free."""
    s.button("program", True)
    assert s.run_until_text(b'"status": "MAINTENANCE"', 5_000 * MS) is not None, s.lines
    s.button("program", False)
    repl = RawRepl(s.chip)
    repl.enter()
    return repl


def _reset_from_repl(s: SiliconSession, code: str) -> None:
    """Send code to the raw REPL; it resets the chip, so no answer comes. The raw REPL's "OK" is
    read here, so that the next boot's first status line starts a line of its own."""
    s.chip.write(code.encode() + b"\x04")
    assert s.chip.run_until_text(b"OK", 50 * MS)
    s.chip.read_new()
    s._partial = b""  # and the REPL's prompt the session may hold as an unfinished line


def test_a_deploy_style_reset_boots_ready_able_not_into_a_watchdog_fault() -> None:
    with SiliconSession(STIM4, out=_quiet) as s:
        s.key(True)
        _maintenance_repl(s)
        t_reset = s.now_ns
        _reset_from_repl(s, "import machine\nmachine.reset()")
        at = s.run_until_text(b'"status": "READY"', 5_000 * MS)
        assert at is not None, s.lines[-5:]
        assert s.chip.peek32(WATCHDOG_REASON) & 3 == REASON_FORCE  # the reset came through the watchdog
        after = _statuses_since(s, t_reset)
        assert after and all(st != "FAULT" for st, _why in after), after


def test_an_expiry_of_picostims_watchdog_boots_into_fault() -> None:
    with SiliconSession(STIM4, out=_quiet) as s:
        s.key(True)
        repl = _maintenance_repl(s)
        repl.exec("from stim.hal import rp2040")
        t_hang = s.now_ns
        _reset_from_repl(s, "w = rp2040.Watchdog(100)\nwhile True:\n    pass")  # started, never fed
        at = s.run_until_text(b'"status": "FAULT"', 5_000 * MS)
        assert at is not None, s.lines[-5:]
        assert s.chip.peek32(WATCHDOG_REASON) & 3 == REASON_TIMER
        resets = s.chip.stats()["resets"]
        assert len(resets) == 2 and t_hang + 100 * MS <= resets[-1][0] <= t_hang + 200 * MS, resets
        assert _statuses_since(s, t_hang)[:1] == [("FAULT", "watchdog reset")], s.lines[-3:]
        s.run_until(s.now_ns + 300 * MS)
        assert _statuses_since(s, t_hang)[-1] == ("FAULT", "watchdog reset")  # the key stays in: latched


def test_a_worst_case_flash_erase_with_every_output_off_does_not_reset_the_board() -> None:
    """Selecting a program saves the settings: littlefs erases at 400 ms a sector. The watchdog's
    timeout is 2 s while no channel may drive (stim.supervisor.watchdog_ms)."""
    with SiliconSession(STIM4, out=_quiet, flash_timing="worst") as s:
        s.key(True)
        assert s.run_until_text(b'"status": "READY"', 8_000 * MS) is not None, s.lines[-5:]
        s.chip.observe()
        s.button("program", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("program", False)
        s.run_until(s.now_ns + 3_000 * MS)
        obs = s.chip.observations()
        erases = [ns for _st, ns in obs["windows"] if ns >= 390 * MS]
        assert erases, "no worst-case erase happened: the test would show nothing"
        assert len(s.chip.stats()["resets"]) == 1  # power-on only
        t = s.now_ns
        s.button("start_pause", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("start_pause", False)
        s.run_until(s.now_ns + 200 * MS)
        assert ("RUNNING", "") in _statuses_since(s, t), _statuses_since(s, t)


def test_a_usb_host_that_stops_reading_does_not_stop_a_session() -> None:
    with SiliconSession(STIM4, out=_quiet) as s:
        s.key(True)
        assert s.run_until_text(b'"status": "READY"', 5_000 * MS) is not None
        s.button("start_pause", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("start_pause", False)
        s.button("plus", True)
        s.run_until(s.now_ns + 500 * MS)
        s.button("plus", False)
        t_stall = s.now_ns
        s.chip.host_reading(False)
        for _ in range(30):  # requests whose replies pile up, and a status line of its own
            s.send_line('{"cmd": "status"}')
            s.run_until(s.now_ns + 50 * MS)
        s.chip.host_reading(True)
        t_back = s.now_ns
        s.send_line('{"cmd": "status", "id": "after"}')
        s.run_until(s.now_ns + 2_500 * MS)  # the replies that piled up go out first, two packets a tick
        assert len(s.chip.stats()["resets"]) == 1, s.chip.stats()["resets"]  # power-on only
        trace = measure.PinTrace(s.chip.pins, s.chip.levels)
        ch = s.board.channels[0]
        assert trace.changes(ch.pulse_a, t_stall, t_back) >= 100  # it kept pulsing throughout
        replies = [json.loads(line) for _ns, line in s.lines if line.startswith("{") and '"ok"' in line]
        after = [r for r in replies if r.get("id") == "after"]
        assert after and after[0]["state"] == "RUNNING", s.lines[-3:]


def test_a_board_file_for_another_clock_is_refused_before_deploy(tmp_path: Path) -> None:
    d = json.loads(Path(STIM4).read_text())
    d["cpu_hz"] = 200_000_000
    path = tmp_path / "fast.json"
    path.write_text(json.dumps(d))
    with pytest.raises(DeployError, match="cpu_hz"):
        SiliconDeploy(str(path), out=_quiet).image()
