"""`machine` stand-in for the RP2040 model, with MicroPython rp2's API and errors.

Installed as sys.modules['machine'] by picostim.fakehw.install(). Every object
here keeps its state in the current Chip (chip.py), as the C port keeps it in
the silicon, so a Pin made before a reset no longer means anything after it.
Methods take no *args/**kwargs: under MicroPython those allocate, and firmware
calls some of these from hard IRQ handlers under heap_lock.
"""

from . import chip as _chip
from .chip import FUNC_I2C, FUNC_SIO, PWRON_RESET, WDT_RESET, WDT_TIMEOUT_MAX_MS, enter, leave
from .clock import NS_PER_CYCLE as _NS_PER_CYCLE
from .clock import SYS_HZ as _SYS_HZ
from .pwm import PWM

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["ADC", "I2C", "PWM", "PWRON_RESET", "WDT", "WDT_RESET", "Pin", "Timer", "mem32"]


class _Unset:
    pass


_UNSET: "Any" = _Unset()
_EIO = 5
_I2C_BITS_PER_BYTE = 9  # 8 data bits and the ACK
_I2C_START_STOP_BITS = 2  # START and STOP, about one SCL period each


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8
    ALT_SPI = 1
    ALT_UART = 2
    ALT_I2C = 3
    ALT_PWM = 4
    ALT_SIO = 5
    ALT_PIO0 = 6
    ALT_PIO1 = 7

    def __init__(
        self, id: "Any", mode: "Any" = _UNSET, pull: "Any" = _UNSET, value: "Any" = None, alt: int = FUNC_SIO
    ) -> None:
        self._id = _chip.pin_number(id)
        if mode is not _UNSET or pull is not _UNSET or value is not None or alt != FUNC_SIO:
            self.init(None if mode is _UNSET else mode, None if pull is _UNSET else pull, value, alt)

    def __repr__(self) -> str:
        return "Pin(GPIO" + str(self._id) + ")"

    def init(self, mode: "Any" = None, pull: "Any" = None, value: "Any" = None, alt: int = FUNC_SIO) -> None:
        t = enter()
        try:
            c = _chip.current()
            n = self._id
            bit = 1 << n
            if mode is not None:
                if mode == Pin.IN:
                    c.open_drain &= ~bit
                    c.sio_write(c.sio_out, c.sio_oe & ~bit)
                    c.gpio_set_function(n, FUNC_SIO)
                elif mode == Pin.OUT:
                    c.open_drain &= ~bit
                    out = c.sio_out
                    if value is not None:
                        out = (out | bit) if value else (out & ~bit)
                    c.sio_write(out, c.sio_oe | bit)
                    c.gpio_set_function(n, FUNC_SIO)
                elif mode == Pin.OPEN_DRAIN:
                    v = 1 if value is None else (1 if value else 0)
                    c.open_drain |= bit
                    c.sio_write(c.sio_out & ~bit, (c.sio_oe & ~bit) if v else (c.sio_oe | bit))
                    c.gpio_set_function(n, FUNC_SIO)
                else:
                    if alt < 1 or alt > 9:
                        raise ValueError("invalid pin af: " + str(alt))
                    c.open_drain &= ~bit
                    c.gpio_set_function(n, alt)
            # As the C port: pull is configured unconditionally, None meaning none.
            p = 0 if pull is None else int(pull)
            c.gpio_set_pulls(n, bool(p & Pin.PULL_UP), bool(p & Pin.PULL_DOWN))
        finally:
            leave(t)

    def value(self, v: "Any" = _UNSET) -> "Any":
        t = enter()
        try:
            c = _chip.current()
            n = self._id
            if v is _UNSET:
                return c.gpio_get(n)
            bit = 1 << n
            if c.open_drain & bit:
                c.sio_write(c.sio_out, (c.sio_oe & ~bit) if v else (c.sio_oe | bit))
            elif v:
                c.sio_write(c.sio_out | bit, c.sio_oe)
            else:
                c.sio_write(c.sio_out & ~bit, c.sio_oe)
            return None
        finally:
            leave(t)

    def __call__(self, v: "Any" = _UNSET) -> "Any":
        return self.value(v)

    def on(self) -> None:
        self.value(1)

    def off(self) -> None:
        self.value(0)

    def high(self) -> None:
        self.value(1)

    def low(self) -> None:
        self.value(0)

    def toggle(self) -> None:
        t = enter()
        try:
            c = _chip.current()
            bit = 1 << self._id
            if c.open_drain & bit:
                c.sio_write(c.sio_out, c.sio_oe ^ bit)
            else:
                c.sio_write(c.sio_out ^ bit, c.sio_oe)
        finally:
            leave(t)

    def irq(self, handler: "Any" = _UNSET, trigger: int = 12, hard: bool = False) -> "Pin":
        t = enter()
        try:
            if handler is not _UNSET:
                _chip.current().set_irq(self._id, handler, trigger, hard, self)
            return self
        finally:
            leave(t)


