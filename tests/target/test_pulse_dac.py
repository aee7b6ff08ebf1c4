"""Amplitude drivers (stim.hal.dac) and the MCP4728 model (fakehw/mcp4728.py).

Runs under pytest and under the MicroPython VM (tests/target/run.py), where
set_code() and zero_all() are proved allocation-free under heap_lock.
"""

import json
import sys
from array import array

from picostim import fakehw
from picostim.fakehw.mcp4728 import Mcp4728, attach
from picostim.fakehw.probe import pulses
from stim import board as _board

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Tuple

    from picostim.fakehw.chip import Chip

    def expect_raises(exc_type: "type[BaseException]", fn: "Callable[..., object]", *args: object,
                      **kwargs: object) -> BaseException: ...
    def heap_locked(fn: "Callable[[], object]") -> bool: ...
else:
    from _util import expect_raises, heap_locked

BOARDS = __file__.rsplit("/", 1)[0] + "/../../boards/"
PWM_CC0 = 0x4005000C


def _stim4() -> "Dict[str, Any]":
    with open(BOARDS + "stim4.json") as f:
        d: Dict[str, Any] = json.load(f)
    return d


def _mcp_board() -> "_board.Board":
    d = _stim4()
    d["amplitude"] = {"driver": "mcp4728", "bus": "i2c0", "address": 0x60, "code_max": 4095, "ma_per_code": 0.03}
    return _board.validate(d)


def _fresh() -> "Tuple[Chip, Any]":
    chip = fakehw.install()
    stim = __import__("stim.hal.dac")  # via __import__: the host type check never reads hal code
    return chip, stim.hal.dac


# -- the MCP4728 model ----------------------------------------------------------------------
def test_mcp4728_fast_write_sets_four_codes_and_power_down_bits() -> None:
    m = Mcp4728()
    m.i2c_write(bytes([0x01, 0x23, 0x0F, 0xFF, 0x20, 0x00, 0x38, 0x00]))
    assert m.codes == (0x123, 0xFFF, 0x000, 0x800)
    assert m.pd == (0, 0, 2, 3)
    assert m.vout(0, 5.0) == 5.0 * 0x123 / 4096 and m.vout(2) == 0.0


def test_mcp4728_multi_write_with_udac_and_ldac() -> None:
    m = Mcp4728()
    # Channel C: VREF internal, gain x2, code 0x456, UDAC = 0 -> output at once.
    m.i2c_write(bytes([0x40 | (2 << 1), 0x80 | 0x10 | 0x04, 0x56]))
    assert m.codes == (0, 0, 0x456, 0) and m.vref == (0, 0, 1, 0) and m.gain == (0, 0, 1, 0)
    assert abs(m.vout(2) - 2.048 * 0x456 / 4096 * 2) < 1e-9
    # UDAC = 1 with LDAC high: the input register changes, the output waits for LDAC low.
    m.set_ldac(1)
    m.i2c_write(bytes([0x40 | (1 << 1) | 1, 0x07, 0x89]))
    waiting = m.codes
    m.set_ldac(0)
    assert waiting[1] == 0 and m.codes == (0, 0x789, 0x456, 0)
    # Sequential write from B: B, C, D, also into EEPROM; read back 24 bytes.
    m.i2c_write(bytes([0x50 | (1 << 1), 0x01, 0x11, 0x02, 0x22, 0x03, 0x33]))
    assert m.codes == (0, 0x111, 0x222, 0x333)
    r = m.i2c_read(24)
    assert len(r) == 24
    assert (r[6 * 1 + 1] & 0x0F, r[6 * 1 + 2]) == (0x01, 0x11)  # B's register
    assert (r[6 * 3 + 4] & 0x0F, r[6 * 3 + 5]) == (0x03, 0x33)  # D's EEPROM
    expect_raises(ValueError, m.i2c_write, bytes([0x60, 0x00]))  # Write I2C Address: not modelled


