"""The stimulation outputs of one board: a pulse train and an amplitude DAC code per channel.

The controller hands this a level in uA per channel each tick; everything
here is hardware plumbing with no safety rule of its own except the order of
operations: on the way down the DAC goes to 0 and the pins are parked before
anything else; on the way up the pulse train starts only after its amplitude
code is written. Pulse shapes change only while every channel is idle
(configure), so frequency and width never change under current.
"""

from stim import pulse
from stim.hal import dac as _dac
from stim.hal.pulse_hw import PulseChannel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from stim.board import Board
    from stim.programs import Program


class ChannelOutputs:
    def __init__(self, board: "Board", dac: "Optional[Any]" = None) -> None:
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
        self.chans = tuple(PulseChannel(ch.pulse_a, ch.pulse_b) for ch in board.channels)
        self.n = len(self.chans)
        self._cpu_hz = board.cpu_hz
        self._guard_us = board.limits.guard_us
        self.code: "List[int]" = [0] * self.n  # the DAC code last written, per channel
        self._armed: "List[bool]" = [False] * self.n
        self._dac_live = False
        self.cap_reason: "List[str]" = [""] * self.n  # which limit set the program cap, per channel

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
        s = pulse.slice_settings(prog, self._cpu_hz, self._guard_us)
        self.all_off()
        for c in self.chans:
            c.abort()
            c.configure(s)

    # -- the tick --------------------------------------------------------------------------
    def set_ua(self, ch: int, ua: int) -> None:
        """Drive channel ch at ua (never more: the DAC code rounds down). Allocation-free."""
        code = pulse.ua_to_code(ua, self._npc, self._code_max)
        if code != self.code[ch]:
            if not self._dac_live:
                self.dac.arm()  # a kill may have parked the DAC pins
                self._dac_live = True
            self.dac.set_code(ch, code)
            self.code[ch] = code
        if code and not self._armed[ch]:
            self._armed[ch] = self.chans[ch].start()  # False while the last train finishes: next tick

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
            self.chans[i].halt()
            self._armed[i] = False

    def forget_running(self) -> None:
        """After the IRQ kill (pins already parked): end every train and expect codes of 0."""
        for i in range(self.n):
            self.chans[i].halt()
            self._armed[i] = False
            self.code[i] = 0
        self._dac_live = False
