"""The RP2040 model: GPIO bank, pads, IRQs, watchdog, ADC, I2C bus and registers.

One `Chip` is "the board's microcontroller". The machine/rp2/time stand-ins
(machine.py, rp2.py, vtime.py) are thin facades that look the current chip up
at call time, so that after a reset the firmware's new objects talk to the same
silicon. The external world (switches, wires, sense voltages, I2C devices) is
kept across resets; the chip's own state is not.

Runs unchanged on CPython and on the MicroPython unix port.
"""

import sys

from . import clock as _clk
from .pio import PioBlocks, block_of
from .pwm import PwmBlock

try:
    import micropython as _mp

    _heap_lock = _mp.heap_lock
    _heap_unlock = _mp.heap_unlock
except (ImportError, AttributeError):  # CPython: no heap to lock
    _mp = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

N_GPIO = 30
ADC_GPIOS = (26, 27, 28, 29)

# GPIO function select values (RP2040 datasheet 2.19.2).
FUNC_SPI = 1
FUNC_UART = 2
FUNC_I2C = 3
FUNC_PWM = 4
FUNC_SIO = 5
FUNC_PIO0 = 6
FUNC_PIO1 = 7
FUNC_NULL = 31  # reset value: pad not driven by any peripheral

# pico-sdk gpio_irq_level
IRQ_LEVEL_LOW = 1
IRQ_LEVEL_HIGH = 2
IRQ_EDGE_FALL = 4
IRQ_EDGE_RISE = 8

# machine.reset_cause() values of the rp2 port.
PWRON_RESET = 1
WDT_RESET = 3

WDT_TIMEOUT_MAX_MS = 8388  # 24-bit counter, decremented twice per us on RP2040

# Watchdog registers (datasheet 4.7.6). REASON says why the last reset came from the watchdog:
# TIMER (its counter ran out) or FORCE (CTRL.TRIGGER: pico-sdk's watchdog_reboot, which
# machine.reset(), mpremote reset and the bootrom's UF2 reboot use); reset_cause() is WDT_RESET
# for both. REASON and SCRATCH0..7 survive a watchdog reset; a power-on reset clears them.
WATCHDOG_BASE = 0x40058000
WDT_REASON = 0x08
WDT_SCRATCH0 = 0x0C
WDT_REASON_TIMER = 1
WDT_REASON_FORCE = 2

# Register blocks (RP2040 datasheet 2.2). APB peripherals have atomic aliases:
# +0x1000 XOR, +0x2000 SET, +0x3000 CLR. SIO has no aliases.
SIO_BASE = 0xD0000000
IO_BANK0_BASE = 0x40014000
PWM_BASE = 0x40050000
DMA_BASE = 0x50000000
_ALIAS_MASK = 0x3000

# Pad-level history kinds.
_DRIVEN = 0  # SIO output enabled: level is the output register bit
_PWM = 1  # function PWM: level comes from the slice
_FLOAT = 2  # not driven by the chip: external drive, else pull
_PIO = 3  # function PIO0/PIO1: level comes from the block (the entry's level is the block's index)


class _Gpio:
    __slots__ = ("external", "funcsel", "history", "irq_handler", "irq_hard", "irq_pin", "irq_trigger",
                 "last_level", "pull_down", "pull_up")

    def __init__(self) -> None:
        self.external: Optional[int] = None  # what the outside world drives: None = open
        self.funcsel = FUNC_NULL
        self.pull_up = False
        self.pull_down = True  # pads reset with pull-down enabled
        self.irq_handler: Any = None
        self.irq_trigger = 0
        self.irq_hard = False
        self.irq_pin: Any = None
        self.history: list[tuple[int, int, int]] = [(0, _FLOAT, 0)]
        self.last_level = 0


