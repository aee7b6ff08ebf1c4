"""The RP2040 PWM block (8 slices x 2 channels) and the machine.PWM stand-in.

`PwmBlock` models the registers (RP2040 datasheet 4.5) and answers, for any
time still in its history, what each channel outputs. `PWM` is MicroPython's
machine.PWM for rp2 (ports/rp2/machine_pwm.c of the 1.2x line, the version
with NUM_PWM_SLICES and clamped duty) on top of it, with the same integer
arithmetic, messages and quirks.

Time model
----------
Time is integer nanoseconds; one sysclk cycle is 8 ns (125 MHz). A register
write at time t acts at cycle C = ceil(t / 8). The history of each slice is a
list of segments; a segment starts at a cycle c0 with a known counter state and
holds one configuration. A new segment starts when a write changes the timing
(DIV, CSR, CTR, EN), and at the wrap where buffered CC/TOP values latch.

Fractional divider (first-order sigma-delta, "DIV" register 8.4 fixed point,
d16 = 16 * INT + FRAC with INT = 0 meaning 256): an accumulator `acc` in 1/16
cycles gains 16 every cycle; whenever it reaches d16 the counter gets one
enable and d16 is taken away (0 <= acc < d16 always). So, from a segment start
with accumulator a, the k-th counter step (k >= 1) happens at cycle

    c0 + ceil((k * d16 - a) / 16)

and after n cycles the counter has stepped floor((16 * n + a) / d16) times.
The accumulator carries across segments (exactly, at latch wraps), so over a
long run the mean period is exactly (TOP + 1) * d16 / 16 cycles (doubled in
phase-correct mode) while single periods differ by at most one cycle. The
silicon's divider phase at power-on is unknown; the model starts at acc = 0.

Counter and outputs
-------------------
Trailing-edge mode: the counter runs 0, 1, ..., TOP, then wraps to 0. The
channel output (before inversion) is high while counter < CC: it rises at the
wrap and falls when the counter reaches CC; CC = 0 is always low and
CC > TOP always high. Phase-correct mode: 0 .. TOP, TOP .. 0 (both ends
appear twice, so the period is 2 * (TOP + 1) steps); the high pulse is centred
on the 0 -> 0 turn, which is where buffered values latch.

CC and TOP are double-buffered: while the slice runs, a write lands in the
software copy and is latched at the next wrap (trailing-edge) or 0 -> 0 turn
(phase-correct) after the write, so a pulse in progress is never cut short.
While the slice is disabled the write latches at once (pico-sdk docs of
pwm_set_chan_level/pwm_set_wrap), and values still pending when the slice is
disabled latch at that moment (model's reading: the latch is transparent while
EN is 0). DIV, CSR and CTR act at once.

Disabled slice: the counter halts and each output keeps the level it had at
that moment (pico-sdk docs of pwm_set_enabled: "the output pins are left high
or low depending on exactly when the counter is halted"); enabling resumes
from where it stopped. So PWM.deinit() in mid-pulse leaves the pin HIGH. The
model holds the compare result and applies A_INV/B_INV to it live (unknown on
silicon whether inversion sits before or after that hold).

Not modelled (documented deviations): DIVMODE other than free-running (writes
raise ValueError); the PH_ADV/PH_RET strobes (ignored); the wrap IRQ
reaching the CPU (INTR/INTE/INTF/INTS read correctly, nothing is delivered).
The wrap's DREQ is: dma.py counts wraps (count_wraps) and is told through
`watchers` when a write moves a slice's future wraps.
A counter above TOP (from a CTR write, or a smaller TOP latched while the
slice was stopped, e.g. PWM.freq() raised after deinit()) counts up to 0xFFFF
and rolls over to 0 without a latch (assumed: the wrap compares counter ==
TOP), so the first period after restarting can be up to 65536 counts long;
counting down it runs down to 0. The phase-correct direction flag is kept
while in trailing-edge mode. Sub-cycle races (a write in the very cycle of a
wrap) resolve as "the write misses that wrap".

machine.PWM (ports/rp2/machine_pwm.c, 1.2x) as reproduced here: freq may be
positional, -1 means "not given"; one freq per slice, and setting it re-applies
both channels' duty; duty_u16 > 65535 and duty_ns past the period clamp (this
version has no "duty larger than period" error); "freq too small" below 8 Hz;
"freq too large" exists in the C code but cannot trigger at 125 MHz, and past
2 * sysclk TOP wraps to 0xFFFF exactly as the C expression does; freq(0) is a
C division by zero (ZeroDivisionError here, undefined on the board); a setter
that raises inside PWM()/init() leaves the port's defer_start flag set, so no
slice starts from duty/freq calls until the next init completes; deinit() only
clears EN, and a later duty or freq call on either channel restarts the slice.

Runs unchanged on CPython and on the MicroPython unix port.
"""

from . import chip as _chip
from .clock import NS_PER_CYCLE, SYS_HZ

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from .clock import Clock

