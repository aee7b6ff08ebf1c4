"""GPIO pads, pulls, levels driven by the world, and edge IRQs on the model.

Runs under pytest and under the MicroPython VM (tests/target/run.py), where a
hard IRQ handler runs inside micropython.heap_lock().
"""

import sys

from _util import expect_raises
from picostim import fakehw

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _machine() -> "Any":
    """Install a fresh chip; return the `machine` stand-in, as firmware imports it."""
    fakehw.install()
    import machine  # type: ignore[import-not-found]

    return machine


def test_reset_state_is_input_with_pull_down() -> None:
    machine = _machine()
    chip = fakehw.current()
    for n in (0, 15, 29):
        assert chip.gpio[n].funcsel == 31  # NULL
        assert chip.level(n) == 0
    assert machine.Pin(3).value() == 0


def test_pull_up_and_pull_down_decide_an_open_pin() -> None:
    machine = _machine()
    p = machine.Pin(14, machine.Pin.IN, machine.Pin.PULL_UP)
    assert p.value() == 1
    p.init(machine.Pin.IN, machine.Pin.PULL_DOWN)
    assert p.value() == 0
    # As the C port: init() without pull clears the pulls.
    p.init(machine.Pin.IN)
    c = fakehw.current()
    assert not c.gpio[14].pull_up and not c.gpio[14].pull_down


def test_world_drives_inputs_and_open_means_pull() -> None:
    machine = _machine()
    chip = fakehw.current()
    p = machine.Pin(5, machine.Pin.IN, machine.Pin.PULL_UP)
    chip.drive(5, 0)  # switch closed to ground
    assert p.value() == 0
    chip.drive(5, None)  # wire broken
    assert p.value() == 1


def test_output_levels_and_edge_history() -> None:
    machine = _machine()
    chip = fakehw.current()
    p = machine.Pin(7, machine.Pin.OUT, value=0)
    t0 = chip.clock.now_ns()
    chip.clock.advance(1_000_000)
    p.value(1)
    t_rise = chip.clock.now_ns()
    chip.clock.advance(500_000)
    p.toggle()
    t_fall = chip.clock.now_ns()
    edges = chip.edges(7, t0, t_fall + 1)
    assert edges == [(t_rise, 1), (t_fall, 0)]
    assert chip.level(7, t_rise - 1) == 0
    assert chip.level(7, t_rise) == 1
    assert chip.level(7, t_fall) == 0


def test_open_drain_only_pulls_low() -> None:
    machine = _machine()
    chip = fakehw.current()
    p = machine.Pin(9, machine.Pin.OPEN_DRAIN, machine.Pin.PULL_UP, value=1)
    assert chip.level(9) == 1  # released: the pull-up wins
    p.value(0)
    assert chip.level(9) == 0
    p.value(1)
    assert chip.level(9) == 1


def test_invalid_pin_raises() -> None:
    machine = _machine()
    e = expect_raises(ValueError, machine.Pin, 30)
    assert "invalid pin" in str(e)


def test_edge_irq_delivered_to_handler_with_trigger_filter() -> None:
    machine = _machine()
    chip = fakehw.current()
    seen = []
    p = machine.Pin(15, machine.Pin.IN, machine.Pin.PULL_UP)
    p.irq(lambda pin: seen.append(pin.value()), machine.Pin.IRQ_RISING)
    chip.drive(15, 0)  # falling: not subscribed
    assert seen == []
    chip.drive(15, None)  # rising back to the pull-up
    assert seen == [1]
    p.irq(None)
    chip.drive(15, 0)
    chip.drive(15, None)
    assert seen == [1]


def test_hard_irq_runs_under_heap_lock_on_micropython() -> None:
    machine = _machine()
    chip = fakehw.current()
    outcome: list[object] = []

    def allocating_handler(pin: object) -> None:
        try:
            outcome.append([1, 2, 3])  # allocates a list
        except MemoryError:
            outcome.append("MemoryError")

    p = machine.Pin(16, machine.Pin.IN, machine.Pin.PULL_UP)
    p.irq(allocating_handler, machine.Pin.IRQ_FALLING, hard=True)
    chip.drive(16, 0)
    if sys.implementation.name == "micropython":
        assert outcome == ["MemoryError"]  # allocation is refused inside a hard IRQ
    else:
        assert len(outcome) == 1  # CPython cannot lock its heap; the proof is on MicroPython


