"""stim.hal.pulse_hw.PulseChannel on the RP2040 model: pulse trains measured from the pins' edges.

Runs under pytest and under the MicroPython VM (tests/target/run.py). Every
timing claim comes from Chip.edges() through the probe (fakehw/probe.py),
never from the settings the firmware computed.
"""

import sys

from picostim import fakehw
from picostim.fakehw import dma as fdma
from picostim.fakehw.probe import Pairs, pulses
from stim import programs, pulse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Tuple

    from picostim.fakehw.chip import Chip

    def expect_raises(exc_type: "type[BaseException]", fn: "Callable[..., object]", *args: object,
                      **kwargs: object) -> BaseException: ...
    def heap_locked(fn: "Callable[[], object]") -> bool: ...
else:
    from _util import expect_raises, heap_locked

CPU = 125_000_000
GUARD_US = 20
A, B = 2, 3  # stim4 CH1
MS = 1_000_000
IO_BANK0_CTRL = 0x40014004


def _fresh() -> "Tuple[Chip, Any]":
    """A new chip, and the hal module bound to the model's machine and rp2."""
    chip = fakehw.install()
    stim = __import__("stim.hal.pulse_hw")  # via __import__: the host type check never reads hal code
    return chip, stim.hal.pulse_hw


def _run(chip: "Chip", ch: "Any", settings: "Any", on_ns: int) -> "Tuple[Pairs, int, int]":
    """Configure, start, run on_ns, stop, wait until the hardware is done; the scope over all of it."""
    ch.configure(settings)
    t0 = chip.clock.now_ns()
    assert ch.start()
    chip.clock.advance_to(t0 + on_ns)
    ch.stop()
    step = settings.program_cycles * 8 // 4
    while ch.running:
        chip.clock.advance(step)
    t1 = chip.clock.now_ns() + settings.program_cycles * 8
    chip.clock.advance_to(t1)
    return Pairs(chip.edges(A, t0, t1), chip.edges(B, t0, t1)), t0, t1


def _check_train(p: Pairs, freq_hz: int, width_us: int) -> None:
    assert p.unpaired == 0 and p.overlap_ns == 0
    assert len(p.pairs) >= 3
    assert set(p.widths()) == {(width_us * 1000, width_us * 1000)}, set(p.widths())
    for per in p.periods():
        # Within 0.01 % of the requested period (the engine aims for 10 ppm).
        assert abs(per * freq_hz - 1_000_000_000) * 10_000 <= 1_000_000_000, (per, freq_hz)


def test_lower_back_85hz_350us_is_whole_equal_pairs_at_the_right_rate() -> None:
    chip, hw = _fresh()
    ch = hw.PulseChannel(A, B)
    s = pulse.train_settings(programs.by_name("lower_back"), CPU, GUARD_US, 2)
    p, _t0, _t1 = _run(chip, ch, s, 60 * MS)
    _check_train(p, 85, 350)
    assert 6 <= len(p.pairs) <= 9  # the words already in the 8-word FIFO (two pulses) still come out


def test_relaxation_4hz_below_the_pwm_floor_is_shaped_by_hardware() -> None:
    chip, hw = _fresh()
    ch = hw.PulseChannel(A, B)
    s = pulse.train_settings(programs.by_name("relaxation"), CPU, GUARD_US, 2)
    blk = fdma.block()
    calls = blk.irq_calls
    p, _t0, _t1 = _run(chip, ch, s, 1000 * MS)
    _check_train(p, 4, 250)
    assert p.periods()[0] == 250 * MS  # exactly: 31,250,000 cycles of 8 ns
    assert blk.irq_calls == calls  # no interrupt handler: no CPU work per pulse


def test_burst_tens_is_seven_pulses_at_100hz_twice_a_second() -> None:
    chip, hw = _fresh()
    ch = hw.PulseChannel(A, B)
    s = pulse.train_settings(programs.by_name("tens_burst"), CPU, GUARD_US, 2)
    p, _t0, _t1 = _run(chip, ch, s, 1100 * MS)
    assert p.unpaired == 0 and p.overlap_ns == 0
    assert set(p.widths()) == {(200_000, 200_000)}
    per = p.periods()
    # Whole bursts only: the program the DMA is in at stop() finishes (it may already be the next burst,
    # whose first two pulses sit in the FIFO during the idle time).
    assert len(p.pairs) in (21, 28), len(p.pairs)
    bursts = len(p.pairs) // 7
    assert per == ([10 * MS] * 6 + [440 * MS]) * (bursts - 1) + [10 * MS] * 6


