"""The calendar arithmetic of the firmware (stim.wallclock) and of the DS3231 model agree with CPython's datetime.

Two independent ways (the firmware's days-from-civil, the model's counting from 2000) and the
standard library's: for any second of 2000..2099 all three give the same date and time.
"""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from picostim.fakehw import ds3231 as model
from stim import wallclock

SECONDS = st.integers(wallclock.EPOCH_2000, wallclock.EPOCH_2100 - 1)


@given(SECONDS)
def test_the_firmware_calendar_is_the_standard_librarys(e: int) -> None:
    t = datetime.fromtimestamp(e, UTC)
    assert wallclock.fields(e) == (t.year, t.month, t.day, t.hour, t.minute, t.second, t.isoweekday())
    assert wallclock.epoch(t.year, t.month, t.day, t.hour, t.minute, t.second) == e
    assert wallclock.days_in_month(t.year, t.month) >= t.day


@given(SECONDS)
def test_the_models_registers_are_the_standard_librarys(e: int) -> None:
    m = model.Ds3231()
    m.set_epoch(e)
    t = datetime.fromtimestamp(e, UTC)
    regs = m._time_regs()
    bcd = [int("%x" % r) for r in regs]
    assert (bcd[6] + 2000, bcd[5], bcd[4], bcd[2], bcd[1], bcd[0]) == (t.year, t.month, t.day, t.hour, t.minute,
                                                                        t.second)