def test_hard_irq_may_call_the_hardware_api_without_allocating() -> None:
    # Pin.value() in the model does its bookkeeping outside the firmware's lock,
    # so a kill path that only touches pins passes the heap_lock proof.
    machine = _machine()
    chip = fakehw.current()
    out = machine.Pin(2, machine.Pin.OUT, value=1)
    p = machine.Pin(17, machine.Pin.IN, machine.Pin.PULL_UP)

    def kill(pin: object) -> None:
        out.value(0)

    p.irq(kill, machine.Pin.IRQ_FALLING, hard=True)
    chip.drive(17, 0)
    assert chip.level(2) == 0
    assert chip.irq_errors == []


def test_uncaught_exception_in_irq_disables_that_irq() -> None:
    machine = _machine()
    chip = fakehw.current()
    calls = []

    def bad(pin: object) -> None:
        calls.append(1)
        raise ValueError("boom")

    p = machine.Pin(18, machine.Pin.IN, machine.Pin.PULL_UP)
    p.irq(bad, machine.Pin.IRQ_FALLING)
    chip.drive(18, 0)
    chip.drive(18, None)
    chip.drive(18, 0)
    assert calls == [1]  # disabled for good after the first exception, as mpirq.c does
    assert len(chip.irq_errors) == 1


def test_disable_irq_defers_edges_until_enable() -> None:
    machine = _machine()
    chip = fakehw.current()
    seen = []
    p = machine.Pin(19, machine.Pin.IN, machine.Pin.PULL_UP)
    p.irq(lambda pin: seen.append(1), machine.Pin.IRQ_FALLING)
    state = machine.disable_irq()
    chip.drive(19, 0)
    assert seen == []
    machine.enable_irq(state)
    assert seen == [1]


def test_mem32_sio_set_and_clear_drive_pins() -> None:
    machine = _machine()
    chip = fakehw.current()
    machine.Pin(4, machine.Pin.OUT, value=0)
    machine.Pin(6, machine.Pin.OUT, value=0)
    machine.mem32[0xD0000014] = (1 << 4) | (1 << 6)  # GPIO_OUT_SET
    assert chip.level(4) == 1 and chip.level(6) == 1
    machine.mem32[0xD0000018] = 1 << 4  # GPIO_OUT_CLR
    assert chip.level(4) == 0 and chip.level(6) == 1
    assert machine.mem32[0xD0000010] & (1 << 6)
    # IO_BANK0 GPIO6_CTRL FUNCSEL: move the pad to PWM and back to SIO.
    machine.mem32[0x40014000 + 8 * 6 + 4] = 4
    assert chip.gpio[6].funcsel == 4
    machine.mem32[0x40014000 + 8 * 6 + 4] = 5
    assert chip.level(6) == 1
    e = expect_raises(ValueError, machine.mem32.__getitem__, 0x20000000)
    assert "no modelled register" in str(e)


def test_adc_scales_12_bits_to_16_as_the_port_does() -> None:
    machine = _machine()
    chip = fakehw.current()
    adc = machine.ADC(machine.Pin(26))
    chip.adc_volts[26] = 3.3
    assert adc.read_u16() == 65535
    chip.adc_volts[26] = 0.0
    assert adc.read_u16() == 0
    chip.adc_volts[26] = 1.65
    raw = int(1.65 / 3.3 * 4095 + 0.5)
    assert adc.read_u16() == (raw << 4) | (raw >> 8)
    e = expect_raises(ValueError, machine.ADC, machine.Pin(5))
    assert "ADC" in str(e)


def test_i2c_without_device_is_an_oserror() -> None:
    machine = _machine()
    i2c = machine.I2C(0, scl=machine.Pin(5), sda=machine.Pin(4))
    assert i2c.scan() == []
    expect_raises(OSError, i2c.writeto, 0x3C, b"\x00")
