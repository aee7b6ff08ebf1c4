"""The RP2040's two PIO blocks (datasheet 3), at register level, cycle-exact for what PicoStim runs.

Each block has 32 words of instruction memory and four state machines with
their registers (CLKDIV, EXECCTRL, SHIFTCTRL, ADDR, INSTR, PINCTRL), a TX FIFO
each (4 words, 8 with FJOIN_TX), and the block registers CTRL (SM_ENABLE,
self-clearing SM_RESTART and CLKDIV_RESTART), FSTAT, FDEBUG and FLEVEL. The
APB-style atomic aliases (+0x1000 XOR, +0x2000 SET, +0x3000 CLR) work as on
the chip (pico-sdk's hw_set_bits on PIO registers uses them).

Execution
---------
A state machine runs one instruction per clock-divided cycle (divider 1: one
per clk_sys cycle, 8 ns at 125 MHz) plus its delay cycles. Side-set takes
effect at the start of an instruction, even one that stalls. With
autopull, an OUT that empties the OSR is followed by a background refill from
the TX FIFO (on the next cycle, or at the push if the FIFO was empty), so the
FIFO runs one word ahead; an OUT that finds the OSR empty refills it on one
cycle and shifts on the next, and with the FIFO empty too it stalls until a
word is pushed (datasheet 3.5.4.2; the silicon tier's patches/pio.mjs agrees).
SM_RESTART empties the OSR (shift count 32) and leaves the PC, X and Y; a write
to SMn_INSTR executes that instruction at once, without moving the PC. Changing FJOIN_TX or FJOIN_RX empties both FIFOs.

Instructions modelled: JMP (always, !X, X--, !Y, Y--, X!=Y, !OSRE), OUT (to
PINS, X, Y, NULL, PINDIRS), PULL (block, noblock, ifempty), SET (PINS, X, Y,
PINDIRS), MOV (X, Y, PINS from X, Y, NULL, PINS with none/invert), and so NOP
(`mov y, y`), with side-set (optional or not, pins or pindirs) and delays.
Anything else raises ValueError: the model refuses to guess. A `jmp x--` or
`jmp y--` to its own address is run as one step of (x + 1) iterations, so a
34 s rest costs the host nothing; an interruption in the middle (disable)
leaves the register where the silicon would have it.

Time is lazy: a machine runs only when something looks at it (a register
access, a pad level, a DMA push), always in time order, up to that moment.
The DMA asks `next_pop_ns` when it waits for room in a TX FIFO and is called
back then (dma.py); `watchers` hear of every register write that can move a
machine's future (enable, restart, exec, FIFO clear).

Pins: each block keeps its 32 output values and directions; a GPIO whose
FUNCSEL is PIO0 (6) or PIO1 (7) follows its block (chip.py), as a history of
(t_ns, level), level -1 where the block does not drive the pin.

Runs unchanged on CPython and on the MicroPython unix port.
"""

from .clock import NS_PER_CYCLE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Tuple

    from .clock import Clock

PIO0_BASE = 0x50200000
PIO1_BASE = 0x50300000
BLOCK_SPAN = 0x4000  # the registers and their three atomic aliases
N_SM = 4

CTRL = 0x000
FSTAT = 0x004
FDEBUG = 0x008
FLEVEL = 0x00C
TXF0 = 0x010
RXF0 = 0x020
INSTR_MEM0 = 0x048
SM0_CLKDIV = 0x0C8
SM_STRIDE = 0x18
CLKDIV, EXECCTRL, SHIFTCTRL, ADDR, INSTR, PINCTRL = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14
DBG_CFGINFO = 0x044
INTR = 0x128

# Reset values (datasheet 3.7).
CLKDIV_RESET = 0x00010000
EXECCTRL_RESET = 0x0001F000  # WRAP_TOP 31, WRAP_BOTTOM 0
SHIFTCTRL_RESET = 0x000C0000  # both shift directions right, thresholds 32, no autopull
PINCTRL_RESET = 0x14000000  # SET_COUNT 5

EXECCTRL_SIDE_EN = 1 << 30
EXECCTRL_SIDE_PINDIR = 1 << 29
SHIFTCTRL_FJOIN_TX = 1 << 30
SHIFTCTRL_FJOIN_RX = 1 << 31
SHIFTCTRL_OUT_SHIFTDIR = 1 << 19
SHIFTCTRL_AUTOPULL = 1 << 17
FDEBUG_TXSTALL = 24
FDEBUG_TXOVER = 16

