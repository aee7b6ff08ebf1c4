"""One stimulation channel's pulse train: a PWM slice shaped by two DMA channels, no CPU per pulse.

stim.pulse explains the pattern (CC words, slots, programs). Here:

- the slice: A (even GPIO) non-inverted, B (odd GPIO, same slice) inverted,
  integer divider, TOP = K - 1, written with mem32;
- DMA channel D, paced by DREQ_PWM_WRAP0 + slice: each wrap writes the next
  word of the program into the slice's CC (which latches at the next wrap),
  then chains to C at the end of the program;
- DMA channel C, unpaced: copies the restart word `_ctl[0]` into D's
  AL3_READ_ADDR_TRIG. While it holds the program's address D starts the
  program again at once; when it holds 0 that write is a null trigger and D
  stays idle after the program it just finished.

start() arms the restart word and triggers D; the first word has B only, so
B is armed first and A one slot later. stop() stores 0 in the restart word:
the hardware finishes the program in progress, which always ends with B off
and then A off, so every negative phase keeps its positive phase. It is one
array store, allocation-free and safe in a hard IRQ handler (the kill path).
`running` stays True until the hardware has really finished: D idle and
both pins low.

The kill path may have switched the pins to SIO low; start() selects the PWM
function again, and only while the slice outputs are idle-low (it waits out
the first w counts of a slot, where the last program's A phase may still run). Nothing allocates
in stop(); configure() and the constructor allocate (they run at 0 mA only).
Uses 2 of the 12 DMA channels per stimulation channel.
"""

from array import array

from machine import mem32
from micropython import const
from rp2 import DMA

from stim.board import pwm_channel, pwm_slice
from stim.pulse import MAX_WORDS, PulseError, SliceSettings, fill_words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple

_PWM_BASE = const(0x40050000)
_SLICE_STRIDE = const(0x14)
_CSR = const(0x00)
_DIV = const(0x04)
_CTR = const(0x08)
_CC = const(0x0C)
_TOP = const(0x10)
_CSR_EN = const(0x01)
_CSR_B_INV = const(0x08)
_IO_BANK0_CTRL = const(0x40014004)  # GPIO0_CTRL; GPIOn_CTRL at + 8 n
_FUNC_PWM = const(4)
_FUNC_SIO = const(5)
_SIO_GPIO_IN = const(0xD0000004)
_SIO_OUT_CLR = const(0xD0000018)
_SIO_OE_SET = const(0xD0000024)
_DMA_BASE = const(0x50000000)
_DMA_CH_STRIDE = const(0x40)
_AL3_READ_ADDR_TRIG = const(0x3C)
_DREQ_PWM_WRAP0 = const(24)
_TREQ_PERMANENT = const(0x3F)
_DRAIN = const(0x10000)  # more transfers than any stale DREQ credit count
_DMA_MULTI_CHAN_TRIGGER = const(0x50000430)


def go_live_mem32(words: "Tuple[int, ...]") -> None:
    """Channels go live: for each (D bit, CSR, CSR value, CTRL A, CTRL B) in words, trigger D, start
    the slice at count 0, and hand both pads to it. stim.hal.native_io.commit's writes for a
    channel, in its order, through machine.mem32 (host VMs, the model)."""
    for i in range(0, len(words), 5):
        mem32[_DMA_MULTI_CHAN_TRIGGER] = words[i]  # D waits for the first wrap (DREQ)
        mem32[words[i + 1]] = words[i + 2]
        mem32[words[i + 3]] = _FUNC_PWM
        mem32[words[i + 4]] = _FUNC_PWM


