"""DS3231 real-time clock (Maxim/Analog Devices 19-5170) as a device on the model's I2C bus.

Attach it with `attach(chip, bus_id)`; machine.I2C hands it every write
(`i2c_write`) and read (`i2c_read`).

Registers 0x00..0x12 behind one register pointer: a write transaction's first
byte sets the pointer, the bytes after it are written from there on; a read
returns bytes from the pointer on. The pointer increments after each byte and
wraps from 0x12 to 0x00. The modelled registers:

- 0x00..0x06 the time, BCD: seconds, minutes, hours (bit 6 set: 12-hour mode,
  not modelled: a write of it raises), day of week 1..7 (kept as written),
  date, month (bit 7: century), year 00..99. The time runs with the chip's
  virtual clock. As in the chip, a read transaction sees the time of its START
  (the user buffer), and a write of the seconds register restarts the one-
  second countdown. A time write is taken when its transaction ends; a date
  that does not exist raises (the chip would keep nonsense; the firmware must
  never write one).
- 0x0E control: power-on 0x1C; bit 7 EOSC (1: the oscillator stops while on
  battery).
- 0x0F status: bit 7 OSF, power-on 1 (the oscillator stopped, the time is not
  valid) and only cleared by writing 0; bit 3 EN32kHz, power-on 1.
- the others (alarms, aging, temperature) are plain storage.

The bench side: `power_off(seconds)` lets time pass with the board off: on a
battery with EOSC 0 the clock runs on; without a battery (`battery = False`)
or with EOSC 1 it stops, OSF is set and the time stays where it stopped.
`epoch()` is the time the chip keeps, `set_epoch()` sets it from outside.

Runs unchanged on CPython and on the MicroPython unix port.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from .clock import Clock

ADDRESS = 0x68
NREGS = 0x13
EPOCH_2000 = 946684800
_NS = 1_000_000_000


def _days_from_civil(y: int, m: int, d: int) -> int:
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil(days: int) -> "Tuple[int, int, int]":
    """(y, m, d) by counting from 2000-01-01: a second, independent way from the firmware's."""
    y = 2000
    days -= _days_from_civil(2000, 1, 1)
    while True:
        n = 366 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 365
        if days < n:
            break
        days -= n
        y += 1
    m = 1
    while True:
        n = (31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31,
             30, 31)[m - 1]
        if days < n:
            break
        days -= n
        m += 1
    return y, m, days + 1


def _bcd(v: int) -> int:
    return ((v // 10) << 4) | (v % 10)


def _dec(b: int) -> int:
    return (b >> 4) * 10 + (b & 0x0F)


class Ds3231:
    def __init__(self, clock: "Optional[Clock]" = None, address: int = ADDRESS) -> None:
        self.clock = clock
        self.address = address
        self.regs = bytearray(NREGS)
        self.regs[0x0E] = 0x1C
        self.regs[0x0F] = 0x88  # OSF and EN32kHz: a first power-up
        self.pointer = 0
        self.battery = True
        self.writes = 0
        self._base_s = EPOCH_2000  # the time at _base_ns
        self._base_ns = self._now_ns()
        self._running = True
        self.regs[3] = 6  # 2000-01-01 was a Saturday (1 = Monday)

    def _now_ns(self) -> int:
        return self.clock.now_ns() if self.clock is not None else 0

    # -- the time ----------------------------------------------------------------------------
    def epoch(self) -> int:
        """The time the chip keeps, epoch seconds."""
        if not self._running:
            return self._base_s
        return self._base_s + (self._now_ns() - self._base_ns) // _NS

    def set_epoch(self, epoch_s: int) -> None:
        """Set the time from outside (a bench or test), as if written; OSF is left as it is."""
        self._base_s = epoch_s
        self._base_ns = self._now_ns()

    @property
    def osf(self) -> bool:
        return bool(self.regs[0x0F] & 0x80)

    def power_off(self, seconds: int) -> None:
        """The board is off for `seconds`: the chip runs on its battery, or stops."""
        if self.battery and not self.regs[0x0E] & 0x80:
            self._base_s = self.epoch() + seconds
            self._base_ns = self._now_ns()
            return
        self._base_s = self.epoch()
        self._base_ns = self._now_ns()
        self.regs[0x0F] |= 0x80  # the oscillator stopped

    def _time_regs(self) -> "List[int]":
        e = self.epoch()
        days = e // 86400
        s = e - days * 86400
        y, m, d = _civil(days)
        if not 2000 <= y <= 2099:
            raise ValueError("fakehw.ds3231: the model keeps 2000..2099 only")
        return [_bcd(s % 60), _bcd(s // 60 % 60), _bcd(s // 3600), self.regs[3], _bcd(d), _bcd(m), _bcd(y - 2000)]

    def _take_time(self, regs: "List[int]", seconds_written: bool) -> None:
        if regs[2] & 0x40:
            raise ValueError("fakehw.ds3231: 12-hour mode is not modelled")
        ss, mm, hh = _dec(regs[0] & 0x7F), _dec(regs[1] & 0x7F), _dec(regs[2] & 0x3F)
        d, m, y = _dec(regs[4] & 0x3F), _dec(regs[5] & 0x1F), 2000 + _dec(regs[6])
        if regs[5] & 0x80:
            raise ValueError("fakehw.ds3231: century bit set: 21xx is not modelled")
        ok = 0 <= ss <= 59 and 0 <= mm <= 59 and 0 <= hh <= 23 and 1 <= m <= 12 and 1 <= d
        if ok:
            y2, m2, _d2 = _civil(_days_from_civil(y, m, d))
            ok = (y2, m2) == (y, m)  # the day exists in that month
        if not ok:
            raise ValueError("fakehw.ds3231: time registers written with no valid date: " + repr(regs))
        frac = 0 if seconds_written else (self._now_ns() - self._base_ns) % _NS
        self._base_s = _days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss
        self._base_ns = self._now_ns() - frac
        self.regs[3] = regs[3]

    # -- I2C ---------------------------------------------------------------------------------
    def i2c_write(self, data: bytes) -> None:
        self.writes += 1
        if not data:
            return  # an address probe
        self.pointer = data[0] % NREGS
        if len(data) == 1:
            return
        time = self._time_regs()
        touched = False
        seconds = False
        for b in data[1:]:
            p = self.pointer
            if p <= 6:
                time[p] = b
                touched = True
                seconds = seconds or p == 0
            elif p == 0x0F:
                # OSF (bit 7) and the alarm flags (bits 1..0): a 0 clears, a 1 leaves them; EN32kHz (bit 3)
                # is written; BSY (bit 2) is read-only
                old = self.regs[p]
                self.regs[p] = (old & b & 0x83) | (b & 0x08) | (old & 0x04)
            else:
                self.regs[p] = b
            self.pointer = (p + 1) % NREGS
        if touched:
            self._take_time(time, seconds)

    def i2c_read(self, n: int) -> bytes:
        time = self._time_regs()  # the user buffer, as of this START
        out = bytearray()
        for _ in range(n):
            p = self.pointer
            out.append(time[p] if p <= 6 else self.regs[p])
            self.pointer = (p + 1) % NREGS
        return bytes(out)


def attach(chip: "Any", bus_id: int = 0, address: int = ADDRESS) -> Ds3231:
    """Put a fresh DS3231 (first power: OSF set, time 2000-01-01) on chip's I2C bus; return it."""
    dev = Ds3231(chip.clock, address)
    chip.i2c_devices[(bus_id, address)] = dev
    return dev
