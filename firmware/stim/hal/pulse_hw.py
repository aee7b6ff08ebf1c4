"""One stimulation channel's pulse train: a PIO state machine fed by two DMA channels, no CPU per pulse.

stim.pulse explains the program (four words per pulse: lead, gap, trail, rest). Here:

- the state machine: channel index c runs on PIO c // 4, machine c % 4, at divider 1, with
  autopull every 32 bits and the TX FIFO joined (8 words); the lead pin is its side-set pin and
  the trail pin its set pin (B then A for the negative phase first); stim.pulse.PROGRAM at
  offset 0 of the block's instruction memory; every register written with mem32;
- DMA channel D, paced by the machine's TX FIFO (DREQ_PIO0_TX0 + machine, PIO1 from 8): while
  the FIFO has room it writes the next word of the program into TXF, then chains to C at the end
  of the program;
- DMA channel C, unpaced: copies the restart word `_ctl[0]` into D's AL3_READ_ADDR_TRIG. While
  it holds the program's address D starts the program again at once; when it holds 0 that write
  is a null trigger and D stays idle after the program it just finished.

stop() stores 0 in the restart word: the hardware finishes the program in progress, which always
ends with a rest after a whole pair, so every lead phase keeps its trail phase. It is one array
store, allocation-free and safe in a hard IRQ handler (the kill path). `running` stays True until
the hardware has really finished: D idle, the FIFO empty and the machine at one of the
instructions that hold both pins low.

The kill path may have switched the pins to SIO low; start() then resets the machine (both
pins low, at the program's start) and selects the PIO function again. Nothing allocates in
stop(); configure() and the constructor allocate (they run at 0 mA only). Uses 2 of the 12 DMA
channels and one of the 8 state machines per stimulation channel.
"""

from array import array

from machine import mem32
from micropython import const
from rp2 import DMA

from stim.pulse import IDLE_ADDRS, PROGRAM, PROGRAM_WRAP_TOP, WORDS_PER_PULSE, PulseError, TrainSettings, fill_words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple

_PIO0_BASE = const(0x50200000)
_PIO_STRIDE = const(0x100000)  # PIO1 at 0x50300000
_CTRL = const(0x000)
_FSTAT = const(0x004)
_TXF0 = const(0x010)
_INSTR_MEM0 = const(0x048)
_SM0_CLKDIV = const(0x0C8)
_SM_STRIDE = const(0x18)
_CLKDIV = const(0x00)
_EXECCTRL = const(0x04)
_SHIFTCTRL = const(0x08)
_ADDR = const(0x0C)
_INSTR = const(0x10)
_PINCTRL = const(0x14)
_ALIAS_XOR = const(0x1000)
_ALIAS_SET = const(0x2000)
_ALIAS_CLR = const(0x3000)
_SM_RESTART0 = const(4)  # CTRL bit 4 + machine: self-clearing
_FSTAT_TXEMPTY0 = const(24)
_SHIFT_FJOIN_RX = const(1 << 31)
# FJOIN_TX (8-word TX FIFO), OUT_SHIFTDIR and IN_SHIFTDIR right, autopull at 32 bits (PULL_THRESH 0).
_SHIFTCTRL_RUN = const((1 << 30) | (1 << 19) | (1 << 18) | (1 << 17))
_PINCTRL_SIDESET_1 = const(1 << 29)
_PINCTRL_SET_1 = const(1 << 26)
_SET_PINS_0 = const(0xE000)  # set pins, 0 side 0
_SET_PINDIRS_1 = const(0xE081)  # set pindirs, 1 side 0
_JMP_0 = const(0x0000)  # jmp 0 side 0
_IO_BANK0_CTRL = const(0x40014004)  # GPIO0_CTRL; GPIOn_CTRL at + 8 n
_FUNC_SIO = const(5)
_FUNC_PIO0 = const(6)
_SIO_OUT_CLR = const(0xD0000018)
_SIO_OE_SET = const(0xD0000024)
_DMA_BASE = const(0x50000000)
_DMA_CH_STRIDE = const(0x40)
_AL3_READ_ADDR_TRIG = const(0x3C)
_DREQ_PIO0_TX0 = const(0)
_DREQ_PIO1_TX0 = const(8)
_TREQ_PERMANENT = const(0x3F)
_DMA_MULTI_CHAN_TRIGGER = const(0x50000430)
N_MACHINES = const(8)