N_SLICES = 8

# Register offsets from PWM_BASE (0x40050000).
SLICE_STRIDE = 0x14
CSR = 0x00
DIV = 0x04
CTR = 0x08
CC = 0x0C
TOP = 0x10
EN = 0xA0
INTR = 0xA4
INTE = 0xA8
INTF = 0xAC
INTS = 0xB0

CSR_EN = 0x01
CSR_PH_CORRECT = 0x02
CSR_A_INV = 0x04
CSR_B_INV = 0x08
CSR_DIVMODE = 0x30
CSR_PH_RET = 0x40
CSR_PH_ADV = 0x80

DIV_RESET = 0x10  # INT = 1, FRAC = 0
TOP_RESET = 0xFFFF

# A slice keeps at most this many segments when nobody calls forget_before();
# beyond it the oldest quarter is dropped (queries there raise ValueError).
MAX_SEGMENTS = 65536

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def gpio_to_slice(n: int) -> int:
    """pwm_gpio_to_slice_num: GPIO n and n + 16 share a slice."""
    return (n >> 1) & 7


def gpio_to_channel(n: int) -> int:
    """pwm_gpio_to_channel: 0 = A (even GPIO), 1 = B (odd GPIO)."""
    return n & 1


def _div16(raw: int) -> int:
    """Effective divider in 1/16 cycles from the DIV register (INT = 0 means 256)."""
    i = (raw >> 4) & 0xFF
    return ((i if i else 256) << 4) | (raw & 0xF)