class WDT:
    """machine.WDT: rp2 range 0..8388 ms; once started it cannot be stopped."""

    def __init__(self, id: int = 0, timeout: int = 5000) -> None:
        t = enter()
        try:
            if id != 0:
                raise ValueError("WDT(" + str(id) + ") doesn't exist")
            # The C port casts to uint32, so a negative timeout is "too large" too.
            if timeout < 0 or timeout > WDT_TIMEOUT_MAX_MS:
                raise ValueError("timeout exceeds " + str(WDT_TIMEOUT_MAX_MS))
            _chip.current().wdt_start(timeout)
        finally:
            leave(t)

    def feed(self) -> None:
        t = enter()
        try:
            _chip.current().wdt_feed()
        finally:
            leave(t)


class ADC:
    CORE_TEMP = 4

    def __init__(self, pin: "Any") -> None:
        t = enter()
        try:
            if isinstance(pin, int):
                if not 0 <= pin <= 4:
                    raise ValueError("invalid ADC channel")
                self._gpio = 26 + pin if pin < 4 else -1
            else:
                n = _chip.pin_number(pin)
                if n not in _chip.ADC_GPIOS:
                    raise ValueError("Pin doesn't have ADC capabilities")
                self._gpio = n
            if self._gpio >= 0:
                c = _chip.current()
                # adc_gpio_init: function NULL, no pulls, input disabled.
                c.gpio_set_function(self._gpio, _chip.FUNC_NULL)
                c.gpio_set_pulls(self._gpio, False, False)
        finally:
            leave(t)

    def read_u16(self) -> int:
        t = enter()
        try:
            raw = _chip.current().adc_raw(self._gpio) if self._gpio >= 0 else 876  # ~27 C
            # Same 12 -> 16 bit expansion as ports/rp2/machine_adc.c.
            return (raw << 4) | (raw >> 8)
        finally:
            leave(t)


class I2C:
    """Controller I2C on a modelled bus; devices are attached with chip.i2c_devices."""

    def __init__(self, id: int, scl: "Any" = None, sda: "Any" = None, freq: int = 400_000,
                 timeout: int = 50_000) -> None:
        t = enter()
        try:
            if id not in (0, 1):
                raise ValueError("I2C(" + str(id) + ") doesn't exist")
            self._bus = id
            self.freq = freq
            # pico-sdk i2c_set_baudrate(): one SCL period is round(clk_sys / freq) cycles.
            self._bit_ns = (_SYS_HZ + freq // 2) // freq * _NS_PER_CYCLE
            c = _chip.current()
            for p in (scl, sda):
                if p is not None:
                    n = _chip.pin_number(p)
                    c.gpio_set_function(n, FUNC_I2C)
                    c.gpio_set_pulls(n, True, False)
        finally:
            leave(t)

    def _dev(self, addr: int, nbytes: int) -> "Any":
        """The device at addr, after the bus time of a transfer of nbytes data bytes.

        The transfer blocks, as the rp2 port's does: START, the address byte and
        each data byte (8 bits plus ACK) and STOP, at the bus's SCL period. A
        missing device NAKs its address (OSError EIO) after the address byte.
        """
        d = _chip.current().i2c_devices.get((self._bus, addr))
        clock = _chip.current().clock
        if d is None:
            clock.advance(self._bit_ns * (_I2C_BITS_PER_BYTE + _I2C_START_STOP_BITS))
            raise OSError(_EIO)  # no ACK
        clock.advance(self._bit_ns * (_I2C_BITS_PER_BYTE * (1 + nbytes) + _I2C_START_STOP_BITS))
        return d

    def scan(self) -> list[int]:
        t = enter()
        try:
            return sorted(a for (b, a) in _chip.current().i2c_devices if b == self._bus)
        finally:
            leave(t)

    def writeto(self, addr: int, buf: "Any", stop: bool = True) -> int:
        t = enter()
        try:
            data = bytes(buf)
            self._dev(addr, len(data)).i2c_write(data)
            return len(data)
        finally:
            leave(t)

    def writevto(self, addr: int, vector: "Any", stop: bool = True) -> int:
        t = enter()
        try:
            data = b"".join(bytes(v) for v in vector)
            self._dev(addr, len(data)).i2c_write(data)
            return len(vector)
        finally:
            leave(t)

    def readfrom_into(self, addr: int, buf: "Any", stop: bool = True) -> None:
        t = enter()
        try:
            data = self._dev(addr, len(buf)).i2c_read(len(buf))
            for i in range(len(buf)):
                buf[i] = data[i]
        finally:
            leave(t)

    def readfrom(self, addr: int, nbytes: int, stop: bool = True) -> bytes:
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)

    def writeto_mem(self, addr: int, memaddr: int, buf: "Any", addrsize: int = 8) -> None:
        self.writeto(addr, bytes([memaddr & 0xFF]) + bytes(buf))

    def readfrom_mem_into(self, addr: int, memaddr: int, buf: "Any", addrsize: int = 8) -> None:
        """The register pointer written (no STOP), then a repeated START and the read, as the rp2 port does."""
        t = enter()
        try:
            d = self._dev(addr, 1 + 1 + len(buf))  # address + pointer, address again + data
            d.i2c_write(bytes([memaddr & 0xFF]))
            data = d.i2c_read(len(buf))
            for i in range(len(buf)):
                buf[i] = data[i]
        finally:
            leave(t)

    def readfrom_mem(self, addr: int, memaddr: int, nbytes: int, addrsize: int = 8) -> bytes:
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize)
        return bytes(buf)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id: int = -1, mode: int = 1, period: int = -1, freq: int = -1,
                 callback: "Any" = None, hard: bool = False) -> None:
        self._gen = 0
        if period >= 0 or freq > 0 or callback is not None:
            self.init(mode, period, freq, callback, hard)

    def init(self, mode: int = 1, period: int = -1, freq: int = -1, callback: "Any" = None,
             hard: bool = False) -> None:
        t = enter()
        try:
            if freq > 0:
                period_ns = 1_000_000_000 // freq
            elif period >= 0:
                period_ns = period * 1_000_000
            else:
                raise ValueError("period or freq required")
            self._gen += 1
            gen = self._gen
            clock = _chip.current().clock

            def fire(_at: int) -> None:
                if gen != self._gen:
                    return
                if mode == Timer.PERIODIC:
                    clock.schedule(_at + period_ns, fire)
                if callback is not None:
                    callback(self)

            clock.schedule(clock.now_ns() + period_ns, fire)
        finally:
            leave(t)

    def deinit(self) -> None:
        self._gen += 1


