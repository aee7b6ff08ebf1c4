"""A second session on the emulated RP2040: the watchdog's expiry and the pulse engine's restart.

The deployed firmware hung the emulator at the second session start (emulated time stopped,
node at 100 % CPU). The cause was not the pulse engine: saving the settings after a program
change kept the core in flash erases for more than the watchdog's 100 ms, and rp2040js's
watchdog alarm, rescheduled at its expiry, fired again at the same instant forever
(patches/watchdog.mjs). Here: an expiry resets the chip once and time goes on; and the pulse
engine, started, stopped, aborted and configured again as stim.hal.outputs does between
sessions, makes one pair per pulse period after the restart.

Each run is guarded by a wall-clock limit, so a hang fails the test instead of stalling it.
"""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Optional

import pytest
from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
ENGINE = ["stim/__init__.py", "stim/boardspec.py", "stim/pulse.py", "stim/hal/__init__.py", "stim/hal/pulse_hw.py"]
CYCLE_NS = 8  # 125 MHz clk_sys
PIN_A, PIN_B = 16, 17  # slice 0, channels A and B
BOOT_NS = 1_600_000_000  # power-on (or reset) to MicroPython's REPL, as conftest.py has it
WALL_S = 120  # far above what any run here takes (the emulator runs at about half real time)


@contextmanager
def wall_limit(seconds: int) -> Iterator[None]:
    """Fail (TimeoutError) if the block takes more than `seconds` of wall time: a hung emulator."""
    def expire(signum: int, frame: Optional[FrameType]) -> None:
        raise TimeoutError("the emulated chip made no progress for %d s of wall time" % seconds)

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pulses(chip: Silicon, gpio: int, since: int) -> list[tuple[int, int]]:
    """(start, end) of each whole high pulse on the pin since `since`."""
    out = []
    start = None
    for ns, g, level in chip.pins:
        if g != gpio or ns < since:
            continue
        if level == 1:
            start = ns
        elif start is not None:
            out.append((start, ns))
            start = None
    return out


def test_watchdog_expiry_resets_the_chip_once_and_time_goes_on() -> None:
    """RP2040 datasheet 4.7: when the watchdog's count reaches 0 the chip resets. rp2040js's
    alarm fired again at the instant of the expiry, forever; the reset never came."""
    with Silicon() as chip, wall_limit(WALL_S):
        repl = boot_after(chip, 0)
        t0 = chip.now_ns
        repl.exec("from machine import WDT\nw = WDT(timeout=50)")  # the raw REPL never feeds it
        chip.run_for(200_000_000)
        assert chip.now_ns >= t0 + 200_000_000
        resets = [(int(ns), cause) for ns, cause in chip.stats()["resets"]]
        assert [cause for _, cause in resets] == ["power-on", "watchdog"]
        assert t0 + 50_000_000 < resets[1][0] < t0 + 70_000_000  # 50 ms after the feed of WDT()
        repl = boot_after(chip, resets[1][0])
        assert repl.exec("import machine\nprint(machine.reset_cause() == machine.WDT_RESET)").split() == ["True"]


def boot_after(chip: Silicon, reset_ns: int) -> RawRepl:
    """Run a chip reset at reset_ns to MicroPython's REPL and enter the raw REPL."""
    chip.run_until(reset_ns + BOOT_NS)
    repl = RawRepl(chip)
    repl.enter()
    return repl


@pytest.fixture(scope="module")
def engine(repl: RawRepl) -> RawRepl:
    repl.exec("from machine import Pin\nimport os\nfor d in ('/stim', '/stim/hal'):\n try: os.mkdir(d)\n"
              " except OSError: pass")
    for rel in ENGINE:
        repl.put_file("/" + rel, (FIRMWARE / rel).read_bytes(), chunk=2048)
    repl.exec("from stim.pulse import settings_for\nfrom stim.hal.pulse_hw import PulseChannel\n"
              "pc = PulseChannel(%d, %d)" % (PIN_A, PIN_B))
    return repl


def configure(repl: RawRepl, hz: int, width_us: int) -> tuple[int, int, int, int]:
    """As stim.hal.outputs.configure between sessions: halt, abort, configure.
    (program, width, period, gap) ns."""
    out = repl.exec("s = settings_for(%d, %d, 125_000_000, 20, 0, 0, 2)\npc.halt()\npc.abort()\npc.configure(s)\n"
                    "print(s.program_cycles, s.width_cycles, s.period_cycles, s.gap_cycles)" % (hz, width_us))
    prog, w, per, gap = (int(v) for v in out.split())
    return prog * CYCLE_NS, w * CYCLE_NS, per * CYCLE_NS, gap * CYCLE_NS


def session(chip: Silicon, repl: RawRepl, program_ns: int, programs: int) -> int:
    """start(), run `programs` programs, stop(), let the last one end; the ns of the start."""
    t0 = chip.now_ns
    assert repl.exec("print(pc.start())").split() == ["True"]
    chip.run_for(programs * program_ns)
    repl.exec("pc.stop()")
    chip.run_for(3 * program_ns)
    assert chip.now_ns >= t0 + (programs + 3) * program_ns  # emulated time went on
    assert repl.exec("print(pc.running, pc.armed)").split() == ["False", "False"]
    return t0


def check_pairs(chip: Silicon, since: int, width: int, period: int, gap: int, at_least: int) -> None:
    a = pulses(chip, PIN_A, since)
    b = pulses(chip, PIN_B, since)
    assert len(a) == len(b) >= at_least
    assert {y - x for x, y in a} == {y - x for x, y in b} == {width}
    assert all(pa[0] == pb[1] + gap for pa, pb in zip(a, b, strict=True))  # A starts the gap after B ends
    assert {q[0] - p[0] for p, q in pairwise(b)} == {period}  # one pair per pulse period


def test_pulse_engine_restarts_after_abort_and_configure(chip: Silicon, engine: RawRepl) -> None:
    """Session, stop, an idle machine, reconfigure to another program, second
    session: one pair per pulse period in each, and the emulator keeps time throughout."""
    with wall_limit(WALL_S):
        program_ns, width, period, gap = configure(engine, 200, 100)
        t0 = session(chip, engine, program_ns, 6)
        check_pairs(chip, t0, width, period, gap, 6)
        chip.run_for(50_000_000)  # the machine idles at its rest while D is idle
        program_ns, width, period, gap = configure(engine, 100, 200)
        t1 = session(chip, engine, program_ns, 6)
        check_pairs(chip, t1, width, period, gap, 6)
        t2 = session(chip, engine, program_ns, 4)  # and a third start, without configure
        check_pairs(chip, t2, width, period, gap, 4)