DREQ_PIO0_TX0 = 0  # RP2040 datasheet table 120: PIO0 TX0..3 = 0..3, PIO1 TX0..3 = 8..11
DREQ_PIO1_TX0 = 8
_M32 = 0xFFFFFFFF
_COLLAPSE_LIMIT = 256  # instructions next_pop_ns looks ahead before it gives up (no pop coming)


def tx_dreq(dreq: int) -> "Optional[Tuple[int, int]]":
    """(block, state machine) whose TX FIFO DREQ `dreq` is, or None if it is no PIO TX DREQ."""
    if DREQ_PIO0_TX0 <= dreq < DREQ_PIO0_TX0 + N_SM:
        return 0, dreq - DREQ_PIO0_TX0
    if DREQ_PIO1_TX0 <= dreq < DREQ_PIO1_TX0 + N_SM:
        return 1, dreq - DREQ_PIO1_TX0
    return None


class _Sm:
    """One state machine: its registers, its scratch state and the time its next instruction starts."""

    def __init__(self, blk: "PioBlock", index: int) -> None:
        self.blk = blk
        self.index = index
        self.reset(0)

    def reset(self, now: int) -> None:
        self.clkdiv = CLKDIV_RESET
        self.execctrl = EXECCTRL_RESET
        self.shiftctrl = SHIFTCTRL_RESET
        self.pinctrl = PINCTRL_RESET
        self.enabled = False
        self.pc = 0
        self.x = 0
        self.y = 0
        self.osr = 0
        self.osr_count = 32  # bits shifted out: 32 = empty
        self.fifo: List[int] = []
        self.t = now  # when the next instruction starts (a running machine)
        self.stalled = False  # at an OUT/PULL waiting for the FIFO
        self.loop: Optional[Tuple[int, int, int, int, int]] = None  # (pc, reg, value, t0, ns per pass)
        self.pops = 0  # words taken from the FIFO (statistics)

    def clone(self) -> "_Sm":
        c = _Sm(self.blk, self.index)
        for k in ("clkdiv", "execctrl", "shiftctrl", "pinctrl", "enabled", "pc", "x", "y", "osr", "osr_count",
                  "t", "stalled", "loop", "pops"):
            setattr(c, k, getattr(self, k))
        c.fifo = list(self.fifo)
        return c

    # -- configuration read from the registers ---------------------------------------------------
    def cycle_ns(self) -> int:
        d = self.clkdiv >> 16
        if self.clkdiv & 0xFF00:
            raise ValueError("fakehw: a fractional PIO clock divider is not modelled")
        return NS_PER_CYCLE * (d if d else 65536)

    def depth(self) -> int:
        return 8 if self.shiftctrl & SHIFTCTRL_FJOIN_TX else (0 if self.shiftctrl & SHIFTCTRL_FJOIN_RX else 4)

    def pull_thresh(self) -> int:
        t = (self.shiftctrl >> 25) & 0x1F
        return t if t else 32

    def wrap(self) -> "Tuple[int, int]":
        return (self.execctrl >> 12) & 0x1F, (self.execctrl >> 7) & 0x1F

    def next_pc(self, pc: int) -> int:
        top, bottom = self.wrap()
        return bottom if pc == top else (pc + 1) & 0x1F

    # -- running -----------------------------------------------------------------------------------
    def run(self, until: int, pins: bool = True, stop_at_pop: bool = False) -> int:
        """Execute every instruction that starts at or before `until`. pins False: a dry run (no pin
        writes). stop_at_pop: return at the first FIFO pop, with its time; otherwise return -1."""
        n = 0
        while self.enabled and not self.stalled and self.t <= until:
            popped = self.step(self.blk.mem[self.pc], self.t, pins, True)
            if stop_at_pop:
                if popped >= 0:
                    return popped
                n += 1
                if n > _COLLAPSE_LIMIT:
                    return -1
        return -1

    def step(self, instr: int, t: int, pins: bool, from_mem: bool) -> int:
        """Execute one instruction starting at t (from instruction memory, or an SMn_INSTR exec).
        Returns the pop time if it took a word from the FIFO, else -1."""
        blk = self.blk
        ss_count = (self.pinctrl >> 29) & 7
        side_en = self.execctrl & EXECCTRL_SIDE_EN
        field = (instr >> 8) & 0x1F
        delay_bits = 5 - ss_count
        delay = field & ((1 << delay_bits) - 1)
        if ss_count:
            side = field >> delay_bits
            if side_en:
                on = side >> (ss_count - 1)
                side &= (1 << (ss_count - 1)) - 1
                n_side = ss_count - 1
            else:
                on = 1
                n_side = ss_count
            if on and n_side and pins:
                base = (self.pinctrl >> 10) & 0x1F
                if self.execctrl & EXECCTRL_SIDE_PINDIR:
                    blk.write_pins(t, base, n_side, side, True)
                else:
                    blk.write_pins(t, base, n_side, side, False)
        op = instr >> 13
        arg = instr & 0xFF
        cyc = self.cycle_ns()
        popped = -1
        extra = 0  # cycles before the instruction's own: an autopull refill
        nxt = self.next_pc(self.pc) if from_mem else self.pc
        self.loop = None
        if op == 0:  # JMP
            cond = (arg >> 5) & 7
            target = arg & 0x1F
            if from_mem and target == self.pc and cond in (2, 4):
                # A counting loop on itself: x + 1 passes, then x (or y) is 0xFFFFFFFF; one step.
                v = self.x if cond == 2 else self.y
                per = (1 + delay) * cyc
                self.loop = (self.pc, cond, v, t, per)
                if cond == 2:
                    self.x = _M32
                else:
                    self.y = _M32
                self.pc = nxt
                self.t = t + (v + 1) * per
                return -1
            if self._cond(cond):
                nxt = target
        elif op == 3:  # OUT
            autopull = self.shiftctrl & SHIFTCTRL_AUTOPULL
            if autopull and self.osr_count >= self.pull_thresh():
                if not self.fifo:
                    self.stalled = True
                    blk.fdebug |= 1 << (FDEBUG_TXSTALL + self.index)
                    return -1
                # An OUT that finds the OSR empty refills it on this cycle and shifts on the next
                # (datasheet 3.5.4.2): one cycle more than an OUT whose word was prefetched.
                self.osr = self.fifo.pop(0)
                self.osr_count = 0
                self.pops += 1
                popped = t
                extra = cyc
            n = arg & 0x1F
            n = n if n else 32
            if self.shiftctrl & SHIFTCTRL_OUT_SHIFTDIR:
                v = self.osr & ((1 << n) - 1) if n < 32 else self.osr
                self.osr = (self.osr >> n) if n < 32 else 0
            else:
                v = (self.osr >> (32 - n)) & _M32
                self.osr = (self.osr << n) & _M32 if n < 32 else 0
            self.osr_count = min(32, self.osr_count + n)
            dest = (arg >> 5) & 7
            if dest == 0:
                if pins:
                    blk.write_pins(t, self.pinctrl & 0x1F, (self.pinctrl >> 20) & 0x3F, v, False)
            elif dest == 1:
                self.x = v
            elif dest == 2:
                self.y = v
            elif dest == 3:
                pass
            elif dest == 4:
                if pins:
                    blk.write_pins(t, self.pinctrl & 0x1F, (self.pinctrl >> 20) & 0x3F, v, True)
            else:
                raise ValueError("fakehw: PIO OUT to destination %d is not modelled" % dest)
            if autopull and self.osr_count >= self.pull_thresh() and self.fifo:
                # The background refill: the next word enters the emptied OSR on the next cycle, so
                # the FIFO runs one word ahead of what the machine has used (3.5.4.2).
                self.osr = self.fifo.pop(0)
                self.osr_count = 0
                self.pops += 1
                if popped < 0:
                    popped = t + extra + cyc
        elif op == 4 and arg & 0x80 and not arg & 0x1F:  # PULL
            if not (arg & 0x40 and self.shiftctrl & SHIFTCTRL_AUTOPULL and self.osr_count < self.pull_thresh()):
                if self.fifo:
                    self.osr = self.fifo.pop(0)
                    self.pops += 1
                    popped = t
                elif arg & 0x20:  # block
                    self.stalled = True
                    blk.fdebug |= 1 << (FDEBUG_TXSTALL + self.index)
                    return -1
                else:
                    self.osr = self.x
                self.osr_count = 0
        elif op == 7:  # SET
            dest = (arg >> 5) & 7
            v = arg & 0x1F
            if dest == 0:
                if pins:
                    blk.write_pins(t, (self.pinctrl >> 5) & 0x1F, (self.pinctrl >> 26) & 7, v, False)
            elif dest == 1:
                self.x = v
            elif dest == 2:
                self.y = v
            elif dest == 4:
                if pins:
                    blk.write_pins(t, (self.pinctrl >> 5) & 0x1F, (self.pinctrl >> 26) & 7, v, True)
            else:
                raise ValueError("fakehw: PIO SET to destination %d is not modelled" % dest)
        elif op == 5:  # MOV
            dest = (arg >> 5) & 7
            mop = (arg >> 3) & 3
            src = arg & 7
            if src == 1:
                v = self.x
            elif src == 2:
                v = self.y
            elif src == 3:
                v = 0
            else:
                raise ValueError("fakehw: PIO MOV from source %d is not modelled" % src)
            if mop == 1:
                v = ~v & _M32
            elif mop:
                raise ValueError("fakehw: PIO MOV operation %d is not modelled" % mop)
            if dest == 1:
                self.x = v
            elif dest == 2:
                self.y = v
            elif dest == 0:
                if pins:
                    blk.write_pins(t, self.pinctrl & 0x1F, (self.pinctrl >> 20) & 0x3F, v, False)
            else:
                raise ValueError("fakehw: PIO MOV to destination %d is not modelled" % dest)
        else:
            raise ValueError("fakehw: PIO instruction %s is not modelled" % hex(instr))
        self.pc = nxt
        self.t = t + extra + (1 + delay) * cyc
        return popped

    def _cond(self, cond: int) -> bool:
        if cond == 0:
            return True
        if cond == 1:
            return self.x == 0
        if cond == 2:
            taken = self.x != 0
            self.x = (self.x - 1) & _M32
            return taken
        if cond == 3:
            return self.y == 0
        if cond == 4:
            taken = self.y != 0
            self.y = (self.y - 1) & _M32
            return taken
        if cond == 5:
            return self.x != self.y
        if cond == 7:
            return self.osr_count < self.pull_thresh()
        raise ValueError("fakehw: PIO JMP on a pin is not modelled")

    def interrupt(self, now: int) -> None:
        """The machine stops mid-instruction at `now` (disable): a counting loop keeps its count."""
        if self.t > now and self.loop is not None:
            pc, cond, v, t0, per = self.loop
            done = (now - t0) // per if now > t0 else 0
            left = (v - done) & _M32
            if cond == 2:
                self.x = left
            else:
                self.y = left
            self.pc = pc
        self.loop = None
        self.t = now

    def addr(self, now: int) -> int:
        if self.loop is not None and now < self.t:
            return self.loop[0]
        return self.pc