def go_live_mem32(words: "Tuple[int, ...]") -> None:
    """Channels go live: for each (D bit, CTRL SET alias, machine bit, CTRL A, CTRL B, FUNCSEL) in
    words, trigger D, enable the machine, and hand both pads to its PIO block. stim.hal.native_io.commit's
    writes for a channel, in its order, through machine.mem32 (host VMs, the model)."""
    for i in range(0, len(words), 6):
        mem32[_DMA_MULTI_CHAN_TRIGGER] = words[i]  # D fills the FIFO behind the machine's first rest
        mem32[words[i + 1]] = words[i + 2]
        mem32[words[i + 3]] = words[i + 5]
        mem32[words[i + 4]] = words[i + 5]


class PulseChannel:
    """configure(settings) while stopped, start(), stop(), running. Channel `index` uses state machine
    index % 4 of PIO index // 4; pins A and B are any two GPIOs."""

    def __init__(self, pin_a: int, pin_b: int, index: int = 0) -> None:
        if not 0 <= index < N_MACHINES:
            raise PulseError("channels", "channel %d: the RP2040 has %d PIO state machines" % (index, N_MACHINES))
        self.pin_a = pin_a
        self.pin_b = pin_b
        self.index = index
        blk = index // 4
        sm = index % 4
        base = _PIO0_BASE + _PIO_STRIDE * blk
        self._base = base
        self._sm_bit = 1 << sm
        smb = base + _SM0_CLKDIV + _SM_STRIDE * sm
        self._clkdiv = smb + _CLKDIV
        self._execctrl = smb + _EXECCTRL
        self._shiftctrl = smb + _SHIFTCTRL
        self._addr = smb + _ADDR
        self._instr = smb + _INSTR
        self._pinctrl = smb + _PINCTRL
        self._txf = base + _TXF0 + 4 * sm
        self._txempty = 1 << (_FSTAT_TXEMPTY0 + sm)
        self._func = _FUNC_PIO0 + blk
        self._ctrl_a = _IO_BANK0_CTRL + 8 * pin_a
        self._ctrl_b = _IO_BANK0_CTRL + 8 * pin_b
        self._mask = (1 << pin_a) | (1 << pin_b)
        self._words = array("I", [0] * WORDS_PER_PULSE)
        self._ctl = array("I", [0])  # D's restart address; 0 ends the train
        self._n = 0
        self._start = 0  # the first rest's word, pushed by prepare()
        self.settings: "Optional[TrainSettings]" = None
        self._park()
        for i in range(len(PROGRAM)):  # the same words for every machine of the block
            mem32[base + _INSTR_MEM0 + 4 * i] = PROGRAM[i]
        mem32[self._pinctrl] = 0  # no pins yet: the halt's `set pins, 0` touches no other machine's pins
        self._halt_machine()
        d = DMA()
        c = DMA()
        self._d = d
        self._c = c
        d_ch: int = d.channel  # type: ignore[attr-defined]
        self._d_ch = d_ch
        c_ch: int = c.channel  # type: ignore[attr-defined]
        treq = (_DREQ_PIO0_TX0 if blk == 0 else _DREQ_PIO1_TX0) + sm
        self._run_ctrl = d.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=treq, chain_to=c_ch,
                                     irq_quiet=True)
        d.config(read=self._words, write=self._txf, count=0, ctrl=self._run_ctrl)
        self._prog = d.read  # type: ignore[attr-defined]  # the words' bus address, as the DMA sees it
        c.config(read=self._ctl, write=_DMA_BASE + _DMA_CH_STRIDE * d_ch + _AL3_READ_ADDR_TRIG, count=1,
                 ctrl=c.pack_ctrl(size=2, inc_read=False, inc_write=False, treq_sel=_TREQ_PERMANENT,
                                  chain_to=c_ch, irq_quiet=True))

    def _park(self) -> None:
        """Both pins to SIO, driven low: what the machine does no longer reaches them."""
        mem32[_SIO_OUT_CLR] = self._mask
        mem32[_SIO_OE_SET] = self._mask
        mem32[self._ctrl_a] = _FUNC_SIO
        mem32[self._ctrl_b] = _FUNC_SIO

    def _halt_machine(self) -> None:
        """The machine disabled, restarted (OSR empty), its FIFO emptied, both of its pins low and
        its next instruction the program's first: a clean state, whatever it was doing."""
        mem32[self._base + _ALIAS_CLR + _CTRL] = self._sm_bit
        mem32[self._base + _ALIAS_SET + _CTRL] = self._sm_bit << _SM_RESTART0
        mem32[self._shiftctrl + _ALIAS_XOR] = _SHIFT_FJOIN_RX  # a change of FJOIN empties the FIFOs
        mem32[self._shiftctrl + _ALIAS_XOR] = _SHIFT_FJOIN_RX
        mem32[self._instr] = _SET_PINS_0  # the trail pin low, and side-set 0: the lead pin low
        mem32[self._instr] = _JMP_0

    def _idle(self) -> bool:
        """No word left and the machine at an instruction that holds both pins low."""
        return bool(mem32[self._base + _FSTAT] & self._txempty) and mem32[self._addr] < IDLE_ADDRS

    @property
    def running(self) -> bool:
        """True from start() until the hardware has finished the last program after stop(): D busy,
        words in the FIFO, or the machine not yet back at its rest."""
        return bool(self._d.active()) or not self._idle()

    @property
    def armed(self) -> bool:
        """True from start() until stop(): the train goes on after the program in progress."""
        return self._ctl[0] != 0

    def configure(self, s: TrainSettings) -> None:
        """Load train settings; only while stopped (freq and width change only at 0 mA). Pins parked low."""
        if self.running:
            raise PulseError("configure", "the channel is running; stop() it and wait until running is False")
        s.check()
        self._park()
        self._halt_machine()
        lead, trail = (self.pin_a, self.pin_b) if s.lead_is_a() else (self.pin_b, self.pin_a)
        mem32[self._clkdiv] = 1 << 16  # divider 1: every instruction one system clock cycle
        mem32[self._execctrl] = PROGRAM_WRAP_TOP << 12  # wrap 10 -> 0, side-set not optional
        mem32[self._shiftctrl] = _SHIFTCTRL_RUN
        for p in (lead, trail):  # both pins outputs of the block, low (`set pindirs` through the set pin)
            mem32[self._pinctrl] = _PINCTRL_SET_1 | (p << 5)
            mem32[self._instr] = _SET_PINDIRS_1
            mem32[self._instr] = _SET_PINS_0
        mem32[self._pinctrl] = _PINCTRL_SIDESET_1 | _PINCTRL_SET_1 | (lead << 10) | (trail << 5)
        self._halt_machine()
        if s.n > len(self._words):
            self._words = array("I", [0] * s.n)  # the DMA reads the new buffer from prepare() on
        fill_words(s, self._words)
        self._n = s.n
        self._start = s.start_word()
        self.settings = s
        self._d.config(read=self._words, count=0)
        self._prog = self._d.read  # type: ignore[attr-defined]

    def start(self) -> bool:
        """Start the train; True if it is (now) armed, False if the last stop() is still finishing.

        While stopping, call again later (at most one program, a pulse or burst period, away).
        """
        if not self.prepare():
            return False
        go_live_mem32(self.live_words())
        return True

    def live_words(self) -> "Tuple[int, int, int, int, int, int]":
        """What go_live writes for this channel: (D's trigger bit, PIO CTRL SET alias, the machine's
        enable bit, GPIO A CTRL, GPIO B CTRL, FUNCSEL PIO0 or PIO1)."""
        return (1 << self._d_ch, self._base + _ALIAS_SET + _CTRL, self._sm_bit, self._ctrl_a, self._ctrl_b,
                self._func)

    def prepare(self) -> bool:
        """start() up to going live: the machine reset and halted with its first rest in the FIFO, and D
        loaded, not triggered.

        True if it is (now) armed, False if the last stop() is still finishing. The slow part of a
        start (~0.2 ms of Python on silicon) runs here with IRQs enabled. Going live is four writes
        per channel (trigger D, enable the machine, FUNCSEL PIO on both pads), which the tick makes
        for every starting channel at once, with IRQs held back (stim.hal.outputs.ChannelOutputs.commit).
        The machine starts with a rest, so the pads are the block's before the first phase.
        """
        if not self._n:
            raise PulseError("start", "configure() the channel first")
        d = self._d
        if d.active():
            return self._ctl[0] != 0
        if mem32[self._ctrl_a] & 0x1F == self._func and not self._idle():
            return False  # the last train is still finishing on the pads: not now
        self._halt_machine()
        mem32[self._txf] = self._start  # the first rest (the FIFO was just emptied)
        self._ctl[0] = self._prog
        d.config(read=self._words, count=self._n, ctrl=self._run_ctrl)
        return True

    def stop(self) -> None:
        """End the train after the program in progress (whole pairs). Allocation-free, IRQ-safe."""
        self._ctl[0] = 0

    def halt(self) -> None:
        """Stop now: no program after this one, and both pins parked low at once, so the output
        ends mid-pulse if need be (stopping beats charge balance for one pulse). The DMA and the
        machine may finish their program on the parked pins; start() waits for the DMA. Allocation-free."""
        self._ctl[0] = 0
        self._park()

    def abort(self) -> None:
        """halt(), abort the DMA and reset the machine: idle at once, so configure() may follow."""
        self._ctl[0] = 0
        self._d.active(0)
        self._park()
        self._halt_machine()

    def close(self) -> None:
        """abort(), then release both DMA channels."""
        self.abort()
        self._d.close()
        self._c.close()
