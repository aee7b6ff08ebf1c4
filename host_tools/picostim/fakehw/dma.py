"""The RP2040 DMA block (datasheet 2.5) and MicroPython's rp2.DMA on top of it.

`DmaBlock` models the 12 channels' registers, triggers, chaining, null
triggers, aborts, address increment and ring wrap, and pacing by the PWM
slices' wrap DREQs. `DMA` is MicroPython's rp2.DMA (ports/rp2/rp2_dma.c):
DMA() claims the lowest free channel, config(read=, write=, count=, ctrl=,
trigger=) writes the registers in that order with the trigger on the last
one given, pack_ctrl()/unpack_ctrl() use the C code's field table and
default, active() starts (MULTI_CHAN_TRIGGER) or aborts, and the read,
write, count, ctrl, channel and registers attributes read and write the
channel registers as the C code does.

Transfers
---------
Unpaced channels (TREQ_SEL 0x3F, PERMANENT) run their whole sequence at the
moment they are triggered. A channel paced by DREQ_PWM_WRAP0 + s (24..31)
keeps a credit counter, as the datasheet's credit-based DREQ scheme (2.5.3.2):
every wrap of slice s adds one credit (saturating at 63, a 6-bit counter)
whenever the channel's TREQ_SEL selects that DREQ, busy or not; a busy,
enabled channel issues one transfer per credit. So credits left from wraps
while the channel sat idle are spent at once on the next trigger, as users of
the real chip report (they clear CHn_DBG_CTDREQ, or drain the credits, before
restarting). A transfer caused by the wrap at time t lands at
t + DMA_LATENCY_NS: during the period that wrap begins, so a CC word written
then latches at the end of that period (CC is double-buffered). Writes go
through Chip.mem_write (PWM, IO_BANK0) so that registers have one home; a
write into the DMA block goes to the channel registers (a control channel
retriggering a data channel through AL3_READ_ADDR_TRIG).

Memory
------
A buffer given as read= or write= (anything with the buffer protocol) gets a
fake SRAM address the first time it is seen, 16-byte aligned as MicroPython's
GC blocks are, and keeps it; the DMA reads and writes the live object, so
firmware updates to a buffer are seen by later transfers. The block holds a
reference to every such buffer (the real chip cannot stop firmware from
freeing a buffer that a channel still reads: the model does not catch that).
Bus faults (SIO, which the DMA cannot see, or an unmapped address) set the
channel's READ_ERROR/WRITE_ERROR and halt it, as on the chip, and are listed
in `errors`. Narrow (8/16-bit) writes to peripheral registers are replicated
across the 32-bit bus, as on the RP2040.

A channel paced by a PIO TX FIFO (DREQ_PIO0_TX0..3 = 0..3, DREQ_PIO1_TX0..3 =
8..11) writes while the FIFO has room, and otherwise waits for the state
machine's next pop (pio.py), landing DMA_LATENCY_NS after it.

Not modelled: the pacing timers and DREQs other than PWM wraps and PIO TX
FIFOs (triggering a channel paced by one raises ValueError), the sniffer, high priority, bus
timing between channels (transfers of one trigger or one credit are
instantaneous), and the abort's few cycles of in-flight transfers. A reset of
the chip (watchdog, power) resets the block, noticed from Chip.resets.

Runs unchanged on CPython and on the MicroPython unix port.
"""

from . import chip as _chip
from .clock import NS_PER_CYCLE
from .pio import block_of as _pio_block
from .pio import tx_dreq as _pio_tx

try:
    import micropython as _mp
except ImportError:  # CPython without the shim: no heap to lock
    _mp = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional

    from .chip import Chip

DMA_BASE = 0x50000000
N_CHANNELS = 12
CH_STRIDE = 0x40
BLOCK_SIZE = 0x1000

# Channel register offsets: alias 0 (READ_ADDR, WRITE_ADDR, TRANS_COUNT, CTRL_TRIG) and the
# other three aliases, whose last register is a trigger too.
READ_ADDR = 0x00
WRITE_ADDR = 0x04
TRANS_COUNT = 0x08
CTRL_TRIG = 0x0C
AL1_CTRL = 0x10
AL1_TRANS_COUNT_TRIG = 0x1C
AL2_WRITE_ADDR_TRIG = 0x2C
AL3_TRANS_COUNT = 0x38
AL3_READ_ADDR_TRIG = 0x3C
_R, _W, _N, _C = 0, 1, 2, 3  # physical registers: read, write, count, ctrl
_ALIASES = ((_R, _W, _N, _C), (_C, _R, _W, _N), (_C, _N, _R, _W), (_C, _W, _N, _R))