class Chip:
    """One RP2040 and the world wired to its pins."""

    def __init__(self, clock: "Optional[_clk.Clock]" = None) -> None:
        self.clock = clock if clock is not None else _clk.Clock()
        self.gpio = [_Gpio() for _ in range(N_GPIO)]
        self.sio_out = 0
        self.sio_oe = 0
        self.open_drain = 0  # MicroPython's open-drain mask (port state, not silicon)
        self.pwm = PwmBlock(self.clock)
        self.pio = PioBlocks(self.clock)
        self.reset_cause = PWRON_RESET
        self.adc_volts: dict[int, float] = {}  # GPIO -> volts, set by the world
        self.adc_vref = 3.3
        self.i2c_devices: dict[tuple[int, int], Any] = {}  # (bus id, addr) -> device
        self.bootsel = 0  # the BOOTSEL button, pressed by the world
        self.irq_errors: list[str] = []  # uncaught exceptions in IRQ handlers
        # (t_ns, cause, reason, REASON bits): REASON is 0 unless the watchdog reset the chip
        self.resets: list[tuple[int, int, str, int]] = []
        self.wdt_reason = 0  # the watchdog's REASON register
        self.wdt_scratch = [0] * 8
        self.wdt_timeout_ms = 0  # 0: watchdog not started
        self._wdt_gen = 0
        self.wdt_fed_ns = 0
        self.on_reset: Optional[Callable[[int, str], None]] = None
        self.irq_masked = 0  # machine.disable_irq(): edges wait in irq_pending
        self.irq_pending: list[_Gpio] = []
        for n in range(N_GPIO):
            self._settle(n)

    # -- the world drives pins -------------------------------------------------
    def drive(self, n: int, level: "Optional[int]") -> None:
        """Drive GPIO n from outside: 0, 1, or None for open (switch open, wire broken)."""
        self.gpio[n].external = None if level is None else (1 if level else 0)
        self._settle(n)

    def clock_hz(self) -> int:
        return _clk.SYS_HZ

    # -- pad level -------------------------------------------------------------
    def _pad_state(self, n: int) -> tuple[int, int]:
        g = self.gpio[n]
        bit = 1 << n
        if g.funcsel == FUNC_SIO and self.sio_oe & bit:
            return _DRIVEN, 1 if self.sio_out & bit else 0
        if g.funcsel == FUNC_PWM:
            return _PWM, 0
        if g.funcsel in (FUNC_PIO0, FUNC_PIO1):
            return _PIO, g.funcsel - FUNC_PIO0
        return self._undriven(g)

    def _undriven(self, g: _Gpio) -> tuple[int, int]:
        if g.external is not None:
            return _FLOAT, g.external
        if g.pull_up and not g.pull_down:
            return _FLOAT, 1
        # Pull-down, no pull (the model reads a floating pad as 0: every input
        # the firmware relies on must declare a pull, which the board check enforces),
        # or both pulls (bus keeper; the model resolves it low).
        return _FLOAT, 0

    def _settle(self, n: int) -> None:
        """Record a change of what drives pad n, and deliver an edge IRQ if its level moved."""
        g = self.gpio[n]
        kind, level = self._pad_state(n)
        now = self.clock.now_ns()
        last = g.history[-1]
        if last[1] != kind or last[2] != level:
            if last[0] == now:
                g.history[-1] = (now, kind, level)
            else:
                g.history.append((now, kind, level))
        if kind in (_PWM, _PIO):
            return  # no IRQ modelling on PWM- or PIO-driven pads
        old = g.last_level
        g.last_level = level
        if old != level and g.irq_handler is not None:
            edge = IRQ_EDGE_RISE if level else IRQ_EDGE_FALL
            if g.irq_trigger & edge:
                if self.irq_masked:
                    if g not in self.irq_pending:
                        self.irq_pending.append(g)
                else:
                    self._run_irq(g)

    def set_irq_mask(self, masked: int) -> None:
        self.irq_masked = masked
        while not self.irq_masked and self.irq_pending:
            g = self.irq_pending.pop(0)
            if g.irq_handler is not None:
                self._run_irq(g)

    def _run_irq(self, g: _Gpio) -> None:
        # As shared/runtime/mpirq.c: a hard handler runs with the heap locked; an
        # uncaught exception is printed and disables that IRQ for good.
        handler = g.irq_handler
        locked = g.irq_hard and _mp is not None
        # The handler's machine calls must reach this chip, whichever chip was current: a world
        # action on one board's pin (from the host, between runs) interrupts that board only.
        saved = _current
        set_current(self)
        self.clock._depth += 1  # time may move inside the handler, no event runs
        outer_cost = self.clock.call_cost_ns
        try:
            entry = self.clock.cost["irq_entry_ns"]
            if entry:  # the VM's IRQ dispatch and the handler's Python before its first write
                self.clock.advance(entry)
            # The handler's register writes: Thumb code on the board (stim.hal.native_io.park)
            self.clock.call_cost_ns = self.clock.cost.get("irq_call_ns", outer_cost)
            if locked:
                _heap_lock()
            try:
                handler(g.irq_pin)
            finally:
                self.clock.call_cost_ns = outer_cost
                if locked:
                    _heap_unlock()
        except Exception as e:  # noqa: BLE001 - mirrors mpirq.c, which catches everything
            g.irq_handler = None
            g.irq_trigger = 0
            self.irq_errors.append("Uncaught exception in IRQ callback handler: " + repr(e))
            print("Uncaught exception in IRQ callback handler")
        finally:
            self.clock._depth -= 1
            set_current(saved)

    def level(self, n: int, t_ns: "Optional[int]" = None) -> int:
        """Electrical level of GPIO n at time t_ns (default now)."""
        t = self.clock.now_ns() if t_ns is None else t_ns
        hist = self.gpio[n].history
        i = len(hist) - 1
        while i > 0 and hist[i][0] > t:
            i -= 1
        _t0, kind, lev = hist[i]
        if kind == _PWM:
            return self.pwm.channel_level(n, t)
        if kind == _PIO:
            return self._pio_level(n, lev, t)
        return lev

    def _pio_level(self, n: int, blk: int, t: int) -> int:
        v = self.pio.pin_level(blk, n, t)
        return v if v >= 0 else self._undriven(self.gpio[n])[1]  # not driven by the block: the pull

    def edges(self, n: int, t0: int, t1: int) -> list[tuple[int, int]]:
        """Every level change of GPIO n in [t0, t1): a list of (t_ns, new level)."""
        out: list[tuple[int, int]] = []
        hist = self.gpio[n].history
        prev = self.level(n, t0 - 1) if t0 > 0 else 0
        for i in range(len(hist)):
            start, kind, lev = hist[i]
            end = hist[i + 1][0] if i + 1 < len(hist) else t1
            lo = start if start > t0 else t0
            hi = end if end < t1 else t1
            if lo >= hi:
                continue
            if kind == _PWM:
                first = self.pwm.channel_level(n, lo)
                if first != prev:
                    out.append((lo, first))
                    prev = first
                for t, v in self.pwm.channel_edges(n, lo, hi):
                    if t > lo and v != prev:
                        out.append((t, v))
                        prev = v
            elif kind == _PIO:
                first = self._pio_level(n, lev, lo)
                if first != prev:
                    out.append((lo, first))
                    prev = first
                for t, _v in self.pio.pin_edges(lev, n, lo + 1, hi):
                    v = self._pio_level(n, lev, t)
                    if v != prev:
                        out.append((t, v))
                        prev = v
            elif lev != prev:
                out.append((lo, lev))
                prev = lev
        return out

    def forget_before(self, t_ns: int) -> None:
        """Drop pad and PWM history older than t_ns (bounded memory on long runs)."""
        for g in self.gpio:
            h = g.history
            i = 0
            while i + 1 < len(h) and h[i + 1][0] <= t_ns:
                i += 1
            if i:
                del h[:i]
        self.pwm.forget_before(t_ns)
        self.pio.forget_before(t_ns)

    # -- SIO / IO_BANK0 operations used by the machine.Pin facade ---------------
    def gpio_set_function(self, n: int, func: int) -> None:
        # pico-sdk gpio_set_function also enables the input and output of the pad.
        g = self.gpio[n]
        if g.funcsel == func:
            return  # nothing that drives the pad changed (the tick re-parks idle pins every 10 ms)
        g.funcsel = func
        self._settle(n)

    def gpio_set_pulls(self, n: int, up: bool, down: bool) -> None:
        g = self.gpio[n]
        g.pull_up = bool(up)
        g.pull_down = bool(down)
        self._settle(n)

    def sio_write(self, out: int, oe: int) -> None:
        """Set the SIO output and output-enable registers; settle every pin that changed."""
        changed = (out ^ self.sio_out) | (oe ^ self.sio_oe)
        self.sio_out = out & 0x3FFFFFFF
        self.sio_oe = oe & 0x3FFFFFFF
        n = 0
        while changed:
            if changed & 1:
                self._settle(n)
            changed >>= 1
            n += 1

    def gpio_get(self, n: int) -> int:
        """What the input buffer of GPIO n reads now (gpio_get in the pico-sdk)."""
        kind, lev = self._pad_state(n)
        if kind == _PWM:
            return self.pwm.channel_level(n, self.clock.now_ns())
        if kind == _PIO:
            return self._pio_level(n, lev, self.clock.now_ns())
        return lev

    def set_irq(self, n: int, handler: "Any", trigger: int, hard: bool, pin: "Any") -> None:
        g = self.gpio[n]
        g.irq_handler = handler
        g.irq_trigger = trigger if handler is not None else 0
        g.irq_hard = hard
        g.irq_pin = pin

    # -- memory-mapped registers (machine.mem32) -------------------------------
    def mem_read(self, addr: int) -> int:
        if addr & 3:
            raise ValueError("fakehw: unaligned mem32 address " + hex(addr))
        if SIO_BASE <= addr < SIO_BASE + 0x40:
            off = addr - SIO_BASE
            if off == 0x004:  # GPIO_IN
                v = 0
                for n in range(N_GPIO):
                    v |= self.gpio_get(n) << n
                return v
            if off in (0x010, 0x014, 0x018, 0x01C):
                return self.sio_out
            if off in (0x020, 0x024, 0x028, 0x02C):
                return self.sio_oe
        base = addr & ~_ALIAS_MASK
        if IO_BANK0_BASE <= base < IO_BANK0_BASE + 8 * N_GPIO:
            off = base - IO_BANK0_BASE
            n = off >> 3
            if off & 7 == 4:  # GPIOn_CTRL: FUNCSEL in bits 4:0
                return self.gpio[n].funcsel
            lev = self.gpio_get(n)
            return (lev << 17) | (lev << 26)  # GPIOn_STATUS INFROMPAD / (approx) INTOPERI
        if PWM_BASE <= base < PWM_BASE + 0xB4:
            return self.pwm.read_reg(base - PWM_BASE)
        if DMA_BASE <= addr < DMA_BASE + 0x1000:
            from . import dma  # dma imports chip: resolve at first use

            return dma.block(self).read_reg(addr - DMA_BASE)
        pio = block_of(addr)
        if pio is not None:
            return self.pio.read_reg(pio[0], pio[1])
        if base == WATCHDOG_BASE + WDT_REASON:
            return self.wdt_reason
        if WATCHDOG_BASE + WDT_SCRATCH0 <= base < WATCHDOG_BASE + WDT_SCRATCH0 + 32:
            return self.wdt_scratch[(base - WATCHDOG_BASE - WDT_SCRATCH0) >> 2]
        raise ValueError("fakehw: no modelled register at " + hex(addr))

    def mem_write(self, addr: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if addr & 3:
            raise ValueError("fakehw: unaligned mem32 address " + hex(addr))
        if SIO_BASE <= addr < SIO_BASE + 0x40:
            off = addr - SIO_BASE
            out, oe = self.sio_out, self.sio_oe
            if off == 0x010:
                out = value
            elif off == 0x014:
                out |= value
            elif off == 0x018:
                out &= ~value
            elif off == 0x01C:
                out ^= value
            elif off == 0x020:
                oe = value
            elif off == 0x024:
                oe |= value
            elif off == 0x028:
                oe &= ~value
            elif off == 0x02C:
                oe ^= value
            else:
                raise ValueError("fakehw: no modelled SIO register at " + hex(addr))
            self.sio_write(out, oe)
            return
        alias = addr & _ALIAS_MASK
        base = addr & ~_ALIAS_MASK
        if IO_BANK0_BASE <= base < IO_BANK0_BASE + 8 * N_GPIO and (base - IO_BANK0_BASE) & 7 == 4:
            n = (base - IO_BANK0_BASE) >> 3
            new = _apply_alias(alias, self.gpio[n].funcsel, value) & 0x1F
            self.gpio_set_function(n, new)
            return
        if PWM_BASE <= base < PWM_BASE + 0xB4:
            off = base - PWM_BASE
            self.pwm.write_reg(off, _apply_alias(alias, self.pwm.read_reg(off), value))
            return
        if DMA_BASE <= addr < DMA_BASE + 0x1000:
            from . import dma

            dma.block(self).write_reg(addr - DMA_BASE, value)
            return
        pio = block_of(addr)
        if pio is not None:
            self.pio.write_reg(pio[0], pio[1], value, pio[2])
            return
        if WATCHDOG_BASE + WDT_SCRATCH0 <= base < WATCHDOG_BASE + WDT_SCRATCH0 + 32:
            i = (base - WATCHDOG_BASE - WDT_SCRATCH0) >> 2
            self.wdt_scratch[i] = _apply_alias(alias, self.wdt_scratch[i], value)
            return
        raise ValueError("fakehw: no modelled writable register at " + hex(addr))

    # -- watchdog ----------------------------------------------------------------
    def wdt_start(self, timeout_ms: int) -> None:
        self.wdt_timeout_ms = timeout_ms
        self.wdt_feed()

    def wdt_feed(self) -> None:
        if not self.wdt_timeout_ms:
            return
        self._wdt_gen += 1
        gen = self._wdt_gen
        self.wdt_fed_ns = self.clock.now_ns()
        deadline = self.wdt_fed_ns + self.wdt_timeout_ms * 1_000_000

        def expire(_t: int) -> None:
            if gen == self._wdt_gen and self.wdt_timeout_ms:
                self.trigger_reset(WDT_RESET, "watchdog timeout", WDT_REASON_TIMER)

        self.clock.schedule(deadline, expire)

    def trigger_reset(self, cause: int, reason: str, wdt_reason: int = WDT_REASON_FORCE) -> None:
        """Reset the chip now and unwind whatever firmware code is running.

        wdt_reason: for a WDT_RESET, the REASON bits it leaves (FORCE, or TIMER for an expiry)."""
        self.reset(cause, reason, wdt_reason)
        raise _clk.Reset(cause, reason)

    def reset(self, cause: int, reason: str, wdt_reason: int = WDT_REASON_FORCE) -> None:
        """Put the silicon in its reset state. The world (external drives, devices) stays."""
        if cause == WDT_RESET:
            self.wdt_reason = wdt_reason
        else:  # power-on: the watchdog's registers too
            self.wdt_reason = 0
            self.wdt_scratch = [0] * 8
        self.resets.append((self.clock.now_ns(), cause, reason, self.wdt_reason))
        self.reset_cause = cause
        self._wdt_gen += 1
        self.wdt_timeout_ms = 0
        self.pwm.reset()
        self.pio.reset()
        self.sio_out = 0
        self.sio_oe = 0
        self.open_drain = 0
        self.irq_masked = 0
        self.irq_pending = []
        self.clock.call_cost_ns = self.clock.base_call_cost_ns  # out of any masked window
        for n in range(N_GPIO):
            g = self.gpio[n]
            g.funcsel = FUNC_NULL
            g.pull_up = False
            g.pull_down = True
            g.irq_handler = None
            g.irq_trigger = 0
            self._settle(n)
        if self.on_reset is not None:
            self.on_reset(cause, reason)

    # -- ADC ---------------------------------------------------------------------
    def adc_raw(self, gpio: int) -> int:
        """12-bit conversion of the voltage the world put on an ADC GPIO."""
        v = self.adc_volts.get(gpio, 0.0)
        raw = int(v / self.adc_vref * 4095 + 0.5)
        return 0 if raw < 0 else (4095 if raw > 4095 else raw)


def _apply_alias(alias: int, old: int, value: int) -> int:
    if alias == 0x1000:
        return old ^ value
    if alias == 0x2000:
        return old | value
    if alias == 0x3000:
        return old & ~value
    return value


# -- the current chip -----------------------------------------------------------
_current: "Optional[Chip]" = None


def current() -> Chip:
    if _current is None:
        raise RuntimeError("fakehw: no chip installed (call picostim.fakehw.install())")
    return _current


def set_current(chip: "Optional[Chip]") -> None:
    global _current
    _current = chip


def pin_number(dest: "Any") -> int:
    """GPIO number of a machine.Pin stand-in or an int, as mp_hal_get_pin_obj accepts."""
    if isinstance(dest, int):
        n = dest
    else:
        n = getattr(dest, "_id", -1)
    if not 0 <= n < N_GPIO:
        raise ValueError("invalid pin")
    return n


# Every facade method brackets its body with enter()/leave(). That charges the
# call's virtual CPU time and, under MicroPython, lifts a firmware heap_lock
# while the model does its own bookkeeping (the real C functions allocate
# nothing), so a heap_lock test measures only what the firmware allocates.
_lock_depth = [0]


# Only the MicroPython VM enforces heap_lock; CPython's shim only counts, so there is nothing to lift.
_LIFT_LOCK = _mp is not None and sys.implementation.name == "micropython"


def enter() -> int:
    chip = current()
    token = lift()
    chip.clock.charge_call()
    return token


def lift() -> int:
    """Lift a firmware heap_lock for the model's own bookkeeping, charging nothing; leave() re-locks."""
    token = 0
    if _LIFT_LOCK:
        # heap_unlock returns the remaining lock depth; re-lock it in leave().
        try:
            _mp.heap_lock()
            depth = _mp.heap_unlock()
        except AttributeError:
            depth = 0
        while depth > 0:
            depth = _heap_unlock()
            token += 1
    return token


def leave(token: int) -> None:
    while token > 0:
        _heap_lock()
        token -= 1
