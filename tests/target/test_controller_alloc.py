"""The kill path and the controller's steady running tick allocate nothing, on the RP2040 model.

Runs under pytest and on the MicroPython VM (tests/target/run.py). The controller, store and
console are built as stim.app builds them (picostim.consolerig) on a fresh model chip. On the VM
each call runs inside micropython.heap_lock(), where any allocation raises MemoryError: that is
the proof (the model's own bookkeeping lifts the lock, as the real C code allocates nothing).
Under CPython the heap cannot be locked and only the behaviour is checked.

The hard IRQ is also fired for real: the model runs a hard handler with the heap locked on the VM
and records any exception it raises (an uncaught one would disable that IRQ for good). Last, the
hal's sense scale, which the tick's overcurrent and open-electrode checks rely on.
"""

import gc
import sys

from picostim.consolerig import Rig
from stim import supervisor as sv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    def heap_locked(fn: "Callable[[], object]") -> bool: ...
else:
    from _util import heap_locked

ON_MPY = sys.implementation.name == "micropython"
TICK_NS = 10_000_000


def _tap(rig: Rig, name: str) -> None:
    """A press the panel takes (down past its 30 ms debounce), then a debounced release."""
    rig.button(name, True)
    rig.tick(5)
    rig.button(name, False)
    rig.tick(5)
    rig.chip.forget_before(rig.chip.clock.now_ns())  # keep the model's pin history small on the VM


def _running() -> Rig:
    """stim4 running its default program with every used channel's level still ramping up."""
    gc.collect()
    rig = Rig()
    rig.ready()
    _tap(rig, "start_pause")
    for _ in range(8):
        _tap(rig, "plus")  # 8 mA asked for within 0.8 s; at 5 mA/s the levels need 1.6 s to get there
    rig.tick(10)
    sup = rig.ctl.sup
    assert sup.state == sv.RUNNING
    assert 0 < sup.level_ua[0] < sup.setpoint_ua[0] == 8_000
    return rig


def test_a_running_tick_with_levels_ramping_allocates_nothing() -> None:
    rig = _running()
    ctl = rig.ctl
    clock = rig.chip.clock

    now = [0]

    def one_tick() -> None:
        ctl.tick(now[0])

    before = ctl.sup.level_ua[0]
    codes = set()
    for i in range(31):
        clock.advance(TICK_NS)  # the model's own events (pulse DMA) run here, outside the lock
        now[0] = clock.ticks_ms()
        if i == 0:
            one_tick()  # warm every path of a running tick first
        else:
            assert heap_locked(one_tick) or not ON_MPY
        codes.add(ctl.outputs.code[0])
    assert ctl.error is None and ctl.sup.fault is None and ctl.sup.state == sv.RUNNING
    assert ctl.sup.level_ua[0] > before  # the level kept ramping inside the locked ticks
    assert len(codes) > 1  # and the DAC codes with it


def test_the_kill_path_allocates_nothing() -> None:
    rig = _running()
    kill = rig.ctl.kill
    n = kill.count
    assert heap_locked(kill.fire) or not ON_MPY
    assert kill.count == n + 1
    chip = rig.chip
    for p in rig.board.stim_pins():
        assert chip.level(p) == 0 and chip.gpio[p].funcsel == 5  # parked: SIO, driven low
    oe = rig.board.outputs.output_enable
    assert chip.level(oe.pin) != oe.active_level
    for p in rig.board.amplitude.pins:  # the PWM-DAC outputs: parked low too, amplitude 0
        assert chip.level(p) == 0 and chip.gpio[p].funcsel == 5


def test_the_hard_irq_on_the_key_and_the_estop_runs_the_kill_path_without_an_exception() -> None:
    for edge in ("key", "estop"):
        rig = _running()
        kill = rig.ctl.kill
        n = kill.count
        if edge == "key":
            rig.key(False)
        else:
            rig.estop(True)
        assert kill.count == n + 1  # the handler ran at the edge, before any tick
        assert rig.chip.irq_errors == []  # and raised nothing (on the VM: with the heap locked)
        for p in rig.board.stim_pins():
            assert rig.chip.level(p) == 0
        assert (kill.key_edges, kill.estop_edges) == ((1, 0) if edge == "key" else (0, 1))
        rig.tick(1)
        sup = rig.ctl.sup
        assert sup.state == (sv.SAFE if edge == "key" else sv.FAULT)
        assert sup.level_ua == [0] * len(sup.level_ua)


def test_a_sense_line_reads_its_current_in_microamps() -> None:
    """stim.hal.rp2040.Hardware.read_senses turns each ADC reading into microamps (sense_ma_per_volt of
    the board file): 20 mA on CH1's sense stage reads 20 mA, to within one ADC step (it once read
    1000x too much, and any real current tripped "overcurrent")."""
    rig = Rig()
    ch = rig.board.channels[0]
    assert ch.sense_adc is not None and ch.sense_ma_per_volt is not None
    hw = rig.ctl.hw
    step_ua = ch.sense_ma_per_volt * 3.3 / 4095 * 1000  # one 12-bit ADC step, in uA
    got = [0] * rig.ctl.n
    for ma in (0, 1, 20, 99):
        rig.chip.adc_volts[ch.sense_adc] = ma / ch.sense_ma_per_volt
        hw.read_senses(got)
        assert abs(got[0] - ma * 1000) <= step_ua
        assert got[3] == -1  # CH4 has no sense line


def test_a_key_glitch_or_an_estop_tap_between_two_ticks_acts_as_a_longer_one() -> None:
    """The kill path counts stopping edges; the next tick acts on a counted edge even if the level is
    back: a key out and in again between two ticks ends the session, an e-stop tap latches FAULT,
    and nothing drives again without a new start (docs/safety.md)."""
    for edge in ("key", "estop"):
        rig = _running()
        if edge == "key":
            rig.key(False)
            rig.key(True)
        else:
            rig.estop(True)
            rig.estop(False)
        rig.tick(1)
        sup = rig.ctl.sup
        assert sup.state == (sv.SAFE if edge == "key" else sv.FAULT), (edge, sup.state)
        assert sup.end_reason == (sv.END_KEY if edge == "key" else sv.END_ESTOP), (edge, sup.end_reason)
        rig.tick(20)  # the key stays in: READY at most, never RUNNING again on its own
        assert sup.state != sv.RUNNING and max(sup.level_ua) == 0 and max(rig.ctl.out_ua) == 0, edge


def test_an_exception_in_a_running_tick_parks_the_outputs_and_latches_fault() -> None:
    """Rule 3: an exception escaping the tick fires the kill path (output-enable idle, stim pins low)
    in that same tick and latches FAULT "internal error"; nothing resumes on its own."""
    rig = _running()
    ctl = rig.ctl
    sup = ctl.sup
    oe = rig.board.outputs.output_enable
    assert rig.chip.level(oe.pin) == oe.active_level  # driving

    def boom(now_ms: int) -> None:
        raise RuntimeError("injected")

    sup.advance = boom  # type: ignore[method-assign]  # the controller's tick calls sup.advance(now)
    rig.tick(1)
    del sup.advance
    assert rig.chip.level(oe.pin) == oe.idle_level
    assert [rig.chip.level(p) for p in rig.board.stim_pins()] == [0] * len(rig.board.stim_pins())
    assert sup.state == sv.FAULT and str(sup.fault).startswith("internal error"), sup.fault
    rig.tick(20)
    assert sup.state == sv.FAULT and max(ctl.out_ua) == 0 and max(sup.level_ua) == 0
