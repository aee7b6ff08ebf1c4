"""The watchdog on the model: rp2 timeout range, no stop, expiry is a reset.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from _util import expect_raises
from picostim import fakehw
from picostim.fakehw.chip import PWRON_RESET, WDT_REASON_FORCE, WDT_REASON_TIMER, WDT_RESET
from picostim.fakehw.clock import Reset

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _machine() -> "Any":
    """Install a fresh chip; return the `machine` stand-in, as firmware imports it."""
    fakehw.install()
    import machine  # type: ignore[import-not-found]

    return machine


def test_timeout_range_is_rp2040s() -> None:
    machine = _machine()
    e = expect_raises(ValueError, machine.WDT, timeout=8389)
    assert "8388" in str(e)
    expect_raises(ValueError, machine.WDT, timeout=-1)
    e = expect_raises(ValueError, machine.WDT, id=1, timeout=100)
    assert "doesn't exist" in str(e)
    machine.WDT(timeout=8388)  # the maximum is fine


def test_wdt_cannot_be_stopped() -> None:
    machine = _machine()
    w = machine.WDT(timeout=100)
    assert not hasattr(w, "stop")
    assert not hasattr(w, "deinit")


def test_fed_watchdog_does_not_fire() -> None:
    machine = _machine()
    chip = fakehw.current()
    w = machine.WDT(timeout=50)
    for _ in range(20):
        chip.clock.advance(40_000_000)  # 40 ms < 50 ms
        w.feed()
    assert chip.resets == []


def test_starved_watchdog_resets_at_its_timeout() -> None:
    machine = _machine()
    chip = fakehw.current()
    assert machine.reset_cause() == PWRON_RESET
    machine.WDT(timeout=50)
    t_start = chip.clock.now_ns()
    r = expect_raises(Reset, chip.clock.advance, 100_000_000)
    assert r.cause == WDT_RESET
    assert chip.clock.now_ns() == t_start + 50_000_000  # fired at the timeout exactly
    assert machine.reset_cause() == WDT_RESET
    assert chip.resets[-1][1] == WDT_RESET


def test_reset_returns_pins_to_reset_state_and_keeps_the_world() -> None:
    machine = _machine()
    chip = fakehw.current()
    machine.Pin(3, machine.Pin.OUT, value=1)
    machine.Pin(14, machine.Pin.IN, machine.Pin.PULL_UP)
    chip.drive(14, 0)
    machine.WDT(timeout=10)
    expect_raises(Reset, chip.clock.advance, 20_000_000)
    assert chip.level(3) == 0  # output gone: input with pull-down again
    assert chip.gpio[3].funcsel == 31
    assert chip.gpio[14].pull_up is False and chip.gpio[14].pull_down is True
    assert chip.gpio[14].external == 0  # the key switch is still closed
    assert chip.wdt_timeout_ms == 0  # a reset stops the watchdog until firmware starts it


def test_machine_reset_reboots_through_the_watchdog() -> None:
    machine = _machine()
    r = expect_raises(Reset, machine.reset)
    assert r.cause == WDT_RESET


REASON = 0x40058008
SCRATCH0 = 0x4005800C


def test_reason_says_force_or_timer_and_scratch_survives_a_watchdog_reset_not_a_power_on() -> None:
    """Datasheet 4.7.6, as the silicon tier sees it: machine.reset() (CTRL.TRIGGER) leaves REASON FORCE,
    an expiry TIMER; both keep SCRATCH0..7; a power-on clears REASON and SCRATCH."""
    machine = _machine()
    chip = fakehw.chip.current()
    assert machine.mem32[REASON] == 0
    machine.mem32[SCRATCH0] = 0x50535744
    machine.mem32[SCRATCH0 + 0x2000] = 1  # the SET alias
    assert machine.mem32[SCRATCH0] == 0x50535745
    expect_raises(Reset, machine.reset)
    assert machine.reset_cause() == WDT_RESET and machine.mem32[REASON] == WDT_REASON_FORCE
    assert machine.mem32[SCRATCH0] == 0x50535745
    machine.WDT(timeout=5)
    r = expect_raises(Reset, lambda: chip.clock.advance(10_000_000))
    assert r.cause == WDT_RESET and machine.mem32[REASON] == WDT_REASON_TIMER
    assert machine.mem32[SCRATCH0] == 0x50535745
    expect_raises(Reset, lambda: chip.trigger_reset(PWRON_RESET, "power cut"))
    assert machine.mem32[REASON] == 0 and machine.mem32[SCRATCH0] == 0