def _cdiv(a: int, b: int) -> int:
    """ceil(a / b) for b > 0."""
    return -((-a) // b)


class _Seg:
    """One stretch of a slice's history with constant configuration."""

    def __init__(self, c0: int, run: bool, ph: bool, inv_a: int, inv_b: int, d16: int, acc: int,
                 top: int, cc_a: int, cc_b: int, v: int, up: bool, hold_a: int, hold_b: int,
                 wrap: bool = False) -> None:
        self.c0 = c0
        self.t0 = c0 * NS_PER_CYCLE
        self.run = run
        self.ph = ph
        self.inv_a = inv_a
        self.inv_b = inv_b
        self.d16 = d16
        self.acc = acc
        self.top = top
        self.cc_a = cc_a
        self.cc_b = cc_b
        self.v = v  # counter at c0
        self.up = up  # counting direction at c0 (phase-correct mode)
        self.hold_a = hold_a  # pre-inversion output levels while halted
        self.hold_b = hold_b
        self.wrap = wrap  # the segment starts at a wrap (latch)
        # Counter walk: `pre` steps of a ramp from v (only when v > TOP), then the
        # canonical cycle of L steps entered at position q0.
        self.L = (top + 1) * (2 if ph else 1)
        self.pre = 0
        self.pdir = 1
        self.q0 = v
        if v > top:
            if ph and not up:
                self.pre = v - top  # v, v-1, ..., TOP+1, then TOP going down
                self.pdir = -1
                self.q0 = top + 1
            else:
                self.pre = 0x10000 - v  # up to 0xFFFF, roll over to 0 (no latch)
                self.q0 = 0
        elif ph and not up:
            self.q0 = 2 * top + 1 - v

    # -- counter -----------------------------------------------------------------
    def value(self, i: int) -> int:
        """Counter value after i steps from c0."""
        if i < self.pre:
            return self.v + self.pdir * i
        q = (self.q0 + i - self.pre) % self.L
        if q <= self.top:
            return q
        return 2 * self.top + 1 - q

    def going_up(self, i: int) -> bool:
        """Direction flag after i steps; trailing-edge mode leaves the flag as it was."""
        if not self.ph:
            return self.up
        if i < self.pre:
            return self.pdir > 0
        return (self.q0 + i - self.pre) % self.L <= self.top

    def steps_at(self, c: int) -> int:
        """Counter steps taken by cycle c (>= c0)."""
        if not self.run:
            return 0
        return (16 * (c - self.c0) + self.acc) // self.d16

    def cycle_of(self, i: int) -> int:
        """Cycle at which step i (i >= 1) happens."""
        return self.c0 + _cdiv(i * self.d16 - self.acc, 16)

    def first_latch(self) -> int:
        """Step index of the first wrap (latch point) after c0."""
        return self.pre + self.L - self.q0

    def raw_level(self, ch: int, i: int) -> int:
        """Channel output before inversion after i steps."""
        if not self.run:
            return self.hold_b if ch else self.hold_a
        return 1 if self.value(i) < (self.cc_b if ch else self.cc_a) else 0

    def level_at_ns(self, ch: int, t: int) -> int:
        i = self.steps_at(self.c0 + (t - self.t0) // NS_PER_CYCLE) if self.run else 0
        return self.raw_level(ch, i) ^ (self.inv_b if ch else self.inv_a)

    def change_steps(self, ch: int, ia: int, ib: int) -> "List[int]":
        """Step indices in (ia, ib] where the channel output may change, ascending."""
        out: List[int] = []
        if not self.run or ib <= ia:
            return out
        cc = self.cc_b if ch else self.cc_a
        pre = self.pre
        if pre:
            if self.pdir > 0:
                x = cc - self.v
            else:
                x = self.v - cc + 1
            if 0 < x < pre and ia < x <= ib:
                out.append(x)
            if ia < pre <= ib:
                out.append(pre)
        top = self.top
        if cc == 0 or cc > top:
            return out  # constant level in the canonical cycle
        L = self.L
        pts = (cc, L - cc) if self.ph else (0, cc)
        s = pre - self.q0  # step index of a canonical period start
        if ia > s:
            s += ((ia - s) // L) * L
        lo = ia if ia >= pre else pre - 1
        while s <= ib:
            for q in pts:
                i = s + q
                if lo < i <= ib:
                    out.append(i)
            s += L
        return out


class _Slice:
    def __init__(self) -> None:
        self.csr = 0
        self.div = DIV_RESET
        self.cc = 0  # software copies (what the registers read back)
        self.top = TOP_RESET
        self.segs: List[_Seg] = [_Seg(0, False, False, 0, 0, 16, 0, TOP_RESET, 0, 0, 0, True, 0, 0)]
        self.pend_c = -1  # cycle of the write that made CC/TOP pending, -1: none
        self.virt: Optional[_Seg] = None
        self.virt_ok = False
        self.int_clear_ns = 0  # last INTR clear (write 1 to clear)

    def pending(self) -> bool:
        t = self.segs[-1]
        return self.top != t.top or (self.cc & 0xFFFF) != t.cc_a or (self.cc >> 16) != t.cc_b

    def virtual(self) -> "Optional[_Seg]":
        """The segment the pending CC/TOP latch will start (None if nothing is pending)."""
        if self.virt_ok:
            return self.virt
        v: Optional[_Seg] = None
        t = self.segs[-1]
        if t.run and self.pend_c >= 0 and self.pending():
            ic = t.steps_at(self.pend_c if self.pend_c > t.c0 else t.c0)
            i = t.first_latch()
            if i <= ic:
                i += _cdiv(ic + 1 - i, t.L) * t.L
            c = t.cycle_of(i)
            acc = t.acc + 16 * (c - t.c0) - i * t.d16
            v = _Seg(c, True, t.ph, t.inv_a, t.inv_b, t.d16, acc, self.top, self.cc & 0xFFFF, self.cc >> 16,
                     0, True, 0, 0, True)
        self.virt = v
        self.virt_ok = True
        return v

    # The effective history: the stored segments, then the pending latch if any.
    def count(self) -> int:
        return len(self.segs) + (0 if self.virtual() is None else 1)

    def get(self, k: int) -> _Seg:
        if k < len(self.segs):
            return self.segs[k]
        v = self.virtual()
        if v is None:
            raise IndexError("fakehw.pwm: no segment " + str(k))
        return v

    def end_ns(self, k: int, default: int) -> int:
        """Start of segment k + 1 (where segment k ends), or default for the last one."""
        return self.get(k + 1).t0 if k + 1 < self.count() else default

    def index(self, t: int) -> int:
        """Index of the segment holding time t; -1 before power-on; ValueError if forgotten."""
        v = self.virtual()
        if v is not None and v.t0 <= t:
            return len(self.segs)
        k = _find(self.segs, t)
        if k < 0:
            if self.segs[0].c0 == 0:
                return -1
            raise ValueError("fakehw.pwm: history before " + str(self.segs[0].t0) + " ns was forgotten")
        return k


def _find(segs: "List[_Seg]", t: int) -> int:
    """Index of the segment holding time t (the last one with t0 <= t); -1 if before all."""
    lo = 0
    hi = len(segs)
    while lo < hi:
        mid = (lo + hi) >> 1
        if segs[mid].t0 <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _latch_from(g: _Seg, t: int) -> int:
    """Step index of the first wrap of running segment g at or after time t (not its own start)."""
    ia = 0
    if t > g.t0:
        ia = g.steps_at(g.c0 + (t - 1 - g.t0) // NS_PER_CYCLE)
    i = g.first_latch()
    if i <= ia:
        i += _cdiv(ia + 1 - i, g.L) * g.L
    return i


class PwmBlock:
    """Register-level model of the RP2040 PWM block with a queryable output history."""

    def __init__(self, clock: "Clock") -> None:
        self.clock = clock
        self.slices = [_Slice() for _ in range(N_SLICES)]
        self.inte = 0
        self.intf = 0
        self.mp = _MpState()
        # Called with the slice number after any write that can move that slice's future wraps
        # (CSR, DIV, CTR, TOP, reset): the DMA model (dma.py) re-times its wrap-paced transfers.
        self.watchers: List[Any] = []

    def _notify(self, s: int) -> None:
        for fn in self.watchers:
            fn(s)

    # -- time ------------------------------------------------------------------------
    def _cycle(self) -> int:
        return -((-self.clock.now_ns()) // NS_PER_CYCLE)

    def _materialize(self, sl: _Slice, c: int) -> None:
        v = sl.virtual()
        if v is not None and v.c0 <= c:
            self._push(sl, v)
            sl.pend_c = -1

    def _split(self, sl: _Slice, c: int, latch_now: bool = False) -> None:
        """Start a segment at cycle c from the counter state there and the current registers."""
        t = sl.segs[-1]
        i = t.steps_at(c)
        acc = t.acc + 16 * (c - t.c0) - i * t.d16 if t.run else t.acc
        v = t.value(i) if t.run else t.v
        up = t.going_up(i) if t.run else t.up
        ha = t.raw_level(0, i)
        hb = t.raw_level(1, i)
        csr = sl.csr
        run = bool(csr & CSR_EN)
        if latch_now or not run:
            top, cc_a, cc_b = sl.top, sl.cc & 0xFFFF, sl.cc >> 16
            sl.pend_c = -1
        else:
            top, cc_a, cc_b = t.top, t.cc_a, t.cc_b
        d16 = _div16(sl.div)
        if acc >= d16:
            acc = d16 - 1  # the divider shrank under a fuller accumulator
        n = _Seg(c, run, bool(csr & CSR_PH_CORRECT), 1 if csr & CSR_A_INV else 0, 1 if csr & CSR_B_INV else 0,
                 d16, acc, top, cc_a, cc_b, v & 0xFFFF, up, ha, hb)
        if t.c0 == c:
            n.wrap = t.wrap
        self._push(sl, n)

    def _push(self, sl: _Slice, n: _Seg) -> None:
        """Append segment n, replacing the tail if it starts in the same cycle."""
        segs = sl.segs
        if segs[-1].c0 == n.c0:
            segs[-1] = n
        else:
            segs.append(n)
            if len(segs) > MAX_SEGMENTS:
                del segs[: MAX_SEGMENTS // 4]
        sl.virt_ok = False

    # -- registers ---------------------------------------------------------------------
    def read_reg(self, offset: int) -> int:
        """Read a PWM register; offset from PWM_BASE 0x40050000."""
        if offset < N_SLICES * SLICE_STRIDE:
            sl = self.slices[offset // SLICE_STRIDE]
            r = offset % SLICE_STRIDE
            if r == CSR:
                return sl.csr & 0x3F
            if r == DIV:
                return sl.div
            if r == CTR:
                return self.counter(offset // SLICE_STRIDE, self.clock.now_ns())
            if r == CC:
                return sl.cc
            if r == TOP:
                return sl.top
        if offset == EN:
            en = 0
            for s in range(N_SLICES):
                if self.slices[s].csr & CSR_EN:
                    en |= 1 << s
            return en
        if offset == INTR:
            return self._intr()
        if offset == INTE:
            return self.inte
        if offset == INTF:
            return self.intf
        if offset == INTS:
            return (self._intr() | self.intf) & self.inte
        raise ValueError("fakehw: no PWM register at offset " + hex(offset))

    def write_reg(self, offset: int, value: int) -> None:
        """Write a PWM register; offset from PWM_BASE 0x40050000."""
        value &= _M32
        if offset < N_SLICES * SLICE_STRIDE:
            s = offset // SLICE_STRIDE
            r = offset % SLICE_STRIDE
            if r == CSR:
                self.set_csr(s, value)
                return
            if r == DIV:
                self.set_div(s, value)
                return
            if r == CTR:
                self.set_ctr(s, value)
                return
            if r == CC:
                self.set_cc(s, value)
                return
            if r == TOP:
                self.set_top(s, value)
                return
        if offset == EN:
            for s in range(N_SLICES):
                csr = self.slices[s].csr
                self.set_csr(s, (csr | CSR_EN) if value & (1 << s) else (csr & ~CSR_EN))
            return
        if offset == INTR:
            now = self.clock.now_ns()
            for s in range(N_SLICES):
                if value & (1 << s):
                    self.slices[s].int_clear_ns = now
            return
        if offset == INTE:
            self.inte = value & 0xFF
            return
        if offset == INTF:
            self.intf = value & 0xFF
            return
        if offset == INTS:
            return  # read-only
        raise ValueError("fakehw: no PWM register at offset " + hex(offset))

    def set_csr(self, s: int, value: int) -> None:
        if value & CSR_DIVMODE:
            raise ValueError("fakehw: PWM DIVMODE other than free-running is not modelled")
        sl = self.slices[s]
        value &= 0x0F  # PH_RET/PH_ADV strobes are not modelled
        if value == sl.csr:
            return
        c = self._cycle()
        self._materialize(sl, c)
        was_running = sl.csr & CSR_EN
        sl.csr = value
        self._split(sl, c, latch_now=bool(was_running and not value & CSR_EN))
        self._notify(s)

    def set_div(self, s: int, value: int) -> None:
        sl = self.slices[s]
        value &= 0xFFF
        if value == sl.div:
            return
        c = self._cycle()
        self._materialize(sl, c)
        sl.div = value
        if sl.csr & CSR_EN:
            self._split(sl, c)
        else:
            t = sl.segs[-1]
            t.d16 = _div16(value)  # a halted segment's output does not depend on DIV
            if t.acc >= t.d16:
                t.acc = t.d16 - 1
        self._notify(s)

    def set_ctr(self, s: int, value: int) -> None:
        sl = self.slices[s]
        c = self._cycle()
        self._materialize(sl, c)
        t = sl.segs[-1]
        # Take the counter state at c, then overwrite the value (direction kept).
        self._split(sl, c)
        n = sl.segs[-1]
        if t.run:
            # Outputs follow the new count at once when running.
            sl.segs[-1] = _Seg(n.c0, n.run, n.ph, n.inv_a, n.inv_b, n.d16, n.acc, n.top, n.cc_a, n.cc_b,
                               value & 0xFFFF, n.up, n.hold_a, n.hold_b, n.wrap)
        else:
            n.v = value & 0xFFFF  # halted: the count changes, the held outputs do not
        sl.virt_ok = False
        self._notify(s)

    def _set_buffered(self, s: int, cc: int, top: int) -> None:
        sl = self.slices[s]
        if cc == sl.cc and top == sl.top:
            return
        top_changed = top != sl.top
        c = self._cycle()
        self._materialize(sl, c)
        sl.cc = cc
        sl.top = top
        t = sl.segs[-1]
        if not t.run:
            # Not running: latched at once. The held outputs do not depend on CC/TOP.
            t.top, t.cc_a, t.cc_b = top, cc & 0xFFFF, cc >> 16
            t.L = (top + 1) * (2 if t.ph else 1)
            sl.pend_c = -1
        elif sl.pending():
            if sl.pend_c < 0:
                sl.pend_c = c
        else:
            sl.pend_c = -1
        sl.virt_ok = False
        if top_changed:
            self._notify(s)  # CC alone never moves a wrap

    def set_cc(self, s: int, value: int) -> None:
        self._set_buffered(s, value & _M32, self.slices[s].top)

    def set_top(self, s: int, value: int) -> None:
        self._set_buffered(s, self.slices[s].cc, value & 0xFFFF)

    def set_chan_level(self, s: int, ch: int, level: int) -> None:
        """pwm_set_chan_level: a masked write of one half of CC."""
        cc = self.slices[s].cc
        if ch:
            cc = (cc & 0xFFFF) | ((level & 0xFFFF) << 16)
        else:
            cc = (cc & 0xFFFF0000) | (level & 0xFFFF)
        self.set_cc(s, cc)

    def set_csr_masked(self, s: int, value: int, mask: int) -> None:
        """hw_write_masked on CSR, as pwm_set_enabled/pwm_set_output_polarity do."""
        csr = self.slices[s].csr
        self.set_csr(s, (csr & ~mask) | (value & mask))

    def reset(self) -> None:
        """Reset the block (RESETS.PWM, as a watchdog or power-on reset does).

        The MicroPython-side state of machine.PWM (in RAM) restarts with it.
        History before the reset stays queryable.
        """
        c = self._cycle()
        for sl in self.slices:
            self._materialize(sl, c)
            sl.csr = 0
            sl.div = DIV_RESET
            sl.cc = 0
            sl.top = TOP_RESET
            sl.pend_c = -1
            sl.int_clear_ns = self.clock.now_ns()
            self._push(sl, _Seg(c, False, False, 0, 0, 16, 0, TOP_RESET, 0, 0, 0, True, 0, 0))
        self.inte = 0
        self.intf = 0
        self.mp = _MpState()
        for s in range(N_SLICES):
            self._notify(s)

    # -- queries -------------------------------------------------------------------------
    def counter(self, s: int, t_ns: int) -> int:
        """Counter value of slice s at time t_ns."""
        sl = self.slices[s]
        k = sl.index(t_ns)
        if k < 0:
            return 0
        g = sl.get(k)
        if not g.run:
            return g.v
        return g.value(g.steps_at(g.c0 + (t_ns - g.t0) // NS_PER_CYCLE))

    def channel_level(self, gpio: int, t_ns: int) -> int:
        """Output level (after inversion) of GPIO gpio's PWM channel at time t_ns."""
        sl = self.slices[gpio_to_slice(gpio)]
        k = sl.index(t_ns)
        if k < 0:
            return 0
        return sl.get(k).level_at_ns(gpio & 1, t_ns)

    def channel_edges(self, gpio: int, t0_ns: int, t1_ns: int) -> "List[Tuple[int, int]]":
        """Level changes of GPIO gpio's PWM channel in [t0_ns, t1_ns): (t_ns, new level), in order.

        A change exactly at t0_ns is listed when the level just before differs.
        Work is per PWM period, not per counter step.
        """
        out: List[Tuple[int, int]] = []
        if t1_ns <= t0_ns:
            return out
        ch = gpio & 1
        sl = self.slices[gpio_to_slice(gpio)]
        prev = self.channel_level(gpio, t0_ns - 1) if t0_ns > 0 else 0
        k = max(sl.index(t0_ns), 0)
        nseg = sl.count()
        while k < nseg:
            g = sl.get(k)
            if g.t0 >= t1_ns:
                break
            end = sl.end_ns(k, t1_ns)
            lo = g.t0 if g.t0 > t0_ns else t0_ns
            hi = end if end < t1_ns else t1_ns
            k += 1
            if lo >= hi:
                continue
            inv = g.inv_b if ch else g.inv_a
            ia = g.steps_at(g.c0 + (lo - g.t0) // NS_PER_CYCLE)
            first = g.raw_level(ch, ia) ^ inv
            if first != prev:
                out.append((lo, first))
                prev = first
            if not g.run:
                continue
            ib = g.steps_at(g.c0 + (hi - 1 - g.t0) // NS_PER_CYCLE)
            for i in g.change_steps(ch, ia, ib):
                lev = g.raw_level(ch, i) ^ inv
                if lev != prev:
                    out.append((g.cycle_of(i) * NS_PER_CYCLE, lev))
                    prev = lev
        return out

    def _wrap_runs(self, s: int, t0_ns: int, t1_ns: int) -> "List[Tuple[_Seg, int, int, int]]":
        """For each segment of slice s in [t0_ns, t1_ns): (segment, 1 if it starts at a wrap in the
        window else 0, first and last step index of its own wraps in the window; first > last: none)."""
        out: List[Tuple[_Seg, int, int, int]] = []
        sl = self.slices[s]
        k = max(sl.index(t0_ns), 0)
        nseg = sl.count()
        while k < nseg:
            g = sl.get(k)
            if g.t0 >= t1_ns:
                break
            end = sl.end_ns(k, t1_ns)
            hi = end if end < t1_ns else t1_ns
            k += 1
            i = 1
            ib = 0
            if g.run and hi > g.t0:
                i = _latch_from(g, t0_ns)
                ib = g.steps_at(g.c0 + (hi - 1 - g.t0) // NS_PER_CYCLE)
            out.append((g, 1 if g.wrap and g.t0 >= t0_ns else 0, i, ib))
        return out

    def wrap_times(self, s: int, t0_ns: int, t1_ns: int) -> "List[int]":
        """Times in [t0_ns, t1_ns) at which slice s wraps (latch points; 0 -> 0 turns in phase-correct)."""
        out: List[int] = []
        for g, starts, first, last in self._wrap_runs(s, t0_ns, t1_ns):
            if starts:
                out.append(g.t0)
            for i in range(first, last + 1, g.L):
                out.append(g.cycle_of(i) * NS_PER_CYCLE)
        return out

    def count_wraps(self, s: int, t0_ns: int, t1_ns: int) -> int:
        """How many wraps slice s makes in [t0_ns, t1_ns): len(wrap_times(...)) in O(segments).

        History before the oldest kept segment counts from that segment on.
        """
        n = 0
        for g, starts, i, ib in self._wrap_runs(s, max(t0_ns, self.slices[s].segs[0].t0), t1_ns):
            n += starts
            if i <= ib:
                n += (ib - i) // g.L + 1
        return n

    def next_wrap_ns(self, s: int, after_ns: int) -> int:
        """First wrap of slice s strictly after after_ns if nothing else is written; -1 if none."""
        sl = self.slices[s]
        k = max(_find(sl.segs, after_ns), 0)
        nseg = sl.count()
        while k < nseg:
            g = sl.get(k)
            if g.wrap and g.t0 > after_ns:
                return g.t0
            if g.run:
                t = g.cycle_of(_latch_from(g, after_ns + 1)) * NS_PER_CYCLE
                if k + 1 >= nseg or t < sl.get(k + 1).t0:
                    return t
            k += 1
        return -1

    def _intr(self) -> int:
        now = self.clock.now_ns()
        v = 0
        for s in range(N_SLICES):
            w = self.next_wrap_ns(s, self.slices[s].int_clear_ns)
            if 0 <= w <= now:
                v |= 1 << s
        return v

    def forget_before(self, t_ns: int) -> None:
        """Drop history no query at or after t_ns needs (the level at t_ns - 1 stays known)."""
        for sl in self.slices:
            segs = sl.segs
            k = _find(segs, t_ns - 1)
            if k > 0:
                del segs[:k]

    def history_len(self, s: int) -> int:
        return len(self.slices[s].segs)


# -- machine.PWM ------------------------------------------------------------------------
# ports/rp2/machine_pwm.c keeps one static object per (slice, channel), so GPIO n
# and n + 16 share it. Their RAM state lives here, per chip.
_VALUE_NOT_SET = -1
_DUTY_NOT_SET = 0
_DUTY_U16 = 1
_DUTY_NS = 2
_TOP_MAX = 65534


class _MpState:
    def __init__(self) -> None:
        self.defer_start = False
        self.slice_freq_set = [False] * N_SLICES
        self.invert = [0] * (2 * N_SLICES)
        self.duty_type = [_DUTY_NOT_SET] * (2 * N_SLICES)
        self.duty = [0] * (2 * N_SLICES)


class _Absent:
    pass


_ABSENT: "Any" = _Absent()


def _get_int(v: "Any") -> int:
    """mp_obj_get_int on rp2 (32-bit mp_int_t)."""
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, int):
        if v < -0x80000000 or v > 0x7FFFFFFF:
            raise OverflowError("overflow converting long int to machine word")
        return v
    raise TypeError("can't convert " + type(v).__name__ + " to int")


def _c_div(a: int, b: int) -> int:
    """C signed division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _get_slice_hz(offset: int, div16: int) -> int:
    """machine_pwm.c get_slice_hz: floor((16*F + offset) / div16) in uint32 (or uint64) arithmetic."""
    offset &= _M32
    div16 &= _M32
    if div16 == 0:
        raise ZeroDivisionError("fakehw: machine_pwm.c divides by zero here (undefined on the board)")
    if SYS_HZ + offset // 16 > 268000000:
        return ((16 * SYS_HZ + offset) // div16) & _M32
    return (((16 * SYS_HZ) + offset) & _M32) // div16


def _get_slice_hz_round(div16: int) -> int:
    return _get_slice_hz((div16 & _M32) // 2, div16)


def _get_slice_hz_ceil(div16: int) -> int:
    return _get_slice_hz((div16 & _M32) - 1, div16)


def freq_to_div_top(freq: int) -> "Tuple[int, int]":
    """(div16, top) exactly as mp_machine_pwm_freq_set computes them; raises its ValueErrors.

    With a 125 MHz sysclk "freq too large" is unreachable (div16 is 16 on that
    branch); a freq above about 250 MHz (or below 0) makes top wrap to 0xFFFF in
    the C code, and so here.
    """
    fu = freq & _M32
    if fu == 0:
        raise ZeroDivisionError("fakehw: freq 0 divides by zero in machine_pwm.c (undefined on the board)")
    num = (SYS_HZ + _c_div(freq, 2)) & _M32
    if num // fu < _TOP_MAX:
        div16 = 16
        top = (num // fu - 1) & _M32
    else:
        div16 = _get_slice_hz_ceil((_TOP_MAX * freq) & _M32)
        top = (_get_slice_hz_round((div16 * freq) & _M32) - 1) & _M32
    if div16 < 16:
        raise ValueError("freq too large")
    if div16 >= 256 * 16:
        raise ValueError("freq too small")
    return div16, top


class PWM:
    """machine.PWM for rp2: PWM(dest, freq=-1, *, duty_u16=-1, duty_ns=-1, invert=-1).

    As in the C port, -1 means "not given", freq may be positional, and one
    frequency is shared by both channels of a slice. deinit() stops the whole
    slice and leaves both outputs at whatever level they had; a later duty or
    freq call on either channel starts it again.
    """

    def __init__(self, dest: "Any", freq: int = -1, *, duty_u16: int = -1, duty_ns: int = -1,
                 invert: int = -1) -> None:
        t = _chip.enter()
        try:
            gpio = _chip.pin_number(dest)
            self._slice = gpio_to_slice(gpio)
            self._chan = gpio_to_channel(gpio)
            self._idx = self._slice * 2 + self._chan
            c = _chip.current()
            st = c.pwm.mp
            st.invert[self._idx] = 0
            st.duty_type[self._idx] = _DUTY_NOT_SET
            self._init_helper(c.pwm, freq, duty_u16, duty_ns, invert)
            c.gpio_set_function(gpio, _chip.FUNC_PWM)
        finally:
            _chip.leave(t)

    def __repr__(self) -> str:
        st = _chip.current().pwm.mp
        return ("<PWM slice=" + str(self._slice) + " channel=" + str(self._chan) + " invert="
                + str(st.invert[self._idx]) + ">")

    def init(self, freq: int = -1, *, duty_u16: int = -1, duty_ns: int = -1, invert: int = -1) -> None:
        t = _chip.enter()
        try:
            self._init_helper(_chip.current().pwm, freq, duty_u16, duty_ns, invert)
        finally:
            _chip.leave(t)

    def deinit(self) -> None:
        t = _chip.enter()
        try:
            _chip.current().pwm.set_csr_masked(self._slice, 0, CSR_EN)
        finally:
            _chip.leave(t)

    def freq(self, value: "Any" = _ABSENT) -> "Any":
        t = _chip.enter()
        try:
            blk = _chip.current().pwm
            if value is _ABSENT:
                if not blk.mp.slice_freq_set[self._slice]:
                    return 0
                sl = blk.slices[self._slice]
                return _get_slice_hz_round((sl.div * (sl.top + 1)) & _M32)
            self._freq_set(blk, _get_int(value))
            return None
        finally:
            _chip.leave(t)

    def duty_u16(self, value: "Any" = _ABSENT) -> "Any":
        t = _chip.enter()
        try:
            blk = _chip.current().pwm
            if value is _ABSENT:
                st = blk.mp
                if st.duty_type[self._idx] != _DUTY_NOT_SET and st.slice_freq_set[self._slice]:
                    sl = blk.slices[self._slice]
                    cc = (sl.cc >> (16 * self._chan)) & 0xFFFF
                    return (cc * 65535 + (sl.top + 1) // 2) // (sl.top + 1)
                return 0
            _duty_set_u16(blk, self._idx, _get_int(value))
            return None
        finally:
            _chip.leave(t)

    def duty_ns(self, value: "Any" = _ABSENT) -> "Any":
        t = _chip.enter()
        try:
            blk = _chip.current().pwm
            if value is _ABSENT:
                st = blk.mp
                if st.duty_type[self._idx] != _DUTY_NOT_SET and st.slice_freq_set[self._slice]:
                    sl = blk.slices[self._slice]
                    slice_hz = _get_slice_hz_round(sl.div)
                    cc = (sl.cc >> (16 * self._chan)) & 0xFFFF
                    return ((cc * 1000000000 + slice_hz // 2) // slice_hz) & _M32
                return 0
            _duty_set_ns(blk, self._idx, _get_int(value))
            return None
        finally:
            _chip.leave(t)

    # -- mp_machine_pwm_init_helper / freq_set, as in machine_pwm.c -----------------------
    def _init_helper(self, blk: PwmBlock, freq: int, duty_u16: int, duty_ns: int, invert: int) -> None:
        freq = _get_int(freq)
        duty_u16 = _get_int(duty_u16)
        duty_ns = _get_int(duty_ns)
        invert = _get_int(invert)
        st = blk.mp
        # As the C code: if a setter raises, defer_start stays True (no slice
        # starts from a duty/freq call until the next init completes).
        st.defer_start = True
        if freq != _VALUE_NOT_SET:
            self._freq_set(blk, freq)
        if duty_u16 != _VALUE_NOT_SET:
            _duty_set_u16(blk, self._idx, duty_u16)
        if duty_ns != _VALUE_NOT_SET:
            _duty_set_ns(blk, self._idx, duty_ns)
        if invert != _VALUE_NOT_SET:
            st.invert[self._idx] = 1 if invert else 0
        st.defer_start = False
        _start(blk, self._idx)

    def _freq_set(self, blk: PwmBlock, freq: int) -> None:
        div16, top = freq_to_div_top(freq)
        s = self._slice
        blk.set_div(s, div16)  # pwm_hw->slice[s].div = div16 (full register write)
        blk.set_top(s, top)
        st = blk.mp
        st.slice_freq_set[s] = True
        for idx in (self._idx, self._idx ^ 1):  # self, then the other channel of the slice
            if st.duty_type[idx] == _DUTY_U16:
                _duty_set_u16(blk, idx, st.duty[idx])
            elif st.duty_type[idx] == _DUTY_NS:
                _duty_set_ns(blk, idx, st.duty[idx])


def _start(blk: PwmBlock, idx: int) -> None:
    """machine_pwm_start: enable the slice once its freq and this channel's duty are set."""
    st = blk.mp
    s = idx >> 1
    if not st.defer_start and st.slice_freq_set[s] and st.duty_type[idx] != _DUTY_NOT_SET:
        a_inv = st.invert[s * 2]
        b_inv = st.invert[s * 2 + 1]
        value = (CSR_A_INV if a_inv else 0) | (CSR_B_INV if b_inv else 0) | CSR_EN
        blk.set_csr_masked(s, value, CSR_A_INV | CSR_B_INV | CSR_EN)


def _duty_set_u16(blk: PwmBlock, idx: int, duty_u16: int) -> None:
    s = idx >> 1
    top = blk.slices[s].top
    duty_u16 = min(duty_u16, 65535)
    cc = ((((duty_u16 & _M32) * (top + 1)) & _M32) + 65535 // 2) & _M32
    cc //= 65535
    blk.set_chan_level(s, idx & 1, cc)
    st = blk.mp
    st.duty[idx] = duty_u16
    st.duty_type[idx] = _DUTY_U16
    _start(blk, idx)


def _duty_set_ns(blk: PwmBlock, idx: int, duty_ns: int) -> None:
    s = idx >> 1
    sl = blk.slices[s]
    slice_hz = _get_slice_hz_round(sl.div)
    cc = ((((duty_ns & _M64) * slice_hz) & _M64) + 500000000) & _M64
    cc = (cc // 1000000000) & _M32
    top = sl.top
    cc = min(cc, top + 1)
    blk.set_chan_level(s, idx & 1, cc)
    st = blk.mp
    st.duty[idx] = duty_ns
    st.duty_type[idx] = _DUTY_NS
    _start(blk, idx)