class PulseChannel:
    """configure(settings) while stopped, start(), stop(), running. Pins: a even, b odd, one slice."""

    def __init__(self, pin_a: int, pin_b: int) -> None:
        if pwm_channel(pin_a) != 0 or pwm_channel(pin_b) != 1 or pwm_slice(pin_a) != pwm_slice(pin_b):
            raise PulseError("pins", "GPIO %d (A, slice %d) and GPIO %d (B, slice %d) must be channels A and B"
                             " of one PWM slice" % (pin_a, pwm_slice(pin_a), pin_b, pwm_slice(pin_b)))
        self.pin_a = pin_a
        self.pin_b = pin_b
        self.slice = pwm_slice(pin_a)
        base = _PWM_BASE + _SLICE_STRIDE * self.slice
        self._csr = base + _CSR
        self._div = base + _DIV
        self._ctr = base + _CTR
        self._cc = base + _CC
        self._top = base + _TOP
        self._ctrl_a = _IO_BANK0_CTRL + 8 * pin_a
        self._ctrl_b = _IO_BANK0_CTRL + 8 * pin_b
        self._mask = (1 << pin_a) | (1 << pin_b)
        self._words = array("I", [0] * MAX_WORDS)
        self._idle = array("I", [0])
        self._ctl = array("I", [0])  # D's restart address; 0 ends the train
        self._n = 0
        self._w = 0
        self.settings: "Optional[SliceSettings]" = None
        self._park()
        d = DMA()
        c = DMA()
        self._d = d
        self._c = c
        d_ch: int = d.channel  # type: ignore[attr-defined]
        self._d_ch = d_ch
        c_ch: int = c.channel  # type: ignore[attr-defined]
        treq = _DREQ_PWM_WRAP0 + self.slice
        self._run_ctrl = d.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=treq, chain_to=c_ch,
                                     irq_quiet=True)
        self._drain_ctrl = d.pack_ctrl(size=2, inc_read=False, inc_write=False, treq_sel=treq, chain_to=d_ch,
                                       irq_quiet=True)
        d.config(read=self._words, write=self._cc, count=0, ctrl=self._drain_ctrl)
        self._prog = d.read  # type: ignore[attr-defined]  # the words' bus address, as the DMA sees it
        c.config(read=self._ctl, write=_DMA_BASE + _DMA_CH_STRIDE * d_ch + _AL3_READ_ADDR_TRIG, count=1,
                 ctrl=c.pack_ctrl(size=2, inc_read=False, inc_write=False, treq_sel=_TREQ_PERMANENT,
                                  chain_to=c_ch, irq_quiet=True))

    def _park(self) -> None:
        """Both pins to SIO, driven low: what the slice does no longer reaches them."""
        mem32[_SIO_OUT_CLR] = self._mask
        mem32[_SIO_OE_SET] = self._mask
        mem32[self._ctrl_a] = _FUNC_SIO
        mem32[self._ctrl_b] = _FUNC_SIO

    @property
    def running(self) -> bool:
        """True from start() until the hardware has finished the last program after stop(): D has
        written its last word and neither phase is still high (the last A may outlast D by a slot)."""
        return bool(self._d.active()) or bool(mem32[_SIO_GPIO_IN] & self._mask)

    @property
    def armed(self) -> bool:
        """True from start() until stop(): the train goes on after the program in progress."""
        return self._ctl[0] != 0

    def configure(self, s: SliceSettings) -> None:
        """Load slice settings; only while stopped (freq and width change only at 0 mA). Pins parked low."""
        if self.running:
            raise PulseError("configure", "the channel is running; stop() it and wait until running is False")
        s.check()
        if s.n > MAX_WORDS:
            raise PulseError("n", "a program of %d words exceeds %d" % (s.n, MAX_WORDS))
        self._park()
        mem32[self._csr] = _CSR_B_INV  # halted, B inverted
        mem32[self._div] = s.div << 4  # integer divider, no fraction: every count is div cycles
        mem32[self._top] = s.top
        self._idle[0] = s.idle_word()
        mem32[self._cc] = self._idle[0]  # halted: latches at once
        mem32[self._ctr] = 0
        fill_words(s, self._words)
        self._n = s.n
        self._w = s.w
        self.settings = s

    def start(self) -> bool:
        """Start the train; True if it is (now) armed, False if the last stop() is still finishing.

        While stopping, call again later (at most one program, a pulse or burst period, away).
        """
        if not self.prepare():
            return False
        go_live_mem32(self.live_words())
        return True

    def live_words(self) -> "Tuple[int, int, int, int, int]":
        """What go_live writes for this channel: (D's trigger bit, CSR, CSR value, GPIO A CTRL, GPIO B CTRL)."""
        return (1 << self._d_ch, self._csr, _CSR_B_INV | _CSR_EN, self._ctrl_a, self._ctrl_b)

    def prepare(self) -> bool:
        """start() up to going live: the slice halted at count 0 and D loaded, not triggered.

        True if it is (now) armed, False if the last stop() is still finishing. The slow part of a
        start (two DMA configurations, ~0.2 ms of Python on silicon) runs here with IRQs enabled;
        the pads stay SIO low. Going live is three writes per channel (trigger D, enable the slice,
        FUNCSEL PWM on both pads), which the tick makes for every starting channel at once, with
        IRQs held back (stim.hal.outputs.ChannelOutputs.commit). The halted slice makes no wraps
        in between, so no DREQ credit builds up and the program starts at its first word.
        """
        if not self._n:
            raise PulseError("start", "configure() the channel first")
        d = self._d
        if d.active():
            return self._ctl[0] != 0
        if mem32[self._csr] & _CSR_EN and mem32[self._ctrl_a] & 0x1F != _FUNC_PWM and mem32[self._ctr] < self._w:
            return False  # pins parked by the kill path, and the last A may still be high: not now
        self._ctl[0] = self._prog
        mem32[self._csr] = _CSR_B_INV  # halted: no wraps, no DREQ credits, until it goes live
        mem32[self._ctr] = 0
        mem32[self._cc] = self._idle[0]  # halted: latches at once, both outputs low
        # Spend DREQ credits left from wraps while D sat idle: they would fire the first words at once.
        d.config(read=self._idle, write=self._cc, count=_DRAIN, ctrl=self._drain_ctrl, trigger=True)
        d.active(0)
        d.config(read=self._words, count=self._n, ctrl=self._run_ctrl)
        return True

    def stop(self) -> None:
        """End the train after the program in progress (whole pairs). Allocation-free, IRQ-safe."""
        self._ctl[0] = 0

    def halt(self) -> None:
        """Stop now: no program after this one, and both pins parked low at once, so the output
        ends mid-pulse if need be (stopping beats charge balance for one pulse). The DMA may
        finish its program on the parked pins; start() waits for that. Allocation-free."""
        self._ctl[0] = 0
        self._park()

    def abort(self) -> None:
        """halt(), abort the DMA and halt the slice: idle at once, so configure() may follow."""
        self._ctl[0] = 0
        self._d.active(0)
        self._park()
        mem32[self._csr] = _CSR_B_INV

    def close(self) -> None:
        """abort(), then release both DMA channels."""
        self.abort()
        self._d.close()
        self._c.close()
