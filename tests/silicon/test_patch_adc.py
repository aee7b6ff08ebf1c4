"""patches/adc.mjs: the world sets ADC input levels; machine.ADC reads them, across resets."""

import pytest
from picostim.silicon.chip import Silicon, SiliconError
from picostim.silicon.repl import RawRepl


def u16(code: int) -> int:
    """MicroPython rp2's read_u16(): the 12-bit result scaled to 16 bits (raw << 4 | raw >> 8)."""
    return code << 4 | code >> 8


def test_read_u16_reads_the_level_the_host_sets(chip: Silicon, repl: RawRepl) -> None:
    repl.exec("from machine import ADC, Pin\na=[ADC(26), ADC(Pin(27)), ADC(28)]")
    for codes in ((0, 0, 0), (4095, 2048, 1), (1234, 4000, 77)):
        for ch, code in enumerate(codes):
            chip.set_adc(ch, code)
        got = repl.exec("print([x.read_u16() for x in a])").strip()
        assert got == str([u16(c) for c in codes])
    assert u16(4095) == 65535 and u16(2048) == 32776


def test_temperature_sensor_reads_27_degrees(repl: RawRepl) -> None:
    t = float(repl.exec("v=ADC(4).read_u16()*3.3/65535\nprint(27-(v-0.706)/0.001721)"))
    assert 25.0 < t < 29.0


def test_out_of_range_is_refused(chip: Silicon) -> None:
    with pytest.raises(SiliconError):
        chip.set_adc(0, 4096)
    with pytest.raises(SiliconError):
        chip.set_adc(5, 0)


def test_levels_survive_a_reset(chip: Silicon, repl: RawRepl) -> None:
    chip.set_adc(0, 3000)
    resets = len(chip.stats()["resets"])
    chip.write(b"import machine\nmachine.reset()\x04")
    chip.run_for(1_700_000_000)
    assert len(chip.stats()["resets"]) == resets + 1
    repl.enter()
    assert repl.exec("from machine import ADC\nprint(ADC(26).read_u16())").strip() == str(u16(3000))