# -- Mcp4728Dac -------------------------------------------------------------------------------
def test_mcp4728_dac_sets_each_channel_on_its_output() -> None:
    chip, dac = _fresh()
    dev = attach(chip, 0, 0x60)
    brd = _mcp_board()
    drv = dac.make(brd)
    assert type(drv).__name__ == "Mcp4728Dac"
    assert dev.codes == (0, 0, 0, 0) and dev.vref == (0, 0, 0, 0) and dev.gain == (0, 0, 0, 0)
    drv.set_code(0, 1234)
    drv.set_code(3, 5000)  # clamps at code_max
    drv.set_code(2, -3)
    assert dev.codes == (1234, 0, 0, 4095)
    drv.zero_all()
    assert dev.codes == (0, 0, 0, 0)
    del chip.i2c_devices[(0, 0x60)]
    expect_raises(OSError, drv.set_code, 0, 1)  # no ACK: the caller decides (the kill path catches)


# -- PwmDac -----------------------------------------------------------------------------------
def test_pwm_dac_compare_level_is_the_code_exactly() -> None:
    chip, dac = _fresh()
    brd = _board.validate(_stim4())
    drv = dac.make(brd)
    assert type(drv).__name__ == "PwmDac"
    pin = brd.amplitude.pins[brd.channels[1].amp]
    s = _board.pwm_slice(pin)
    half = 16 * _board.pwm_channel(pin)
    step = 1 if sys.implementation.name != "micropython" else 13
    codes = list(range(0, 4096, step))
    codes.append(4095)
    for code in codes:
        drv.set_code(1, code)
        assert (chip.mem_read(PWM_CC0 + 0x14 * s) >> half) & 0xFFFF == code, code
    # And on the pin: 1000 counts of 8 ns high per 30 kHz period.
    drv.set_code(1, 1000)
    t = chip.clock.now_ns() + 100_000
    chip.clock.advance_to(t + 200_000)
    assert {f - r for r, f in pulses(chip.edges(pin, t, t + 200_000))} == {8000}
    drv.zero_all()
    chip.clock.advance(100_000)
    assert chip.level(pin) == 0


def test_after_the_kill_path_the_commit_reselects_pwm_on_the_dac_pads_only_with_a_code() -> None:
    chip, _ = _fresh()
    outputs = __import__("stim.hal.outputs").hal.outputs
    brd = _board.validate(_stim4())
    outs = outputs.ChannelOutputs(brd)
    outs.configure(__import__("stim.programs").programs.builtins(4)[0])
    kills = array("I", [3])
    pin = brd.amplitude.pins[0]
    chip.gpio_set_function(pin, 5)  # the kill path: SIO, low
    outs.forget_running()
    outs.set_ua(0, 0)
    assert outs.commit(kills, 3)
    assert chip.gpio[pin].funcsel == 5  # no code written: the pad stays parked
    outs.set_ua(0, 5000)
    assert chip.gpio[pin].funcsel == 5  # the code is written, the pad waits for the commit
    assert outs.commit(kills, 3)
    assert chip.gpio[pin].funcsel == 4


def test_a_commit_after_a_kill_changes_nothing() -> None:
    """The kill path fired after the tick read its inputs (kills moved on): nothing goes live."""
    chip, _ = _fresh()
    outputs = __import__("stim.hal.outputs").hal.outputs
    brd = _board.validate(_stim4())
    outs = outputs.ChannelOutputs(brd)
    outs.configure(__import__("stim.programs").programs.builtins(4)[0])
    kills = array("I", [4])
    pads = [brd.amplitude.pins[0], brd.channels[0].pulse_a, brd.channels[0].pulse_b]
    oe = brd.outputs.output_enable
    pin_cls = __import__("machine").Pin
    pin_cls(oe.pin, pin_cls.OUT, value=1 - oe.active_level)  # as stim.hal.rp2040.Hardware makes it
    chip.gpio_set_function(pads[0], 5)  # the kill path parked the DAC pad
    outs.forget_running()
    outs.set_ua(0, 5000)
    assert not outs.commit(kills, 3)
    assert [chip.gpio[p].funcsel for p in pads] == [5, 5, 5]
    assert chip.gpio_get(oe.pin) != oe.active_level
    assert outs.commit(kills, 4)  # the next tick, with the kill seen, may go live
    assert [chip.gpio[p].funcsel for p in pads] == [4, 6, 6]  # the DAC pad PWM, the stim pads PIO0
    assert chip.gpio_get(oe.pin) == oe.active_level