class PioBlock:
    """One PIO block: instruction memory, four state machines, the pins it drives."""

    def __init__(self, index: int, clock: "Clock") -> None:
        self.index = index
        self.clock = clock
        self.mem = [0] * 32
        self.sm = [_Sm(self, i) for i in range(N_SM)]
        self.fdebug = 0
        self.pin_out = 0
        self.pin_oe = 0
        self.history: List[List[Tuple[int, int]]] = [[(0, -1)] for _ in range(32)]

    def reset(self, now: int) -> None:
        self.mem = [0] * 32
        for s in self.sm:
            s.reset(now)
        self.fdebug = 0
        self.pin_out = 0
        self.pin_oe = 0
        for p in range(32):
            self._record(p, now)

    # -- pins ----------------------------------------------------------------------------------
    def write_pins(self, t: int, base: int, count: int, value: int, dirs: bool) -> None:
        changed = 0
        for i in range(count):
            p = (base + i) & 31
            bit = 1 << p
            v = bit if (value >> i) & 1 else 0
            if dirs:
                if self.pin_oe & bit != v:
                    self.pin_oe ^= bit
                    changed |= bit
            elif self.pin_out & bit != v:
                self.pin_out ^= bit
                changed |= bit
        p = 0
        while changed:
            if changed & 1:
                self._record(p, t)
            changed >>= 1
            p += 1

    def _record(self, p: int, t: int) -> None:
        bit = 1 << p
        lev = (1 if self.pin_out & bit else 0) if self.pin_oe & bit else -1
        h = self.history[p]
        i = len(h)
        while i > 0 and h[i - 1][0] > t:  # a machine synced behind another: keep time order
            i -= 1
        if i > 0 and h[i - 1][0] == t:
            h[i - 1] = (t, lev)
        else:
            h.insert(i, (t, lev))

    def level(self, p: int, t: int) -> int:
        h = self.history[p]
        i = len(h) - 1
        while i > 0 and h[i][0] > t:
            i -= 1
        return h[i][1]

    def edges(self, p: int, t0: int, t1: int) -> "List[Tuple[int, int]]":
        return [(t, v) for (t, v) in self.history[p] if t0 <= t < t1]

    def forget_before(self, t: int) -> None:
        for h in self.history:
            i = 0
            while i + 1 < len(h) and h[i + 1][0] <= t:
                i += 1
            if i:
                del h[:i]


