"""The model charges the control loop's Python as silicon takes it (fakehw.pycost, issue 11 item 6)."""

import itertools
import types

import pytest
from picostim.bench.safety import measure_model_loop
from picostim.fakehw import clock as fclock
from picostim.fakehw import pycost
from picostim.fakehw.chip import Chip
from picostim.fakehw.clock import Clock

TICK_KEYS = [k for _m, _c, _f, k in pycost.PARTS]


def test_a_running_loop_pass_takes_at_least_the_python_its_parts_are_charged() -> None:
    c = fclock.python_cost(True)
    # The tick's stretch holds every part but the console's and the display's, which run half a
    # tick later in a stretch of their own (stim.app.run); a pass is the longer of the two.
    charged_us = sum(c[k] for k in pycost.STEADY_KEYS if k not in ("tick_console_ns", "tick_display_ns")) / 1000
    cal = measure_model_loop(calibrated=True, steady_s=0.5)
    # Every part runs in each tick of a running session, so the pass is at least their sum; the
    # hardware calls and the status line's check come on top, well under a millisecond.
    assert charged_us <= cal["tick.model_us_p50"] <= charged_us + 1_000
    # Over the bench's 2 s: the median pass must not be one of the passes that send the screen of the
    # ramp's end (a page is nine passes, each with a bus transfer, stim.hal.oled).
    raw = measure_model_loop(calibrated=False, steady_s=2.0)
    assert raw["tick.model_us_p50"] < 200  # without the cost a pass is a few hardware calls
    assert raw["tick.model_busy_pct_mean"] < cal["tick.model_busy_pct_mean"]


def test_the_uncalibrated_model_charges_no_loop_python() -> None:
    c = fclock.python_cost(False)
    assert all(c[k] == 0 for k in TICK_KEYS)
    assert all(fclock.python_cost(True)[k] > 0 for k in TICK_KEYS)


def test_a_part_missing_from_the_firmware_is_an_error_not_a_free_part() -> None:
    mod = types.ModuleType("stim.panel")

    class Panel:
        def other(self) -> None: ...

    mod.Panel = Panel  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match=r"stim\.panel\.Panel\.step"):
        pycost.wrap_module(mod)


def test_a_wrapped_part_moves_the_clock_only_on_the_firmwares_turn() -> None:
    from picostim.fakehw import chip as fchip

    mod = types.ModuleType("stim.supervisor")

    class Supervisor:
        def advance(self) -> int:
            return 7

        def _debounce(self) -> None: ...

        def _move_levels(self) -> None: ...

        def _finish(self) -> None: ...

        def _sense_bounds(self) -> None: ...

    mod.Supervisor = Supervisor  # type: ignore[attr-defined]
    pycost.wrap_module(mod)
    chip = Chip(Clock(cost=fclock.python_cost(True)))
    saved = fchip._current
    fchip.set_current(chip)
    try:
        assert Supervisor().advance() == 7 and chip.clock.now_ns() == 0  # the host calling: no time
        pycost.firmware_turn[0] = True
        try:
            assert Supervisor().advance() == 7
        finally:
            pycost.firmware_turn[0] = False
        assert chip.clock.now_ns() == fclock.PYTHON_COST["tick_supervisor_ns"]
    finally:
        fchip.set_current(saved)


def test_the_console_and_the_display_wake_half_a_tick_after_the_tick() -> None:
    """stim.app.run serves the console and the display in a stretch of their own, half a tick after
    the tick's: in a running session the firmware wakes every ~5 ms, and the stretches alternate
    between the tick's (the longer) and theirs. Each wake is charged (wake_ns) as silicon takes it."""
    from picostim import safetycheck as sc

    rig = sc.Rig(sc.STIM4)
    try:
        rig.new_sequence(key=True)
        rig.wait(100)
        rig.press("start_pause")
        rig.wait(500)
        clock = rig.chip.clock
        sleeps: list[tuple[int, int]] = []
        clock.sleeps = sleeps
        rig.wait(300)
        clock.sleeps = None
    finally:
        rig.close()
    wakes = [end for _start, end in sleeps]
    gaps_ms = [(b - a) / 1e6 for a, b in itertools.pairwise(wakes)]
    assert len(gaps_ms) >= 50 and all(4 <= g <= 6 for g in gaps_ms), gaps_ms
    busy = [b[0] - a[1] for a, b in itertools.pairwise(sleeps)]  # wake to the next sleep
    ticks, slots = busy[0::2], busy[1::2]
    if min(ticks) < max(slots):  # the series may start at either stretch
        ticks, slots = slots, ticks
    assert min(ticks) > 2 * max(slots)  # the tick's stretch, then the console's and display's
    assert min(slots) >= fclock.python_cost(True)["wake_ns"]
