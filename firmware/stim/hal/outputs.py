"""The stimulation outputs of one board: a pulse train and an amplitude DAC code per channel.

The controller hands this a level in uA per channel each tick; everything
here is hardware plumbing with no safety rule of its own except the order of
operations: on the way down the DAC goes to 0 and the pins are parked before
anything else; on the way up the pulse train starts only after its amplitude
code is written.

Going up is two steps. set_ua() writes the DAC code and prepares a starting
channel (slow: DMA set-up) with IRQs enabled, while its pads stay SIO low.
commit(), called with IRQs held back and only if no kill fired meanwhile,
makes the few register writes that let the outputs reach the pads: each
starting channel's DMA trigger, state machine enable and pad functions, the
PWM-DAC pads, then output-enable. On the rp2 port that is one call into Thumb code
(stim.hal.native_io.commit), which holds IRQs back for well under a
microsecond, where the whole start used to hold them back for up to 1.7 ms.
Pulse shapes change only while every channel is idle (configure), so
frequency and width never change under current.
"""

from array import array

from machine import freq, mem32
from micropython import const

from stim import pulse
from stim.hal import NATIVE
from stim.hal import dac as _dac
from stim.hal.pulse_hw import PulseChannel, go_live_mem32

if NATIVE:  # Thumb code on the chip; the same writes through mem32 elsewhere
    from stim.hal.native_io import commit as _native_commit

_DMA_MULTI_CHAN_TRIGGER = const(0x50000430)
_SIO_OUT_SET = const(0xD0000014)
_SIO_OUT_CLR = const(0xD0000018)
_SIO_OUT_XOR = const(0xD000001C)
_PUMP = const(7)  # the plan's word for the charge pump's mask (stim.hal.native_io.commit)
_FUNC_PWM = const(4)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from stim.boardspec import Board
    from stim.programs import Program