class _Mem32:
    def __getitem__(self, addr: int) -> int:
        t = enter()
        try:
            return _chip.current().mem_read(addr)
        finally:
            leave(t)

    def __setitem__(self, addr: int, value: int) -> None:
        t = enter()
        try:
            _chip.current().mem_write(addr, value)
        finally:
            leave(t)


mem32 = _Mem32()


def reset_cause() -> int:
    return _chip.current().reset_cause


def reset() -> None:
    # rp2's machine.reset() reboots through the watchdog (watchdog_reboot: CTRL.TRIGGER), so
    # the next boot reads reset_cause() == WDT_RESET with REASON FORCE, exactly as on the board.
    _chip.current().trigger_reset(WDT_RESET, "machine.reset()", _chip.WDT_REASON_FORCE)


def soft_reset() -> None:
    _chip.current().trigger_reset(PWRON_RESET, "soft reset")


def freq(hz: "Optional[int]" = None) -> "Any":
    if hz is None:
        return _chip.current().clock_hz()
    if hz != _chip.current().clock_hz():
        raise ValueError("fakehw models a 125 MHz sysclk only")
    return None


def unique_id() -> bytes:
    return b"\xe6\x60\x58\x38\x83\x27\x4f\x2d"


def idle() -> None:
    # The board sleeps until the next interrupt; the 1 ms systick is one.
    t = enter()
    try:
        c = _chip.current()
        nxt = c.clock.next_event_ns()
        stop = c.clock.now_ns() + 1_000_000
        c.clock.advance_to(nxt if 0 <= nxt < stop else stop)
    finally:
        leave(t)


def disable_irq() -> int:
    """Mask interrupts: GPIO edges that arrive meanwhile run at enable_irq()."""
    c = _chip.current()
    state = c.irq_masked
    c.irq_masked = 1
    if not state:  # the window's Python: each call in it costs clock.cost["masked_call_ns"]
        c.clock.call_cost_ns = c.clock.cost["masked_call_ns"]
    return state


def enable_irq(state: int = 0) -> None:
    """Unmask: the window's fixed Python cost passes first (edges meanwhile still wait), then the
    edges that waited run their handlers."""
    c = _chip.current()
    if c.irq_masked and not state:
        clk = c.clock
        t = _chip.lift()  # the model's event bookkeeping may allocate; the firmware's code did not
        try:
            if clk.cost["masked_window_ns"]:
                clk.advance(clk.cost["masked_window_ns"])
        finally:
            clk.call_cost_ns = clk.base_call_cost_ns
            leave(t)
    c.set_irq_mask(state)