def test_stop_at_any_moment_keeps_every_pair_whole() -> None:
    chip, hw = _fresh()
    ch = hw.PulseChannel(A, B)
    s = pulse.settings_for(150, 1000, CPU, GUARD_US)
    ch.configure(s)
    slot = s.period_cycles * 8 // 3  # a third of the period (6.67 ms; each phase 1 ms)
    # Stop inside each part of a pulse period: in the rest, in B, in the gap, in A, and at once after
    # start (the first pair comes START_REST_US after it).
    for offset in (0, 1_000_000 + 500_000, 2_001_000, 2_002_000 + 500_000, slot + 10, 2 * slot + 999_000):
        t0 = chip.clock.now_ns()
        assert ch.start()
        chip.clock.advance_to(t0 + 4 * slot + offset)
        ch.stop()
        assert not ch.armed
        while ch.running:
            chip.clock.advance(slot)
        t1 = chip.clock.now_ns() + 2 * slot
        chip.clock.advance_to(t1)
        p = Pairs(chip.edges(A, t0, t1), chip.edges(B, t0, t1))
        assert p.unpaired == 0 and p.overlap_ns == 0 and p.pairs, offset
        t2 = chip.clock.now_ns()
        chip.clock.advance_to(t2 + 5 * slot)
        assert chip.edges(A, t2, t2 + 5 * slot) == [] and chip.edges(B, t2, t2 + 5 * slot) == []


def test_start_while_the_last_program_finishes_waits() -> None:
    chip, hw = _fresh()
    ch = hw.PulseChannel(A, B)
    s = pulse.settings_for(2, 300, CPU, GUARD_US)
    ch.configure(s)
    assert ch.start() and ch.running and ch.armed
    assert ch.start()  # already armed: nothing changes
    chip.clock.advance(600 * MS)
    ch.stop()
    assert ch.running and not ch.armed
    assert not ch.start()  # still finishing the last pulse period: call again later
    e = expect_raises(pulse.PulseError, ch.configure, s)
    assert str(e).startswith("configure: the channel is running")
    while ch.running:
        chip.clock.advance(100 * MS)
    ch.configure(pulse.settings_for(3, 300, CPU, GUARD_US))  # stopped: frequency may change now
    assert ch.start()


def test_refused_machines_and_settings_leave_the_channel_off() -> None:
    chip, hw = _fresh()
    e = expect_raises(pulse.PulseError, hw.PulseChannel, 2, 3, 8)  # one state machine per channel
    assert str(e).startswith("channels: channel 8: the RP2040 has 8 PIO state machines"), str(e)
    assert chip.gpio[2].funcsel == 31 and chip.gpio[3].funcsel == 31  # untouched
    ch = hw.PulseChannel(A, B)
    assert str(expect_raises(pulse.PulseError, ch.start)).startswith("start: configure() the channel first")
    bad = pulse.settings_for(150, 1000, CPU, GUARD_US)
    bad.guard_cycles = bad.period_cycles  # as if the board's guard were a whole period
    expect_raises(pulse.PulseError, ch.configure, bad)
    chip.clock.advance(10 * MS)
    assert chip.level(A) == 0 and chip.level(B) == 0 and not ch.running


def test_start_reselects_pio_after_the_kill_path_parked_the_pins_mid_phase() -> None:
    chip, hw = _fresh()
    import machine  # type: ignore[import-not-found]  # the model's, as the kill path uses it

    ch = hw.PulseChannel(A, B)
    s = pulse.settings_for(100, 200, CPU, GUARD_US)
    ch.configure(s)
    ch.start()
    while not chip.level(B):  # into a negative (lead) phase
        chip.clock.advance(20_000)
    # The kill path: pins to SIO (low), whatever the machine does; then the controller halts the train.
    machine.mem32[IO_BANK0_CTRL + 8 * A] = 5
    machine.mem32[IO_BANK0_CTRL + 8 * B] = 5
    ch.halt()
    t = chip.clock.now_ns()
    assert chip.level(A) == 0 and chip.level(B) == 0
    for _ in range(100):  # waits for the DMA's last program (at most one, 10 ms), behind the parked pads
        if ch.start():
            break
        assert chip.gpio[A].funcsel == 5 and chip.gpio[B].funcsel == 5
        chip.clock.advance(MS)
    assert chip.gpio[A].funcsel == 6 and chip.gpio[B].funcsel == 6
    t1 = chip.clock.now_ns()
    chip.clock.advance(60 * MS)
    ch.stop()
    for _ in range(10):  # the words in the FIFO: two more pulse periods at most
        if not ch.running:
            break
        chip.clock.advance(10 * MS)
    assert not ch.running
    now = chip.clock.now_ns()
    assert chip.edges(A, t, t1) == [] and chip.edges(B, t, t1) == []  # nothing while parked
    p = Pairs(chip.edges(A, t1, now), chip.edges(B, t1, now))
    assert len(p.pairs) >= 5 and p.unpaired == 0 and p.overlap_ns == 0  # the cut pair's trail never came
    assert set(p.widths()) == {(200_000, 200_000)}


def test_stop_allocates_nothing_under_heap_lock() -> None:
    chip, hw = _fresh()
    ch = hw.PulseChannel(A, B)
    ch.configure(pulse.settings_for(50, 300, CPU, GUARD_US))
    ch.start()
    chip.clock.advance(30 * MS)
    assert heap_locked(ch.stop) or sys.implementation.name != "micropython"
    assert not ch.armed
    while ch.running:
        chip.clock.advance(10 * MS)
    t = chip.clock.now_ns()
    chip.clock.advance(100 * MS)
    assert pulses(chip.edges(A, t, t + 100 * MS)) == []