INTR = 0x400
INTE0 = 0x404
INTF0 = 0x408
INTS0 = 0x40C
INTE1 = 0x414
INTF1 = 0x418
INTS1 = 0x41C
MULTI_CHAN_TRIGGER = 0x430
CHAN_ABORT = 0x444
N_CHANNELS_REG = 0x448
DBG_BASE = 0x800  # CHn_DBG_CTDREQ at 0x800 + 0x40 n, CHn_DBG_TCR at 0x804 + 0x40 n

# CTRL fields (CH0_CTRL_TRIG).
CTRL_EN = 1 << 0
CTRL_HIGH_PRIORITY = 1 << 1
CTRL_INCR_READ = 1 << 4
CTRL_INCR_WRITE = 1 << 5
CTRL_RING_SEL = 1 << 10
CTRL_IRQ_QUIET = 1 << 21
CTRL_BSWAP = 1 << 22
CTRL_BUSY = 1 << 24
CTRL_WRITE_ERROR = 1 << 29
CTRL_READ_ERROR = 1 << 30
CTRL_AHB_ERROR = 1 << 31
_CTRL_WRITABLE = 0x00FFFFFF  # EN .. SNIFF_EN
TREQ_PERMANENT = 0x3F
DREQ_PWM_WRAP0 = 24  # RP2040 datasheet table 120: DREQ_PWM_WRAP0..7 are 24..31
CREDIT_MAX = 63  # the DREQ counter saturates (6 bits)
DMA_LATENCY_NS = 4 * NS_PER_CYCLE  # DREQ to write completion: a few cycles (address, read, write phases)
EBUSY = 16

# rp2_dma.c's field table: (name, shift, length, read_only).
FIELDS = (
    ("enable", 0, 1, False),
    ("high_pri", 1, 1, False),
    ("size", 2, 2, False),
    ("inc_read", 4, 1, False),
    ("inc_write", 5, 1, False),
    ("ring_size", 6, 4, False),
    ("ring_sel", 10, 1, False),
    ("chain_to", 11, 4, False),
    ("treq_sel", 15, 6, False),
    ("irq_quiet", 21, 1, False),
    ("bswap", 22, 1, False),
    ("sniff_en", 23, 1, False),
    ("busy", 24, 1, True),
    ("write_err", 29, 1, False),
    ("read_err", 30, 1, False),
    ("ahb_err", 31, 1, True),
)
# rp2_dma.c DEFAULT_DMA_CONFIG: quiet, unpaced, read and write incrementing, words, enabled.
DEFAULT_CTRL = CTRL_IRQ_QUIET | (TREQ_PERMANENT << 15) | CTRL_INCR_WRITE | CTRL_INCR_READ | (2 << 2) | CTRL_EN

SRAM_BASE = 0x20000000
SRAM_END = 0x20042000
_SRAM_FIRST = 0x20010000  # fake addresses handed to buffers start here
_SRAM_ALIGN = 16  # MicroPython's GC block on a 32-bit port


class _Channel:
    __slots__ = (
        "busy",
        "claimed",
        "count",
        "counted_ns",
        "credits",
        "ctrl",
        "gen",
        "irq_handler",
        "irq_hard",
        "irq_obj",
        "read",
        "reload",
        "write",
    )

    def __init__(self, now: int) -> None:
        self.gen = 0  # bumped to cancel a scheduled wrap event
        self.reset(now)

    def reset(self, now: int) -> None:
        self.gen += 1
        self.read = 0
        self.write = 0
        self.count = 0  # live transfer counter
        self.reload = 0  # last value written to TRANS_COUNT (DBG_TCR)
        self.ctrl = 0  # writable CTRL bits plus the error flags; BUSY is `busy`
        self.busy = False
        self.credits = 0
        self.counted_ns = now  # wraps before this time are in `credits`
        self.claimed = False
        self.irq_handler: Any = None
        self.irq_hard = False
        self.irq_obj: Any = None


