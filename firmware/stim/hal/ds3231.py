"""DS3231 battery-backed real-time clock on I2C (Maxim/Analog Devices datasheet 19-5170).

Registers used: 0x00..0x06 the time in BCD (seconds, minutes, hours in 24-hour
mode, day of week 1..7, date, month with the century bit 7, year 00..99), 0x0E
control (bit 7 EOSC: 1 stops the oscillator on battery), 0x0F status (bit 7
OSF: the oscillator stopped at some time, e.g. first power or a flat battery,
so the time is not valid; only a write of 0 clears it).

read() gives epoch seconds (UTC), or None when the time is not valid (OSF set,
or registers that are not a date of 2000..2099). set(epoch_s) writes the seven
time registers in one transaction (the chip restarts its one-second countdown
at the seconds write), makes sure the oscillator runs on battery (EOSC 0), then
clears OSF. An I2C failure raises OSError: the caller decides.

Why not a published driver: the maintained MicroPython options found (Peter
Hinch's micropython-samples DS3231/ds3231_gen.py, MIT; Adafruit's
adafruit-circuitpython-ds3231, MIT, for CircuitPython's busio) either ignore
OSF, the one bit the dose guard needs, or need CircuitPython's bus layer; this
is the few lines of the datasheet that PicoStim uses. Never called from the tick.
"""

from machine import I2C, Pin
from micropython import const

from stim import wallclock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

ADDRESS = const(0x68)
_REG_TIME = const(0x00)
_REG_CONTROL = const(0x0E)
_REG_STATUS = const(0x0F)
_OSF = const(0x80)
_EOSC = const(0x80)
_CENTURY = const(0x80)
_H12 = const(0x40)


def _bcd(v: int) -> int:
    return ((v // 10) << 4) | (v % 10)


def _dec(b: int) -> int:
    """A BCD byte's value, or -1 if a nibble is not a decimal digit."""
    hi = b >> 4
    lo = b & 0x0F
    if hi > 9 or lo > 9:
        return -1
    return hi * 10 + lo


class Ds3231:
    def __init__(self, i2c: "Any", address: int = ADDRESS) -> None:
        self.i2c = i2c
        self.address = address
        self._t = bytearray(7)
        self._b = bytearray(1)
        self.why: "Optional[str]" = None  # why the last read() gave None

    def _reg(self, reg: int) -> int:
        self.i2c.readfrom_mem_into(self.address, reg, self._b)
        return int(self._b[0])

    def _put(self, reg: int, value: int) -> None:
        self._b[0] = value
        self.i2c.writeto_mem(self.address, reg, self._b)

    def valid(self) -> bool:
        """The oscillator has run since the time was last set (OSF clear)."""
        return not self._reg(_REG_STATUS) & _OSF

    def read(self) -> "Optional[int]":
        """Epoch seconds (UTC), or None when the time is not valid (self.why says why)."""
        if not self.valid():
            self.why = "clock stopped since it was set (OSF)"
            return None
        t = self._t
        self.i2c.readfrom_mem_into(self.address, _REG_TIME, t)
        if t[2] & _H12:
            self.why = "clock in 12-hour mode"
            return None
        ss = _dec(t[0] & 0x7F)
        mm = _dec(t[1] & 0x7F)
        hh = _dec(t[2] & 0x3F)
        d = _dec(t[4] & 0x3F)
        m = _dec(t[5] & 0x1F)
        y = _dec(t[6])
        if t[5] & _CENTURY or ss < 0 or ss > 59 or mm < 0 or mm > 59 or hh < 0 or hh > 23 or m < 1 or m > 12 \
                or y < 0 or d < 1 or d > wallclock.days_in_month(2000 + y, m):
            self.why = "clock registers hold no valid date"
            return None
        self.why = None
        return wallclock.epoch(2000 + y, m, d, hh, mm, ss)

    def set(self, epoch_s: int) -> None:
        """Set the time to epoch_s (2000..2099, UTC) and mark it valid."""
        if epoch_s < wallclock.EPOCH_2000 or epoch_s >= wallclock.EPOCH_2100:
            raise ValueError("epoch_s: a time in 2000..2099")
        y, m, d, hh, mm, ss, wd = wallclock.fields(epoch_s)
        t = self._t
        t[0] = _bcd(ss)
        t[1] = _bcd(mm)
        t[2] = _bcd(hh)  # bit 6 clear: 24-hour mode
        t[3] = wd
        t[4] = _bcd(d)
        t[5] = _bcd(m)  # century bit clear: 20xx
        t[6] = _bcd(y - 2000)
        self.i2c.writeto_mem(self.address, _REG_TIME, t)
        control = self._reg(_REG_CONTROL)
        if control & _EOSC:
            self._put(_REG_CONTROL, control & ~_EOSC & 0xFF)
        self._put(_REG_STATUS, self._reg(_REG_STATUS) & ~_OSF & 0xFF)


def open_rtc(board: "Any") -> "Optional[Ds3231]":
    """The board file's RTC (None without an `rtc` section). Raises OSError if it does not answer."""
    r = board.rtc
    if r is None:
        return None
    bus = board.i2c[r.bus]
    rtc = Ds3231(I2C(bus.id, scl=Pin(bus.scl), sda=Pin(bus.sda), freq=bus.freq), r.address)
    rtc.valid()  # one read: an absent chip raises OSError here, at boot
    return rtc