class ChannelOutputs:
    """irq_off/irq_on: how a host VM holds IRQs back around the commit (stim.hal.rp2040's); on the
    rp2 port the commit does it itself, in Thumb code."""

    def __init__(self, board: "Board", dac: "Optional[Any]" = None, irq_off: "Any" = None,
                 irq_on: "Any" = None) -> None:
        self._irq_off = irq_off
        self._irq_on = irq_on
        amp = board.amplitude
        self.dac: "Any" = dac if dac is not None else _dac.make(board)
        self._npc = pulse.na_per_code(amp.ma_per_code)
        self._code_max = amp.code_max
        full_ua = pulse.code_to_ua(amp.code_max, self._npc)
        board_ua = pulse.ma_to_ua(board.limits.board_max_ma)
        maxes = []
        for ch in board.channels:
            m = pulse.ma_to_ua(ch.max_ma)
            pulse.check_resolution(m, self._npc)  # the lowest step is at most 2 % of the channel
            maxes.append(min(m, board_ua, full_ua))
        self._max_ua: "Tuple[int, ...]" = tuple(maxes)
        self.chans = tuple(PulseChannel(board.channels[i].pulse_a, board.channels[i].pulse_b, i)
                           for i in range(len(board.channels)))
        self.n = len(self.chans)
        self._cpu_hz: int = freq()  # the measured clock, never the file's word (app.main checks they agree)
        self._guard_us = board.limits.guard_us
        self._dead_time_us = board.limits.dead_time_us
        self.code: "List[int]" = [0] * self.n  # the DAC code last written, per channel
        self._armed: "List[bool]" = [False] * self.n
        self._ua: "List[int]" = [0] * self.n  # the current set_ua() last asked for, per channel
        self._dac_live = False
        self._dac_arm = False  # a code was written while the DAC pads may be parked: arm at commit
        self._pending = 0  # bit c: channel c prepared, to go live at the next commit
        # set_levels()'s last call: its levels and scale, and whether it changed nothing (then the
        # same call again changes nothing either, until set_ua(), all_off() or forget_running()).
        self._levels: "List[int]" = [0] * self.n
        self._permille = -1
        self._levels_quiet = False
        self._driving = False
        self.pump = 0  # the charge pump's SIO mask for the next commit to toggle (0: none)
        self.cap_reason: "List[str]" = [""] * self.n  # which limit set the program cap, per channel
        oe = board.outputs.output_enable
        self._oe_reg = _SIO_OUT_SET if oe.active_level else _SIO_OUT_CLR  # output-enable active
        self._oe_mask = 1 << oe.pin
        self._live = tuple(c.live_words() for c in self.chans)
        pads: "Tuple[int, ...]" = getattr(self.dac, "pads", ())
        self._dac_pads = pads
        self._plan: "Optional[array[int]]" = None  # stim.hal.native_io.go_live's plan, on the rp2 port
        if NATIVE:
            words = [self._oe_reg, self._oe_mask, self.n, len(pads), 0, _DMA_MULTI_CHAN_TRIGGER, _SIO_OUT_XOR, 0]
            for w in self._live:
                words.extend(w)
            words.extend(pads)
            self._plan = array("I", words)

    # -- at 0 mA only --------------------------------------------------------------------
    def cap_ua(self, ch: int, prog: "Program") -> int:
        """Channel ch's cap under prog: the smallest of channel/board/DAC maximum, program maximum
        and the RMS cap; the supervisor adds its own limit. The reason is kept in cap_reason."""
        rms = pulse.rms_cap_ua(prog.width_us, prog.freq_hz)
        top = self._max_ua[ch]
        ua, why = pulse.cap_ua(top + 1, top, prog.max_ua, top, rms)
        self.cap_reason[ch] = why
        return ua

    def configure(self, prog: "Program") -> None:
        """Load prog's pulse shape into every channel (raises PulseError if it cannot be made safely)."""
        s = pulse.train_settings(prog, self._cpu_hz, self._guard_us, self._dead_time_us)
        self.all_off()
        for c in self.chans:
            c.abort()
            c.configure(s)

    # -- the tick --------------------------------------------------------------------------
    def set_ua(self, ch: int, ua: int) -> None:
        """Channel ch at ua (never more: the DAC code rounds down), up to commit(). Allocation-free."""
        if ua == self._ua[ch] and (not ua or self._armed[ch]):
            return  # as last tick, and live (or off): nothing to do (most ticks of a steady session)
        self._levels_quiet = False
        self._ua[ch] = ua
        code = ua * 1000 // self._npc if ua > 0 else 0  # pulse.ua_to_code, inline: each ramp tick runs it
        if code > self._code_max:
            code = self._code_max
        if code != self.code[ch]:
            if not self._dac_live:
                self._dac_arm = True  # a kill may have parked the DAC pads: commit() selects PWM again
            self.dac.set_code(ch, code)
            self.code[ch] = code
        if code and not self._armed[ch]:
            if self.chans[ch].prepare():  # False while the last train finishes: next tick
                self._armed[ch] = True
                self._pending |= 1 << ch

    def set_levels(self, levels_ua: "List[int]", permille: int, out_ua: "List[int]") -> bool:
        """set_ua(c, levels_ua[c] * permille // 1000) for every channel, each value into out_ua; True
        if any is above 0. One call for all channels, and none per channel in a steady session
        (a call costs ~12 us on silicon). If the last call changed nothing (no set_ua() did work),
        nothing changed the outputs since, and the levels and scale are the same, this one would
        change nothing either, out_ua included: it returns at once (two list comparisons, in C)."""
        if self._levels_quiet and permille == self._permille and levels_ua == self._levels:
            return self._driving
        self._levels_quiet = True  # set_ua() clears it if it has anything to do
        self._permille = permille
        self._driving = self._set_each(levels_ua, permille, out_ua)
        return self._driving

    def _set_each(self, levels_ua: "List[int]", permille: int, out_ua: "List[int]") -> bool:
        driving = False
        c = 0
        while c < self.n:
            self._levels[c] = levels_ua[c]  # set_levels' record (a slice copy would allocate its slice)
            ua = levels_ua[c] * permille // 1000
            out_ua[c] = ua
            if ua:
                driving = True
            if ua != self._ua[c] or (ua and not self._armed[c]):
                self.set_ua(c, ua)  # its own early return is the same test
            c += 1
        return driving

    def commit(self, kills: "array[int]", seen: int) -> bool:
        """After set_ua() for every channel: with IRQs held back, and only if the kill path has not
        fired since the tick read its inputs (kills[0] is still `seen`), the prepared channels go
        live, the DAC pads are armed, output-enable goes on, then the charge pump's pin toggles if
        `pump` (its SIO mask, set by the tick before the call; 0: no toggle) says so. True if it
        went live; False if a kill fired (nothing changed, the pump not toggled). Allocation-free;
        a few register writes."""
        plan = self._plan
        if plan is None:
            return self._went_live(self._commit_mem32(kills, seen))
        plan[4] = seen
        plan[_PUMP] = self.pump
        if not _native_commit(plan, self._pending, self._dac_arm, kills):
            return False
        self._pending = 0  # _went_live(), without its call
        if self._dac_arm:
            self._dac_arm = False
            self._dac_live = True
        return True

    def _went_live(self, live: "bool | int") -> bool:
        if not live:
            return False
        self._pending = 0
        if self._dac_arm:
            self._dac_arm = False
            self._dac_live = True
        return True

    def _commit_mem32(self, kills: "array[int]", seen: int) -> bool:
        """stim.hal.native_io.commit's check and writes, in its order, through mem32 (host VMs)."""
        state = self._irq_off() if self._irq_off is not None else 0
        try:
            if kills[0] != seen:
                return False
            mask = self._pending
            for c in range(self.n):
                if mask & (1 << c):
                    go_live_mem32(self._live[c])
            if self._dac_arm:
                for a in self._dac_pads:
                    mem32[a] = _FUNC_PWM
            mem32[self._oe_reg] = self._oe_mask
            if self.pump:
                mem32[_SIO_OUT_XOR] = self.pump
            return True
        finally:
            if self._irq_on is not None:
                self._irq_on(state)

    def any_running(self) -> bool:
        for a in self._armed:
            if a:
                return True
        return False

    def all_off(self) -> None:
        """DAC codes to 0 and every pulse pin parked low, now. Allocation-free."""
        self.dac.zero_all()
        for i in range(self.n):
            self.code[i] = 0
            self._ua[i] = 0
            self.chans[i].halt()
            self._armed[i] = False
        self._pending = 0
        self._levels_quiet = False

    def forget_running(self) -> None:
        """After the IRQ kill (pins already parked): end every train and expect codes of 0."""
        for i in range(self.n):
            self.chans[i].halt()
            self._armed[i] = False
            self.code[i] = 0
            self._ua[i] = 0
        self._pending = 0
        self._levels_quiet = False
        self._dac_live = False
        self._dac_arm = False