def test_set_levels_skips_a_call_that_changes_nothing_and_rearms_after_a_kill() -> None:
    """ChannelOutputs.set_levels() returns at once when its last call changed nothing and the levels
    and scale are the same; after the kill path (forget_running) the same levels prepare and go live
    again, and a channel whose level moved is set."""
    chip, _ = _fresh()
    outputs = __import__("stim.hal.outputs").hal.outputs
    brd = _board.validate(_stim4())
    outs = outputs.ChannelOutputs(brd)
    outs.configure(__import__("stim.programs").programs.builtins(4)[0])
    kills = array("I", [0])
    calls: "list[int]" = []
    real = outs.set_ua

    def counted(ch: int, ua: int) -> None:
        calls.append(ch)
        real(ch, ua)

    outs.set_ua = counted
    levels = [5000, 0, 7000, 0]
    out = [0] * 4
    assert outs.set_levels(levels, 1000, out) and out == [5000, 0, 7000, 0]
    assert calls == [0, 2] and outs.commit(kills, 0)
    assert outs.set_levels(levels, 1000, out)  # all as last time, and live: the loop runs, no set_ua
    assert calls == [0, 2]
    out[:] = [-1] * 4
    assert outs.set_levels(levels, 1000, out) and out == [-1] * 4  # the quick return: out untouched
    assert outs.set_levels(levels, 500, out) and out == [2500, 0, 3500, 0] and calls == [0, 2, 0, 2]
    assert outs.commit(kills, 0)
    a = brd.channels[0].pulse_a
    chip.gpio_set_function(a, 5)  # the kill path parks the pads...
    outs.forget_running()  # ...and the tick that sees it forgets every train
    ticks = 0
    while chip.gpio[a].funcsel != 6 and ticks < 10:  # a halted train may take a tick to finish
        n = len(calls)
        assert outs.set_levels(levels, 500, out)
        assert calls[n:] == [0, 2]  # set again, every tick until it is live: never the quick return
        assert outs.commit(kills, 0)
        chip.clock.advance(10_000_000)
        ticks += 1
    assert chip.gpio[a].funcsel == 6 and 0 < ticks < 10  # live again: PIO on the pad
    n = len(calls)
    levels[1] = 3000
    outs.set_levels(levels, 500, out)
    assert calls[n:] == [1] and out == [2500, 1500, 3500, 0]  # only the moved channel is set


def test_set_code_and_zero_all_allocate_nothing_under_heap_lock() -> None:
    chip, dac = _fresh()
    attach(chip, 0, 0x60)
    drivers = (dac.make(_mcp_board()), dac.make(_board.validate(_stim4())))
    on_mpy = sys.implementation.name == "micropython"
    for drv in drivers:
        assert heap_locked(lambda: drv.set_code(0, 4000)) or not on_mpy  # noqa: B023 - called at once
        assert heap_locked(lambda: drv.set_code(3, 17)) or not on_mpy  # noqa: B023
        assert heap_locked(drv.zero_all) or not on_mpy
    assert chip.i2c_devices[(0, 0x60)].codes == (0, 0, 0, 0)


def test_lowest_nonzero_setting_is_at_most_2_percent_on_every_board() -> None:
    from stim import pulse

    for name in ("stim4.json", "pico_bench.json"):
        brd = _board.load(BOARDS + name)
        npc = pulse.na_per_code(brd.amplitude.ma_per_code)
        for ch in brd.channels:
            max_ua = pulse.ma_to_ua(ch.max_ma)
            pulse.check_resolution(max_ua, npc)  # raises if one code is over 2 % or over 0.5 mA
            assert 0 < pulse.code_to_ua(1, npc) * 50 <= max_ua
