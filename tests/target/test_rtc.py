"""The DS3231 real-time clock: the register-level model (fakehw/ds3231.py), the driver
(stim.hal.ds3231) against it through the model's machine.I2C, and the board file's `rtc` entry.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

import json

from picostim import fakehw
from picostim.fakehw import ds3231 as model
from stim import board as _board
from stim import wallclock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Tuple

    def expect_raises(exc_type: "type[BaseException]", fn: "Callable[..., object]", *args: object,
                      **kwargs: object) -> BaseException: ...
else:
    from _util import expect_raises

BOARDS = __file__.rsplit("/", 1)[0] + "/../../boards/"
S = 1_000_000_000  # ns
T = 1767225600 + 13 * 3600 + 7 * 60 + 9  # 2026-01-01T13:07:09Z, a Thursday


def _stim4_rtc() -> "Dict[str, Any]":
    with open(BOARDS + "stim4.json") as f:
        d: Dict[str, Any] = json.load(f)
    d["rtc"] = {"driver": "ds3231", "bus": "i2c0"}
    return d


def _fresh() -> "Tuple[Any, model.Ds3231, Any]":
    chip = fakehw.install()
    dev = model.attach(chip, 0)
    hal = __import__("stim.hal.ds3231").hal.ds3231  # via __import__: the host type check never reads hal code
    machine = __import__("machine")  # fakehw's, once installed
    return chip, dev, hal.Ds3231(machine.I2C(0, scl=machine.Pin(17), sda=machine.Pin(16), freq=400_000))


# -- the model -----------------------------------------------------------------------------------
def test_a_first_power_up_has_osf_set_and_the_year_2000() -> None:
    m = model.Ds3231()
    assert m.osf
    m.i2c_write(bytes([0x00]))
    assert m.i2c_read(7) == bytes([0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00])
    m.i2c_write(bytes([0x0E]))
    assert m.i2c_read(2) == bytes([0x1C, 0x88])


def test_the_model_keeps_time_with_the_virtual_clock_and_wraps_its_pointer() -> None:
    chip = fakehw.install()
    m = model.attach(chip, 0)
    m.i2c_write(bytes([0x00, 0x58, 0x59, 0x23, 0x04, 0x31, 0x12, 0x26]))  # 2026-12-31 23:59:58
    chip.clock.advance(3 * S)
    m.i2c_write(bytes([0x00]))
    assert m.i2c_read(7) == bytes([0x01, 0x00, 0x00, 0x04, 0x01, 0x01, 0x27])  # 2027-01-01 00:00:01
    m.i2c_write(bytes([0x12]))
    r = m.i2c_read(2)  # temperature LSB, then the pointer wraps to seconds
    assert r[1] == 0x01


def test_status_bits_clear_only_with_a_zero() -> None:
    m = model.Ds3231()
    m.i2c_write(bytes([0x0F, 0xFF]))  # writing 1 to OSF leaves it set
    assert m.osf
    m.i2c_write(bytes([0x0F, 0x08]))
    assert not m.osf and m.regs[0x0F] == 0x08


def test_power_off_on_the_battery_runs_on_and_without_it_stops_and_sets_osf() -> None:
    m = model.Ds3231()
    m.set_epoch(T)
    m.i2c_write(bytes([0x0F, 0x08]))
    m.power_off(4 * 86400)
    assert m.epoch() == T + 4 * 86400 and not m.osf
    m.regs[0x0E] |= 0x80  # EOSC: the oscillator stops on battery
    m.power_off(100)
    assert m.epoch() == T + 4 * 86400 and m.osf
    m.battery = False
    m.regs[0x0E] &= 0x7F
    m.power_off(100)
    assert m.epoch() == T + 4 * 86400


def test_a_time_write_of_a_date_that_does_not_exist_raises() -> None:
    m = model.Ds3231()
    expect_raises(ValueError, m.i2c_write, bytes([0x04, 0x30, 0x02]))  # 30 February
    expect_raises(ValueError, m.i2c_write, bytes([0x02, 0x52]))  # 12-hour mode


# -- the driver on the model ------------------------------------------------------------------------
def test_the_driver_says_the_time_is_not_valid_until_it_is_set() -> None:
    _chip, dev, rtc = _fresh()
    assert rtc.read() is None and "OSF" in rtc.why
    rtc.set(T)
    assert not dev.osf and dev.epoch() == T
    assert rtc.read() == T and rtc.why is None


def test_the_time_runs_and_survives_power_off_on_the_battery() -> None:
    chip, dev, rtc = _fresh()
    rtc.set(T)
    chip.clock.advance(61 * S)
    assert rtc.read() == T + 61
    dev.power_off(5 * 86400)
    assert rtc.read() == T + 61 + 5 * 86400


def test_a_clock_that_stopped_is_not_valid_until_set_again() -> None:
    _chip, dev, rtc = _fresh()
    rtc.set(T)
    dev.battery = False
    dev.power_off(3600)
    assert rtc.read() is None and not rtc.valid()
    rtc.set(T + 7200)
    assert rtc.read() == T + 7200


def test_setting_the_time_starts_an_oscillator_that_was_off_on_battery() -> None:
    _chip, dev, rtc = _fresh()
    dev.regs[0x0E] |= 0x80
    rtc.set(T)
    assert not dev.regs[0x0E] & 0x80
    dev.power_off(60)
    assert rtc.read() == T + 60


def test_registers_with_no_valid_date_read_as_not_valid() -> None:
    _chip, dev, rtc = _fresh()
    rtc.set(T)
    dev.regs[0x0F] = 0x08
    real = dev._time_regs

    def garbage() -> "Any":
        r = real()
        r[5] = 0x13  # month 13
        return r

    dev._time_regs = garbage  # type: ignore[method-assign]
    assert rtc.read() is None and rtc.why == "clock registers hold no valid date"


def test_the_driver_refuses_a_time_the_chip_cannot_keep() -> None:
    _chip, _dev, rtc = _fresh()
    expect_raises(ValueError, rtc.set, wallclock.EPOCH_2100)
    expect_raises(ValueError, rtc.set, wallclock.EPOCH_2000 - 1)


def test_leap_days_and_year_ends_round_trip_through_the_chip() -> None:
    chip, _dev, rtc = _fresh()
    for y, m, d in ((2000, 2, 29), (2024, 2, 29), (2099, 12, 31), (2026, 3, 1), (2100 - 1, 1, 1)):
        e = wallclock.epoch(y, m, d, 23, 59, 59)
        rtc.set(e)
        assert rtc.read() == e, (y, m, d)
        if e + 1 < wallclock.EPOCH_2100:
            chip.clock.advance(S)
            assert rtc.read() == e + 1, (y, m, d)


def test_open_rtc_from_the_board_file() -> None:
    fakehw.install()
    hal = __import__("stim.hal.ds3231").hal.ds3231
    assert hal.open_rtc(_board.validate(json.load(open(BOARDS + "stim4.json")))) is None
    b = _board.validate(_stim4_rtc())
    expect_raises(OSError, hal.open_rtc, b)  # no chip on the bus: it does not answer
    chip = fakehw.install()
    model.attach(chip, 0)
    rtc = hal.open_rtc(b)
    assert rtc is not None and rtc.read() is None


# -- the board file ------------------------------------------------------------------------------------
def test_the_board_files_rtc_entry() -> None:
    b = _board.validate(_stim4_rtc())
    assert b.rtc is not None and (b.rtc.driver, b.rtc.bus, b.rtc.address) == ("ds3231", "i2c0", 0x68)
    for change, path in (
        ({"driver": "ds1307", "bus": "i2c0"}, "rtc.driver"),
        ({"driver": "ds3231", "bus": "i2c1"}, "rtc.bus"),
        ({"driver": "ds3231", "bus": "i2c0", "address": 0x57}, "rtc.address"),
        ({"driver": "ds3231"}, "rtc.bus"),
        ({"driver": "ds3231", "bus": "i2c0", "alarm": 1}, "rtc.alarm"),
    ):
        d = _stim4_rtc()
        d["rtc"] = change
        e = expect_raises(_board.BoardError, _board.validate, d)
        assert str(e).startswith(path + ":"), (change, str(e))


def test_wallclock_fields_and_weekday() -> None:
    assert wallclock.fields(T) == (2026, 1, 1, 13, 7, 9, 4)  # Thursday
    assert wallclock.fields(wallclock.EPOCH_2000) == (2000, 1, 1, 0, 0, 0, 6)
    e = wallclock.EPOCH_2000
    while e < wallclock.EPOCH_2100:  # every 97 days for a century, and back
        y, m, d, hh, mm, ss, _wd = wallclock.fields(e)
        assert wallclock.epoch(y, m, d, hh, mm, ss) == e
        e += 97 * 86400 + 3601