class PioBlocks:
    """Both PIO blocks of a chip, their registers on the bus, and the DMA's view of their FIFOs."""

    def __init__(self, clock: "Clock") -> None:
        self.clock = clock
        self.blocks = [PioBlock(0, clock), PioBlock(1, clock)]
        self.watchers: List[Callable[[int], None]] = []  # called with a TX DREQ number

    def reset(self) -> None:
        now = self.clock.now_ns()
        for b in self.blocks:
            b.reset(now)

    # -- time ------------------------------------------------------------------------------------
    def sync(self, t: "Optional[int]" = None) -> None:
        """Run every enabled machine up to t (default now)."""
        until = self.clock.now_ns() if t is None else t
        for b in self.blocks:
            for s in b.sm:
                if s.enabled and not s.stalled and s.t <= until:
                    s.run(until)

    def next_pop_ns(self, dreq: int) -> int:
        """When the machine behind TX DREQ `dreq` next takes a word from its FIFO, as things stand
        now (a dry run); -1 if it is disabled, stalled on an empty FIFO, or takes none soon."""
        bs = tx_dreq(dreq)
        if bs is None:
            return -1
        self.sync()
        s = self.blocks[bs[0]].sm[bs[1]]
        if not s.enabled or s.stalled:
            return -1
        return s.clone().run(1 << 62, pins=False, stop_at_pop=True)

    def room(self, dreq: int) -> int:
        """Free words in the TX FIFO behind `dreq` now."""
        bs = tx_dreq(dreq)
        if bs is None:
            return 0
        self.sync()
        s = self.blocks[bs[0]].sm[bs[1]]
        return s.depth() - len(s.fifo)

    def _notify(self, blk: int, sm: int) -> None:
        dreq = (DREQ_PIO0_TX0 if blk == 0 else DREQ_PIO1_TX0) + sm
        for w in self.watchers:
            w(dreq)

    # -- pads ------------------------------------------------------------------------------------
    def pin_level(self, blk: int, p: int, t: int) -> int:
        """Block blk's drive of GPIO p at time t: 0, 1, or -1 (not driving it)."""
        self.sync()
        return self.blocks[blk].level(p, t)

    def pin_edges(self, blk: int, p: int, t0: int, t1: int) -> "List[Tuple[int, int]]":
        self.sync()
        return self.blocks[blk].edges(p, t0, t1)

    def forget_before(self, t: int) -> None:
        self.sync()
        for b in self.blocks:
            b.forget_before(t)

    # -- registers -------------------------------------------------------------------------------
    def read_reg(self, blk: int, off: int) -> int:
        self.sync()
        now = self.clock.now_ns()
        b = self.blocks[blk]
        if off == CTRL:
            return sum(1 << i for i in range(N_SM) if b.sm[i].enabled)
        if off == FSTAT:
            v = 0
            for i in range(N_SM):
                s = b.sm[i]
                if not s.fifo:
                    v |= 1 << (24 + i)  # TXEMPTY
                if len(s.fifo) >= s.depth():
                    v |= 1 << (16 + i)  # TXFULL
                v |= 1 << (8 + i)  # RXEMPTY: no RX path modelled
            return v
        if off == FDEBUG:
            return b.fdebug
        if off == FLEVEL:
            return sum(min(15, len(b.sm[i].fifo)) << (8 * i) for i in range(N_SM))
        if off == DBG_CFGINFO:
            return (32 << 16) | (4 << 8) | 4
        if INSTR_MEM0 <= off < INSTR_MEM0 + 128:
            return 0  # write-only
        if SM0_CLKDIV <= off < SM0_CLKDIV + N_SM * SM_STRIDE:
            s = b.sm[(off - SM0_CLKDIV) // SM_STRIDE]
            r = (off - SM0_CLKDIV) % SM_STRIDE
            if r == CLKDIV:
                return s.clkdiv
            if r == EXECCTRL:
                return s.execctrl | ((1 << 31) if s.stalled else 0)
            if r == SHIFTCTRL:
                return s.shiftctrl
            if r == ADDR:
                return s.addr(now)
            if r == INSTR:
                return b.mem[s.addr(now)]
            return s.pinctrl
        if TXF0 <= off < TXF0 + 16 or RXF0 <= off < RXF0 + 16 or off == INTR:
            return 0
        raise ValueError("fakehw: no modelled PIO register at offset " + hex(off))

    def write_reg(self, blk: int, off: int, value: int, alias: int = 0) -> None:
        self.sync()
        now = self.clock.now_ns()
        b = self.blocks[blk]
        value &= _M32
        if off == CTRL:
            old = sum(1 << i for i in range(N_SM) if b.sm[i].enabled)
            value = _alias(alias, old, value)
            for i in range(N_SM):
                s = b.sm[i]
                want = bool(value & (1 << i))
                touched = False
                if want != s.enabled:
                    if want:
                        s.t = -(-now // NS_PER_CYCLE) * NS_PER_CYCLE
                        s.loop = None
                    else:
                        s.interrupt(now)
                    s.enabled = want
                    touched = True
                if value & (1 << (4 + i)):  # SM_RESTART
                    s.osr_count = 32
                    s.osr = 0
                    s.stalled = False
                    s.interrupt(now)
                    s.t = -(-now // NS_PER_CYCLE) * NS_PER_CYCLE
                    touched = True
                if touched:
                    self._notify(blk, i)
            return
        if off == FDEBUG:
            b.fdebug &= ~value  # write 1 to clear
            return
        if TXF0 <= off < TXF0 + 16:
            s = b.sm[(off - TXF0) >> 2]
            if len(s.fifo) >= s.depth():
                b.fdebug |= 1 << (FDEBUG_TXOVER + s.index)  # the word is lost
                return
            s.fifo.append(value)
            if s.stalled:
                s.stalled = False
                t = -(-(now + 1) // NS_PER_CYCLE) * NS_PER_CYCLE  # the first cycle edge after the push
                s.t = t if t > s.t else s.t
            elif s.enabled and s.shiftctrl & SHIFTCTRL_AUTOPULL and s.osr_count >= s.pull_thresh():
                s.osr = s.fifo.pop(0)  # the background refill of an emptied OSR, at the push
                s.osr_count = 0
                s.pops += 1
            return
        if INSTR_MEM0 <= off < INSTR_MEM0 + 128:
            b.mem[(off - INSTR_MEM0) >> 2] = _alias(alias, b.mem[(off - INSTR_MEM0) >> 2], value) & 0xFFFF
            return
        if SM0_CLKDIV <= off < SM0_CLKDIV + N_SM * SM_STRIDE:
            i = (off - SM0_CLKDIV) // SM_STRIDE
            s = b.sm[i]
            r = (off - SM0_CLKDIV) % SM_STRIDE
            if r == CLKDIV:
                s.clkdiv = _alias(alias, s.clkdiv, value) & 0xFFFFFF00
            elif r == EXECCTRL:
                s.execctrl = _alias(alias, s.execctrl, value) & 0x7FFFFFFF
            elif r == SHIFTCTRL:
                new = _alias(alias, s.shiftctrl, value)
                if (new ^ s.shiftctrl) & (SHIFTCTRL_FJOIN_TX | SHIFTCTRL_FJOIN_RX):
                    s.fifo = []  # changing FJOIN discards the FIFOs' contents
                s.shiftctrl = new
            elif r == INSTR:
                # Executed at once, before whatever the machine runs next (pico-sdk pio_sm_exec; the
                # firmware execs only on a disabled machine).
                s.stalled = False
                s.step(value & 0xFFFF, now, True, False)
                if not s.enabled or s.t < now:
                    s.t = now
            elif r == PINCTRL:
                s.pinctrl = _alias(alias, s.pinctrl, value)
            self._notify(blk, i)
            return
        if off in (INTR, DBG_CFGINFO, FSTAT, FLEVEL) or RXF0 <= off < RXF0 + 16:
            return  # read-only
        raise ValueError("fakehw: no modelled writable PIO register at offset " + hex(off))


def _alias(alias: int, old: int, value: int) -> int:
    if alias == 0x1000:
        return old ^ value
    if alias == 0x2000:
        return old | value
    if alias == 0x3000:
        return old & ~value
    return value


def block_of(addr: int) -> "Optional[Tuple[int, int, int]]":
    """(block, register offset, alias) for a bus address in a PIO block, else None."""
    for i, base in ((0, PIO0_BASE), (1, PIO1_BASE)):
        if base <= addr < base + BLOCK_SPAN:
            return i, (addr - base) & 0xFFF, (addr - base) & 0x3000
    return None