class _Buf:
    __slots__ = ("addr", "itemsize", "nbytes", "obj")

    def __init__(self, addr: int, obj: "Any", nbytes: int, itemsize: int) -> None:
        self.addr = addr
        self.obj = obj
        self.nbytes = nbytes
        self.itemsize = itemsize


class DmaBlock:
    """Register-level model of the DMA controller of one chip."""

    def __init__(self, chip: "Chip") -> None:
        self.chip = chip
        self._resets = len(chip.resets)
        self.ch = [_Channel(chip.clock.now_ns()) for _ in range(N_CHANNELS)]
        self.intr = 0
        self.inte = [0, 0]
        self.intf = [0, 0]
        self.bufs: List[_Buf] = []
        self._next_addr = _SRAM_FIRST
        self.errors: List[str] = []  # bus faults, as text
        self.transfers = 0  # every transfer performed (statistics)
        self.irq_calls = 0  # handler calls: CPU work the DMA caused
        chip.pwm.watchers.append(self._on_pwm)
        chip.pio.watchers.append(self._on_pio)

    # -- reset ---------------------------------------------------------------------------
    def check_reset(self) -> None:
        """A chip reset since we last looked resets the block (and MicroPython's DMA claims)."""
        n = len(self.chip.resets)
        if n != self._resets:
            self._resets = n
            now = self.chip.clock.now_ns()
            for c in self.ch:
                c.reset(now)
            self.intr = 0
            self.inte = [0, 0]
            self.intf = [0, 0]
            self.bufs = []
            self._next_addr = _SRAM_FIRST

    # -- claims (dma_claim_unused_channel) ----------------------------------------------
    def claim(self) -> int:
        self.check_reset()
        for i in range(N_CHANNELS):
            if not self.ch[i].claimed:
                self.ch[i].claimed = True
                return i
        return -1

    def unclaim(self, i: int) -> None:
        c = self.ch[i]
        c.claimed = False
        c.irq_handler = None
        self.inte[0] &= ~(1 << i)

    # -- memory --------------------------------------------------------------------------
    def address_of(self, obj: "Any") -> int:
        """The bus address of a buffer (given a fake SRAM address on first sight), or of an int."""
        if isinstance(obj, int) and not isinstance(obj, bool):
            return obj & 0xFFFFFFFF
        a = getattr(obj, "_dma_addr", None)
        if a is not None:
            return int(a)
        for b in self.bufs:
            if b.obj is obj:
                return b.addr
        nbytes = len(bytes(obj))  # raises TypeError for objects without the buffer protocol
        n = len(obj)
        itemsize = nbytes // n if n else 1
        addr = self._next_addr
        self._next_addr = (addr + max(nbytes, 1) + _SRAM_ALIGN - 1) & ~(_SRAM_ALIGN - 1)
        if self._next_addr > SRAM_END:
            raise MemoryError("fakehw.dma: fake SRAM exhausted")
        self.bufs.append(_Buf(addr, obj, nbytes, itemsize))
        return addr

    def _buf_at(self, addr: int, size: int) -> "Optional[_Buf]":
        for b in self.bufs:
            if b.addr <= addr and addr + size <= b.addr + b.nbytes:
                return b
        return None

    def _sram_read(self, b: _Buf, off: int, size: int) -> int:
        isz = b.itemsize
        if isz == size and off % isz == 0:
            word: int = b.obj[off // isz] & ((1 << (8 * size)) - 1)
            return word
        v = 0
        for i in range(size):
            o = off + i
            item = b.obj[o // isz] & ((1 << (8 * isz)) - 1)
            v |= ((item >> (8 * (o % isz))) & 0xFF) << (8 * i)
        return v

    def _sram_write(self, b: _Buf, off: int, size: int, value: int) -> None:
        isz = b.itemsize
        for i in range(size):
            o = off + i
            idx = o // isz
            sh = 8 * (o % isz)
            full = (1 << (8 * isz)) - 1
            item = (b.obj[idx] & full & ~(0xFF << sh)) | (((value >> (8 * i)) & 0xFF) << sh)
            try:
                b.obj[idx] = item
            except OverflowError:  # a signed array
                b.obj[idx] = item - (1 << (8 * isz))

    def bus_read(self, addr: int, size: int) -> int:
        """One read by the DMA's read master; raises _BusFault."""
        b = self._buf_at(addr, size)
        if b is not None:
            return self._sram_read(b, addr - b.addr, size)
        base = addr & ~3
        if DMA_BASE <= addr < DMA_BASE + BLOCK_SIZE:
            word = self.read_reg(base - DMA_BASE)
        elif 0x40000000 <= addr < 0x50000000 or _pio_block(addr) is not None:
            try:
                word = self.chip.mem_read(base)
            except ValueError as e:
                raise _BusFault(str(e)) from e
        else:
            raise _BusFault("no memory at " + hex(addr))
        return (word >> (8 * (addr & 3))) & ((1 << (8 * size)) - 1)

    def bus_write(self, addr: int, size: int, value: int) -> None:
        """One write by the DMA's write master; raises _BusFault."""
        b = self._buf_at(addr, size)
        if b is not None:
            self._sram_write(b, addr - b.addr, size, value)
            return
        if size == 1:
            value = (value & 0xFF) * 0x01010101  # APB/AHB-lite: narrow writes hit every byte lane
        elif size == 2:
            value = (value & 0xFFFF) * 0x00010001
        base = addr & ~3
        if DMA_BASE <= addr < DMA_BASE + BLOCK_SIZE:
            self.write_reg(base - DMA_BASE, value)
        elif 0x40000000 <= addr < 0x50000000 or _pio_block(addr) is not None:
            try:
                self.chip.mem_write(base, value)
            except ValueError as e:
                raise _BusFault(str(e)) from e
        else:
            raise _BusFault("the DMA cannot reach " + hex(addr))

    # -- registers -----------------------------------------------------------------------
    def read_reg(self, off: int) -> int:
        """Read a DMA register; off from DMA_BASE."""
        self.check_reset()
        if off < N_CHANNELS * CH_STRIDE:
            i = off // CH_STRIDE
            r = off % CH_STRIDE
            reg = _ALIASES[r >> 4][(r & 0xF) >> 2]
            return self._read_phys(i, reg)
        if DBG_BASE <= off < DBG_BASE + N_CHANNELS * CH_STRIDE:
            i = (off - DBG_BASE) // CH_STRIDE
            if (off - DBG_BASE) % CH_STRIDE == 0:
                self._settle(i)
                return self.ch[i].credits
            return self.ch[i].reload
        if off == INTR:
            return self.intr
        if off in (INTE0, INTE1):
            return self.inte[(off - INTE0) >> 4]
        if off in (INTF0, INTF1):
            return self.intf[(off - INTF0) >> 4]
        if off in (INTS0, INTS1):
            j = (off - INTS0) >> 4
            return (self.intr | self.intf[j]) & self.inte[j]
        if off in (MULTI_CHAN_TRIGGER, CHAN_ABORT):
            return 0  # aborts complete at once in the model
        if off == N_CHANNELS_REG:
            return N_CHANNELS
        raise ValueError("fakehw: no DMA register at offset " + hex(off))

    def _read_phys(self, i: int, reg: int) -> int:
        c = self.ch[i]
        if reg == _R:
            return c.read
        if reg == _W:
            return c.write
        if reg == _N:
            return c.count
        v = c.ctrl | (CTRL_BUSY if c.busy else 0)
        if v & (CTRL_READ_ERROR | CTRL_WRITE_ERROR):
            v |= CTRL_AHB_ERROR
        return v

    def write_reg(self, off: int, value: int) -> None:
        """Write a DMA register; off from DMA_BASE."""
        self.check_reset()
        value &= 0xFFFFFFFF
        if off < N_CHANNELS * CH_STRIDE:
            i = off // CH_STRIDE
            r = off % CH_STRIDE
            slot = (r & 0xF) >> 2
            self._write_phys(i, _ALIASES[r >> 4][slot], value)
            if slot == 3:
                self._trigger_reg(i, value)
            return
        if DBG_BASE <= off < DBG_BASE + N_CHANNELS * CH_STRIDE:
            i = (off - DBG_BASE) // CH_STRIDE
            if (off - DBG_BASE) % CH_STRIDE == 0:  # CTDREQ: any write clears the counter
                self._settle(i)
                self.ch[i].credits = 0
            return
        if off == INTR or off in (INTS0, INTS1):
            self.intr &= ~value
            return
        if off in (INTE0, INTE1):
            self.inte[(off - INTE0) >> 4] = value & 0xFFF
            return
        if off in (INTF0, INTF1):
            self.intf[(off - INTF0) >> 4] = value & 0xFFF
            return
        if off == MULTI_CHAN_TRIGGER:
            for i in range(N_CHANNELS):
                if value & (1 << i):
                    self.trigger(i)
            return
        if off == CHAN_ABORT:
            for i in range(N_CHANNELS):
                if value & (1 << i):
                    self.abort(i)
            return
        raise ValueError("fakehw: no writable DMA register at offset " + hex(off))

    def _write_phys(self, i: int, reg: int, value: int) -> None:
        c = self.ch[i]
        if reg == _R:
            c.read = value
        elif reg == _W:
            c.write = value
        elif reg == _N:
            c.reload = value  # the live counter loads it at the next trigger
        else:
            self._settle(i)  # credits so far belong to the old TREQ_SEL
            errs = c.ctrl & (CTRL_READ_ERROR | CTRL_WRITE_ERROR) & ~value  # write 1 to clear
            old_treq = (c.ctrl >> 15) & 0x3F
            c.ctrl = (value & _CTRL_WRITABLE) | errs
            if (c.ctrl >> 15) & 0x3F != old_treq:
                c.counted_ns = self.chip.clock.now_ns() + 1
            if c.busy:
                self._pump(i)

    def _trigger_reg(self, i: int, value: int) -> None:
        if value == 0:  # null trigger: no start; with IRQ_QUIET it raises the channel's interrupt
            if self.ch[i].ctrl & CTRL_IRQ_QUIET:
                self._raise_irq(i)
            return
        self.trigger(i)

    # -- channel operation ---------------------------------------------------------------
    def trigger(self, i: int) -> None:
        """Start channel i unless it is disabled or already busy (chain triggers behave the same)."""
        self.check_reset()
        c = self.ch[i]
        if c.busy or not c.ctrl & CTRL_EN or c.ctrl & (CTRL_READ_ERROR | CTRL_WRITE_ERROR):
            return
        treq = (c.ctrl >> 15) & 0x3F
        if treq != TREQ_PERMANENT and not DREQ_PWM_WRAP0 <= treq < DREQ_PWM_WRAP0 + 8 and _pio_tx(treq) is None:
            raise ValueError("fakehw: DMA pacing by TREQ_SEL " + str(treq) + " is not modelled (only PWM"
                             " wraps 24..31, PIO TX FIFOs 0..3 and 8..11, and PERMANENT 63)")
        c.busy = True
        c.count = c.reload
        if c.count == 0:
            self._complete(i)
            return
        self._pump(i)

    def abort(self, i: int) -> None:
        """CHAN_ABORT: the channel stops, its transfer counter clears; no IRQ, no chain."""
        c = self.ch[i]
        c.busy = False
        c.count = 0
        c.gen += 1

    def _settle(self, i: int) -> None:
        """Add the credits of the wraps since the channel last counted (if it is paced by a slice)."""
        c = self.ch[i]
        now = self.chip.clock.now_ns()
        treq = (c.ctrl >> 15) & 0x3F
        if DREQ_PWM_WRAP0 <= treq < DREQ_PWM_WRAP0 + 8 and now + 1 > c.counted_ns and c.credits < CREDIT_MAX:
            c.credits = min(CREDIT_MAX, c.credits + self.chip.pwm.count_wraps(treq - DREQ_PWM_WRAP0,
                                                                                c.counted_ns, now + 1))
        c.counted_ns = now + 1

    def _pump(self, i: int) -> None:
        """Issue what channel i may issue now; schedule it for the next wrap if it is paced and still busy."""
        c = self.ch[i]
        if not c.busy or not c.ctrl & CTRL_EN:
            return
        treq = (c.ctrl >> 15) & 0x3F
        if treq == TREQ_PERMANENT:
            while c.busy and c.ctrl & CTRL_EN and c.count:
                self._transfer(i)
            return
        if _pio_tx(treq) is not None:
            self._pump_pio(i, treq)
            return
        self._settle(i)
        while c.busy and c.ctrl & CTRL_EN and c.credits and c.count:
            c.credits -= 1
            self._transfer(i)
        if c.busy and (c.ctrl >> 15) & 0x3F == treq:
            self._arm(i, treq - DREQ_PWM_WRAP0)

    def _arm(self, i: int, s: int) -> None:
        c = self.ch[i]
        c.gen += 1
        gen = c.gen
        # The next wrap whose transfer is still to come (a wrap up to DMA_LATENCY_NS ago counts).
        t = self.chip.pwm.next_wrap_ns(s, self.chip.clock.now_ns() - DMA_LATENCY_NS)
        if t < 0:
            return  # the slice is stopped: the PWM watcher re-arms when it changes

        def at_wrap(_t: int) -> None:
            self.check_reset()
            if c.gen == gen:
                self._pump(i)

        self.chip.clock.schedule(t + DMA_LATENCY_NS, at_wrap)

    def _pump_pio(self, i: int, dreq: int) -> None:
        """A channel paced by a PIO TX FIFO writes while the FIFO has room (the DREQ is asserted while
        it is not full, and the DMA never overflows it), then waits for the machine's next pop."""
        c = self.ch[i]
        pio = self.chip.pio
        while c.busy and c.ctrl & CTRL_EN and c.count and pio.room(dreq) > 0:
            self._transfer(i)
        if not (c.busy and c.ctrl & CTRL_EN and c.count and (c.ctrl >> 15) & 0x3F == dreq):
            return
        c.gen += 1
        gen = c.gen
        t = pio.next_pop_ns(dreq)
        if t < 0:
            return  # the machine takes no word: a PIO watcher re-arms when that changes

        def at_room(_t: int) -> None:
            self.check_reset()
            if c.gen == gen:
                self._pump(i)

        self.chip.clock.schedule(t + DMA_LATENCY_NS, at_room)

    def _on_pio(self, dreq: int) -> None:
        """A register write may have changed when the machine behind `dreq` takes its next word."""
        if len(self.chip.resets) != self._resets:
            return
        for i in range(N_CHANNELS):
            c = self.ch[i]
            if c.busy and (c.ctrl >> 15) & 0x3F == dreq:
                self._pump(i)

    def _on_pwm(self, s: int) -> None:
        """A write moved slice s's wraps: re-time every busy channel it paces."""
        if len(self.chip.resets) != self._resets:
            return
        for i in range(N_CHANNELS):
            c = self.ch[i]
            if c.busy and (c.ctrl >> 15) & 0x3F == DREQ_PWM_WRAP0 + s:
                self._settle(i)
                self._arm(i, s)

    def _transfer(self, i: int) -> None:
        c = self.ch[i]
        ctrl = c.ctrl
        size = 1 << ((ctrl >> 2) & 3)
        size = min(size, 4)  # DATA_SIZE 3 is reserved
        try:
            v = self.bus_read(c.read, size)
        except _BusFault as e:
            self._fault(i, CTRL_READ_ERROR, "read", c.read, str(e))
            return
        if ctrl & CTRL_BSWAP and size > 1:
            v = _bswap(v, size)
        try:
            self.bus_write(c.write, size, v)
        except _BusFault as e:
            self._fault(i, CTRL_WRITE_ERROR, "write", c.write, str(e))
            return
        ring = (ctrl >> 6) & 0xF
        sel_write = bool(ctrl & CTRL_RING_SEL)
        if ctrl & CTRL_INCR_READ:
            c.read = _incr(c.read, size, ring if not sel_write else 0)
        if ctrl & CTRL_INCR_WRITE:
            c.write = _incr(c.write, size, ring if sel_write else 0)
        c.count -= 1
        self.transfers += 1
        if c.count == 0 and c.busy:
            self._complete(i)

    def _fault(self, i: int, flag: int, what: str, addr: int, why: str) -> None:
        c = self.ch[i]
        c.ctrl |= flag
        c.busy = False
        c.gen += 1
        self.errors.append("DMA channel %d %s error at %s: %s" % (i, what, hex(addr), why))
        self._raise_irq(i)

    def _complete(self, i: int) -> None:
        c = self.ch[i]
        c.busy = False
        c.gen += 1
        if not c.ctrl & CTRL_IRQ_QUIET:
            self._raise_irq(i)
        chain = (c.ctrl >> 11) & 0xF
        if chain != i and chain < N_CHANNELS:
            self.trigger(chain)

    def _raise_irq(self, i: int) -> None:
        bit = 1 << i
        self.intr |= bit
        c = self.ch[i]
        if not (self.inte[0] & bit) or c.irq_handler is None:
            return
        # rp2_dma_irq_handler: acknowledge, set the flag, call the handler (hard: heap locked).
        self.intr &= ~bit
        handler = c.irq_handler
        self.irq_calls += 1
        clock = self.chip.clock
        clock._depth += 1
        try:
            locked = c.irq_hard and _mp is not None
            if locked:
                _mp.heap_lock()
            try:
                handler(c.irq_obj)
            finally:
                if locked:
                    _mp.heap_unlock()
        except Exception as e:  # noqa: BLE001 - mirrors mpirq.c, which catches everything
            c.irq_handler = None
            self.inte[0] &= ~bit
            self.chip.irq_errors.append("Uncaught exception in IRQ callback handler: " + repr(e))
        finally:
            clock._depth -= 1


class _BusFault(Exception):
    pass


def _incr(addr: int, size: int, ring: int) -> int:
    if ring:
        mask = (1 << ring) - 1
        return (addr & ~mask & 0xFFFFFFFF) | ((addr + size) & mask)
    return (addr + size) & 0xFFFFFFFF


def _bswap(v: int, size: int) -> int:
    out = 0
    for _ in range(size):
        out = (out << 8) | (v & 0xFF)
        v >>= 8
    return out


def block(chip: "Optional[Chip]" = None) -> DmaBlock:
    """The DMA block of chip (default: the current chip), created on first use."""
    c = chip if chip is not None else _chip.current()
    b = getattr(c, "dma", None)
    if b is None:
        b = DmaBlock(c)
        c.dma = b  # type: ignore[attr-defined]
    b.check_reset()
    return b


# -- rp2.DMA ---------------------------------------------------------------------------------
class _Unset:
    pass


_UNSET: "Any" = _Unset()
_CLOSED = 0xFF


class _Registers:
    """DMA.registers: the channel's 16 register words (all four aliases), indexable and sliceable.

    A slice stands for the registers it covers and can be given to config() as an address.
    """

    def __init__(self, first: int, n: int) -> None:
        self._first = first  # word offset from DMA_BASE
        self._n = n
        self._dma_addr = DMA_BASE + 4 * first

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, k: "Any") -> "Any":
        if isinstance(k, slice):
            start, stop, _step = k.indices(self._n)
            return _Registers(self._first + start, max(0, stop - start))
        t = _chip.enter()
        try:
            return block().read_reg(4 * (self._first + self._index(k)))
        finally:
            _chip.leave(t)

    def __setitem__(self, k: int, value: int) -> None:
        t = _chip.enter()
        try:
            block().write_reg(4 * (self._first + self._index(k)), value)
        finally:
            _chip.leave(t)

    def _index(self, k: int) -> int:
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError("index out of range")
        return k


def _reg_property(off: int, address: bool) -> "Any":
    """A DMA attribute backed by channel register `off` (READ_ADDR/WRITE_ADDR take buffers too)."""

    def get(self: "DMA") -> int:
        return self._get(off)

    def put(self: "DMA", v: "Any") -> None:
        self._set(off, self._open().address_of(v) if address else _int(v))

    return property(get, put)


class DMA:
    """rp2.DMA: claims one of the 12 channels (OSError EBUSY when none is free)."""

    def __init__(self) -> None:
        t = _chip.enter()
        try:
            ch = block().claim()
            if ch < 0:
                raise OSError(EBUSY)
            self._ch = ch
            block().ch[ch].irq_obj = self
        finally:
            _chip.leave(t)

    def __repr__(self) -> str:
        return "DMA(" + str(self._ch) + ")"

    def _open(self) -> DmaBlock:
        if self._ch == _CLOSED:
            raise ValueError("channel closed")
        return block()

    def _base(self) -> int:
        return self._ch * CH_STRIDE

    # -- attributes, as rp2_dma_attr ---------------------------------------------------------
    @property
    def channel(self) -> int:
        return self._ch

    @property
    def registers(self) -> _Registers:
        return _Registers(self._ch * CH_STRIDE // 4, 16)

    def _get(self, off: int) -> int:
        t = _chip.enter()
        try:
            return self._open().read_reg(self._base() + off)
        finally:
            _chip.leave(t)

    def _set(self, off: int, value: int) -> None:
        t = _chip.enter()
        try:
            self._open().write_reg(self._base() + off, value)
        finally:
            _chip.leave(t)

    read = _reg_property(READ_ADDR, True)
    write = _reg_property(WRITE_ADDR, True)
    count = _reg_property(TRANS_COUNT, False)
    ctrl = _reg_property(AL1_CTRL, False)

    # -- methods -------------------------------------------------------------------------------
    def config(self, *, read: "Any" = _UNSET, write: "Any" = _UNSET, count: "Any" = _UNSET,
               ctrl: "Any" = _UNSET, trigger: bool = False) -> None:
        """Write READ_ADDR, WRITE_ADDR, TRANS_COUNT, CTRL in that order; trigger on the last one given."""
        t = _chip.enter()
        try:
            blk = self._open()
            base = self._base()
            given = [x for x in ((read, READ_ADDR, AL3_READ_ADDR_TRIG), (write, WRITE_ADDR, AL2_WRITE_ADDR_TRIG),
                                 (count, TRANS_COUNT, AL1_TRANS_COUNT_TRIG), (ctrl, AL1_CTRL, CTRL_TRIG))
                     if x[0] is not _UNSET]
            if trigger and not given:
                blk.trigger(self._ch)  # dma_channel_start
                return
            for j in range(len(given)):
                v, plain, trig = given[j]
                value = blk.address_of(v) if plain in (READ_ADDR, WRITE_ADDR) else _int(v)
                blk.write_reg(base + (trig if trigger and j == len(given) - 1 else plain), value)
        finally:
            _chip.leave(t)

    def active(self, value: "Any" = _UNSET) -> bool:
        t = _chip.enter()
        try:
            blk = self._open()
            if value is not _UNSET:
                if value:
                    blk.trigger(self._ch)
                else:
                    blk.abort(self._ch)
            return blk.ch[self._ch].busy
        finally:
            _chip.leave(t)

    def close(self) -> None:
        if self._ch != _CLOSED:
            block().unclaim(self._ch)
            self._ch = _CLOSED

    def irq(self, handler: "Any" = None, hard: bool = False) -> "Any":
        blk = self._open()
        c = blk.ch[self._ch]
        c.irq_handler = handler
        c.irq_hard = hard
        bit = 1 << self._ch
        blk.inte[0] = (blk.inte[0] | bit) if handler is not None else (blk.inte[0] & ~bit)
        return self

    def flags(self) -> int:
        return 1 if block().intr & (1 << self._ch) else 0

    def pack_ctrl(self, **kwargs: "Any") -> int:
        """rp2_dma_pack_ctrl: fields from `default` (or this channel's default) overridden by keywords."""
        if "default" in kwargs:
            value = _int(kwargs.pop("default")) & 0xFFFFFFFF
        else:
            value = DEFAULT_CTRL | ((self._ch & 0xF) << 11)
        for name, shift, length, ro in FIELDS:
            if name in kwargs:
                v = _int(kwargs.pop(name))
                if ro:
                    continue  # read-only fields are ignored, so unpack_ctrl() output packs back
                mask = (1 << length) - 1
                if v & mask != v:
                    raise ValueError("bad field value")
                value = (value & ~(mask << shift)) | (v << shift)
        if kwargs:
            raise TypeError("unexpected keyword argument " + repr(sorted(kwargs)[0]))
        return value

    @staticmethod
    def unpack_ctrl(value: int) -> "dict[str, int]":
        v = _int(value) & 0xFFFFFFFF
        return {name: (v >> shift) & ((1 << length) - 1) for name, shift, length, _ro in FIELDS}


def _int(v: "Any") -> int:
    """mp_obj_get_int_truncated."""
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, int):
        return v & 0xFFFFFFFF
    raise TypeError("can't convert " + type(v).__name__ + " to int")

