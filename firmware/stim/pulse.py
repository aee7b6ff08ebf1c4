"""The pulse engine's pure core: pulse-train settings, the PIO program's words, envelope, caps, DAC codes.

How a channel's pulse train is made (hal/pulse_hw.py drives it, fakehw models it)
---------------------------------------------------------------------------------
One PIO state machine per channel runs PROGRAM (below) at the full system
clock, so every stretch is a whole number of cycles (8 ns at 125 MHz) at
every frequency: there is no PWM floor. Per pulse the machine takes four
32-bit words from its TX FIFO, each a cycle count minus that stretch's fixed
instruction overhead:

    rest R  both pins low        R + 4 cycles
    lead L  the lead pin high    L + 3 cycles
    gap G   both pins low        G + 2 cycles
    trail T the trail pin high   T + 2 cycles

The lead pin is the machine's side-set pin and the trail pin its `set` pin:
B (the odd GPIO, the negative phase) then A for `"lead": "negative"`, A then
B for `"positive"`. Only the three instructions around `lead:` raise the lead
pin and only `trail:` raises the trail pin, with the gap loop between them,
so the two phases cannot overlap whatever the words say. The gap a pair
needs is gap_us() = max(interphase_us, dead_time_us), and at least 2 cycles.

A DMA channel paced by the machine's TX FIFO feeds it the words of one
"program" (one pulse period of a continuous train, or one burst period: k
pairs, then the burst's idle time), in the order L, G, T, R for each pulse:
the rest after a pulse belongs to it, so a program always ends with a rest
and every lead with its trail. A second, unpaced DMA channel restarts the
first at every program end. Stopping is one CPU store (the restart address
:= 0): the hardware finishes the program in progress. The first rest of a
train (START_REST_US at most) is put in the FIFO by the CPU before the train
goes live, so the pads belong to the machine before the first phase. The CPU
does nothing per pulse.

The period fit: 2 * width + gap + guard must fit in the period (the guard is
the board's limits.guard_us, the least time with both phases off between
pairs). The RMS cap needs nothing for the gap: no current flows in it, so the
RMS over a period is I * sqrt(2 * w * f) whatever the gap.

Pure: no machine import, no clock, integers only in everything the control
tick calls (envelope_*, cap_ua, ua_to_code), and the products there stay
below 2**30 so that MicroPython keeps them small ints (no allocation).
"""

from micropython import const

from stim.boardspec import FieldError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Tuple

    from stim.programs import Program

LEAD_NEGATIVE = "negative"
LEAD_POSITIVE = "positive"
MAX_PULSES = const(298)  # pulses in one program: a burst of up to r - 2 pulses, r <= 300 periods
WORDS_PER_PULSE = const(4)  # L, G, T, R
START_REST_US = const(1000)  # the first rest of a train, at most (the pads go to the machine in it)
MIN_GAP_CYCLES = const(2)  # the gap loop's overhead: the smallest gap the program makes
_REST_OVERHEAD = const(4)  # R + 4 cycles (out, jmp x-- passes, out) before the lead rises
_LEAD_OVERHEAD = const(3)
_GAP_OVERHEAD = const(2)
_TRAIL_OVERHEAD = const(2)

# The state machine's program (pioasm; side-set 1 pin, not optional; wrap 10 -> 0). Instruction
# words for PIO instruction memory at offset 0 (jump targets are absolute). tests/test_pulse_pio.py
# disassembles these words and compares them with this listing, and docs/programs.md gives it.
PROGRAM = (
    0x6020,  # 0       out x, 32        side 0   ; R: both pins low (after `set pins, 0`)
    0x0041,  # 1 rest: jmp x--, rest    side 0
    0x6020,  # 2       out x, 32        side 0   ; L (the only place an idle machine waits: pins low)
    0xB042,  # 3       nop              side 1   ; the lead rises
    0x1044,  # 4 lead: jmp x--, lead    side 1
    0x7040,  # 5       out y, 32        side 1   ; G
    0x0086,  # 6 gap:  jmp y--, gap     side 0   ; the lead falls
    0x6020,  # 7       out x, 32        side 0   ; T
    0xE001,  # 8       set pins, 1      side 0   ; the trail rises
    0x0049,  # 9 trail: jmp x--, trail  side 0
    0xE000,  # 10      set pins, 0      side 0   ; the trail falls; wrap to 0
)
PROGRAM_WRAP_TOP = const(10)
IDLE_ADDRS = const(3)  # instructions 0..2 hold both pins low: at one of them with no word left, idle

# IEC 60601-2-10: at most 50 mA RMS into 500 Ohm. RMS of symmetric biphasic pulses of peak I,
# phase width w, rate f: I * sqrt(2 * w * f). With w in us: I_peak <= 5e7 / sqrt(2 * w_us * f) uA.
RMS_LIMIT_UA = const(50_000)

CAP_NONE = ""
CAP_BOARD = "board"
CAP_PROGRAM = "program"
CAP_SUPERVISOR = "supervisor"
CAP_RMS = "rms"


class PulseError(FieldError):
    """A setting the pulse engine refuses. str(e) is "<field>: <reason>"; e.path, e.reason."""


class TrainSettings:
    """One channel's pulse train in cycles of the system clock; build it with settings_for() or
    train_settings()."""

    def __init__(self, cpu_hz: int, freq_hz: int, width_us: int, burst_mhz: int, k: int, r: int,
                 width_cycles: int, gap_cycles: int, guard_cycles: int, period_cycles: int,
                 lead: str = LEAD_NEGATIVE) -> None:
        self.cpu_hz = cpu_hz
        self.freq_hz = freq_hz  # as requested
        self.width_us = width_us
        self.burst_mhz = burst_mhz  # as requested, 0: no bursts
        self.k = k  # pulses per program (1 for a continuous train)
        self.r = r  # pulse periods per program (1 for a continuous train)
        self.width_cycles = width_cycles  # each phase
        self.gap_cycles = gap_cycles  # between the phases of a pair
        self.guard_cycles = guard_cycles  # the least rest between pairs
        self.period_cycles = period_cycles  # pulse to pulse within a program
        self.lead = lead

    @property
    def n(self) -> int:
        """Words per program."""
        return WORDS_PER_PULSE * self.k

    @property
    def program_cycles(self) -> int:
        """One program: a pulse period for continuous trains, a burst period for bursts."""
        return self.r * self.period_cycles

    @property
    def pair_cycles(self) -> int:
        return 2 * self.width_cycles + self.gap_cycles

    def rest_cycles(self, j: int) -> int:
        """The rest after pulse j of the program: to the next pulse, or the burst's idle time."""
        if j < self.k - 1:
            return self.period_cycles - self.pair_cycles
        return (self.r - self.k + 1) * self.period_cycles - self.pair_cycles

    def start_rest_cycles(self) -> int:
        """The first rest of a train: the rest between pulses, START_REST_US at most (never below the
        guard time)."""
        r = self.period_cycles - self.pair_cycles
        cap = self.cpu_hz // 1_000_000 * START_REST_US
        cap = cap if cap > self.guard_cycles else self.guard_cycles
        return r if r < cap else cap

    def word(self, i: int) -> int:
        """Word i of the program: L, G, T, R for each pulse (cycle counts less the overheads)."""
        j, part = divmod(i, WORDS_PER_PULSE)
        if part == 0:
            return self.width_cycles - _LEAD_OVERHEAD
        if part == 1:
            return self.gap_cycles - _GAP_OVERHEAD
        if part == 2:
            return self.width_cycles - _TRAIL_OVERHEAD
        return self.rest_cycles(j) - _REST_OVERHEAD

    def start_word(self) -> int:
        return self.start_rest_cycles() - _REST_OVERHEAD

    def lead_is_a(self) -> bool:
        """Does the lead (side-set) pin drive A, the positive phase?"""
        return self.lead == LEAD_POSITIVE

    def check(self) -> None:
        """Raise PulseError unless the settings keep both phases apart with the gap and the guard time,
        and every word fits the program."""
        if self.width_cycles < _LEAD_OVERHEAD:
            raise PulseError("width_us", "a phase of %d cycles is shorter than the %d the program needs"
                             % (self.width_cycles, _LEAD_OVERHEAD))
        if self.gap_cycles < MIN_GAP_CYCLES:
            raise PulseError("interphase_us", "a gap of %d cycles is shorter than the %d the program makes"
                             % (self.gap_cycles, MIN_GAP_CYCLES))
        if not 1 <= self.k <= MAX_PULSES or self.k > self.r or (self.r > 1 and self.k > self.r - 2):
            raise PulseError("burst.pulses", "%d pulses do not fit in a program of %d pulse periods with two"
                             " idle periods (at most %d pulses)" % (self.k, self.r, MAX_PULSES))
        rest = self.period_cycles - self.pair_cycles
        if rest < self.guard_cycles or rest < _REST_OVERHEAD:
            raise PulseError("width_us", "both phases (2 x %d cycles)%s plus the guard (%d cycles) do not fit in"
                             " the period of %d cycles" % (self.width_cycles, _gap_words(self.gap_cycles, "cycles"),
                                                           self.guard_cycles, self.period_cycles))
        if self.program_cycles >= 1 << 32:
            raise PulseError("freq_hz", "a program of %d cycles exceeds a 32-bit count" % self.program_cycles)


def fill_words(s: TrainSettings, buf: "Any") -> int:
    """Write the program's n words into buf (an array('I') of at least n words); return n."""
    if s.n > len(buf):
        raise PulseError("burst.pulses", "a program of %d words does not fit a buffer of %d" % (s.n, len(buf)))
    for i in range(s.n):
        buf[i] = s.word(i)
    return s.n


def _gap_words(gap: int, unit: str) -> str:
    """The gap's part of a fit error ("" without a gap: the message reads as before issue 15)."""
    return ", the gap between them (%d %s)," % (gap, unit) if gap else ""


def gap_us(interphase_us: int, dead_time_us: int) -> int:
    """The gap a pair needs between its phases: the program's interphase interval, but at least the
    board's dead time (limits.dead_time_us)."""
    return interphase_us if interphase_us > dead_time_us else dead_time_us


def settings_for(freq_hz: int, width_us: int, cpu_hz: int, guard_us: int, burst_mhz: int = 0,
                 burst_pulses: int = 0, gap: int = 0, lead: str = LEAD_NEGATIVE) -> TrainSettings:
    """Train settings for freq_hz pulses of width_us per phase (optionally in bursts), `gap` us between
    the phases and the `lead` phase first; PulseError if unsafe.

    Refuses any setting where both phases, the gap and the guard time do not fit in the period (the
    H-bridge would shoot through). Exact integer arithmetic: the period is the nearest whole number of
    cycles (within half a cycle) and the widths and gap are exact whenever cpu_hz is a whole number of
    MHz (125 MHz: 125 cycles per us); otherwise rounded to the nearest cycle.
    """
    if freq_hz < 1:
        raise PulseError("freq_hz", "%d Hz: must be at least 1 Hz" % freq_hz)
    if width_us < 1:
        raise PulseError("width_us", "%d us: must be at least 1 us" % width_us)
    if gap < 0:
        raise PulseError("interphase_us", "%d us: a gap cannot be negative" % gap)
    if lead not in (LEAD_NEGATIVE, LEAD_POSITIVE):
        raise PulseError("lead", "%r: must be \"negative\" or \"positive\"" % (lead,))
    if (2 * width_us + gap + guard_us) * freq_hz > 1_000_000:
        raise PulseError("width_us", "both phases (2 x %d us)%s plus the guard time (%d us) do not fit in the"
                         " %d us period of %d Hz (H-bridge shoot-through); at most %d us per phase"
                         % (width_us, _gap_words(gap, "us"), guard_us, 1_000_000 // freq_hz, freq_hz,
                            (1_000_000 // freq_hz - guard_us - gap) // 2))
    r = 1
    k = 1
    if burst_mhz:
        r = (2 * freq_hz * 1000 + burst_mhz) // (2 * burst_mhz)  # pulse periods per burst period
        k = burst_pulses
        if k < 1 or k > r - 2:
            raise PulseError("burst.pulses", "%d pulses do not fit in a burst of %d pulse periods with two idle"
                             " periods (allowed 1..%d)" % (k, r, max(0, r - 2)))
    guard_cycles = -(-cpu_hz * guard_us // 1_000_000)
    gap_cycles = _cycles(cpu_hz, gap)
    if gap_cycles < MIN_GAP_CYCLES:
        gap_cycles = MIN_GAP_CYCLES
    period = (2 * cpu_hz + freq_hz) // (2 * freq_hz)
    s = TrainSettings(cpu_hz, freq_hz, width_us, burst_mhz, k, r, _cycles(cpu_hz, width_us), gap_cycles,
                      guard_cycles, period, lead)
    s.check()
    return s


def _cycles(cpu_hz: int, us: int) -> int:
    """us microseconds in cycles of cpu_hz, to the nearest cycle."""
    return (2 * cpu_hz * us + 1_000_000) // 2_000_000


def check_fit(freq_hz: int, width_us: int, interphase_us: int, dead_time_us: int, guard_us: int) -> None:
    """Raise PulseError unless both phases, the gap (gap_us) and the guard fit in the period; the error
    names interphase_us when the program's own interphase interval is what does not fit."""
    period = 1_000_000 // freq_hz if freq_hz > 0 else 0
    gap = gap_us(interphase_us, dead_time_us)
    if (2 * width_us + gap + guard_us) * freq_hz <= 1_000_000:
        return
    if interphase_us > dead_time_us and (2 * width_us + dead_time_us + guard_us) * freq_hz <= 1_000_000:
        raise PulseError("interphase_us", "%d us: both phases (2 x %d us), this gap and the guard time (%d us)"
                         " do not fit in the %d us period of %d Hz; at most %d us here"
                         % (interphase_us, width_us, guard_us, period, freq_hz,
                            1_000_000 // freq_hz - 2 * width_us - guard_us))
    raise PulseError("width_us", "both phases (2 x %d us), the gap between them (%d us: interphase_us %d,"
                     " the board's dead time %d us) plus the guard time (%d us) do not fit in the %d us period"
                     " of %d Hz (H-bridge shoot-through); at most %d us per phase"
                     % (width_us, gap, interphase_us, dead_time_us, guard_us, period, freq_hz,
                        (period - guard_us - gap) // 2))


def train_settings(program: "Program", cpu_hz: int, guard_us: int, dead_time_us: int) -> TrainSettings:
    """(program, cpu_hz) -> train settings, with the board's guard time (limits.guard_us) and its dead
    time (limits.dead_time_us) in the period fit; PulseError names the field at fault."""
    check_fit(program.freq_hz, program.width_us, program.interphase_us, dead_time_us, guard_us)
    return settings_for(program.freq_hz, program.width_us, cpu_hz, guard_us, program.burst_mhz,
                        program.burst_pulses, gap_us(program.interphase_us, dead_time_us), program.lead)


# -- envelope ------------------------------------------------------------------------------------
def _ramp(x: int, length: int, up: int, down: int) -> int:
    """0..1000 at x ms into a stretch of `length` ms that ramps up over `up` and down over `down` ms."""
    if x < up:
        return x * 1000 // up
    left = length - x
    if left < down:
        return left * 1000 // down
    return 1000


def envelope_permille(program: "Program", t_ms: int) -> int:
    """Intensity scale 0..1000 at t_ms into the session: work/rest cycle with ramps inside each
    contraction (continuous programs ramp up at the start); the session's last ramp_down_ms ramp down
    to 0 whatever the cycle does, and from duration_ms on it is 0."""
    p = program
    if t_ms < 0 or t_ms >= p.duration_ms:
        return 0
    e = _cycle(p, t_ms)
    left = p.duration_ms - t_ms
    if left < p.ramp_down_ms:
        tail = left * 1000 // p.ramp_down_ms
        if tail < e:
            e = tail
    return e


def _cycle(p: "Program", t_ms: int) -> int:
    """The work/rest cycle's scale at t_ms (split from envelope_permille to keep each frame on the
    stack: picostim.devtools.frames)."""
    if not p.on_ms:
        return t_ms * 1000 // p.ramp_up_ms if t_ms < p.ramp_up_ms else 1000
    x = t_ms % (p.on_ms + p.off_ms)
    return _ramp(x, p.on_ms, p.ramp_up_ms, p.ramp_down_ms) if x < p.on_ms else 0


def envelope_flat_until(program: "Program", t_ms: int) -> int:
    """A session time u > t_ms such that envelope_permille is the same at every ms of [t_ms, u):
    the end of the plateau or the rest t_ms is in, never past the session's ramp-down; t_ms + 1 in a
    ramp. The tick asks once per flat stretch, not every 10 ms (three calls, ~75 us on silicon)."""
    p = program
    end = p.duration_ms - p.ramp_down_ms  # from end + 1 on the session's ramp-down may cut in
    if t_ms < 0 or t_ms >= end:
        return t_ms + 1
    if not p.on_ms:  # continuous: one ramp up, then flat until the ramp-down
        return t_ms + 1 if t_ms < p.ramp_up_ms else end
    x = t_ms % (p.on_ms + p.off_ms)
    if x >= p.on_ms:
        u = t_ms - x + p.on_ms + p.off_ms  # at rest (0) until the next contraction starts
    elif p.ramp_up_ms <= x <= p.on_ms - p.ramp_down_ms:  # _ramp's plateau, its last ms included
        u = t_ms - x + p.on_ms - p.ramp_down_ms + (1 if p.ramp_down_ms else 0)
    else:
        return t_ms + 1
    return u if u < end else end


def envelope_ua(program: "Program", t_ms: int, level_ua: int) -> int:
    """(program, time since start, channel level) -> output current in uA."""
    return level_ua * envelope_permille(program, t_ms) // 1000


# -- intensity limits --------------------------------------------------------------------------
def isqrt(n: int) -> int:
    """floor(sqrt(n)) for n >= 0, exactly (integer Newton)."""
    if n < 0:
        raise ValueError("isqrt of a negative number")
    if n < 2:
        return n
    x = 1
    while x * x <= n:
        x <<= 1
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y


def rms_cap_ua(width_us: int, freq_hz: int) -> int:
    """Largest peak current (uA) whose RMS, I * sqrt(2 * w * f), stays within 50 mA (IEC 60601-2-10,
    500 Ohm). For bursts pass the pulse rate inside the burst (the conservative choice)."""
    return isqrt(RMS_LIMIT_UA * RMS_LIMIT_UA * 1_000_000 // (2 * width_us * freq_hz))


def cap_ua(requested_ua: int, board_ua: int, program_ua: int, supervisor_ua: int,
           rms_ua: int) -> "Tuple[int, str]":
    """The requested current capped at the smallest limit, and which limit capped it ("" if none).

    Limits are checked in the order board, program, supervisor, rms; on a tie the first one is named.
    """
    ua = requested_ua if requested_ua > 0 else 0
    reason = CAP_NONE
    if ua > board_ua:
        ua = board_ua
        reason = CAP_BOARD
    if ua > program_ua:
        ua = program_ua
        reason = CAP_PROGRAM
    if ua > supervisor_ua:
        ua = supervisor_ua
        reason = CAP_SUPERVISOR
    if ua > rms_ua:
        ua = rms_ua
        reason = CAP_RMS
    return ua, reason


# -- amplitude DAC codes -----------------------------------------------------------------------
def ma_to_ua(ma: float) -> int:
    """A board-file or program current in mA (int or float) to integer uA; at load, never in the tick."""
    return round(ma * 1000)


def channel_max_ua(board: "Any") -> "List[int]":
    """Each channel's maximum in uA, within the board maximum: the one conversion the supervisor,
    the store and the console share (the same rounding everywhere); at load."""
    top = ma_to_ua(board.limits.board_max_ma)
    return [min(ma_to_ua(ch.max_ma), top) for ch in board.channels]


def na_per_code(ma_per_code: float) -> int:
    """The board's amplitude.ma_per_code as integer nA per code; at load."""
    return round(ma_per_code * 1_000_000)


def ua_to_code(ua: int, npc: int, code_max: int) -> int:
    """The largest DAC code whose current does not exceed ua (never rounds up), at most code_max."""
    if ua <= 0:
        return 0
    c = ua * 1000 // npc
    return c if c < code_max else code_max


def code_to_ua(code: int, npc: int) -> int:
    return code * npc // 1000


def check_resolution(max_ua: int, npc: int) -> None:
    """Raise PulseError unless the lowest non-zero setting (one code) is at most 2 % of max_ua and 0.5 mA."""
    step = code_to_ua(1, npc)
    if step * 50 > max_ua or step > 500:
        raise PulseError("amplitude.ma_per_code", "one code is %d uA: more than 2 %% of the channel maximum"
                         " %d uA or more than 0.5 mA" % (step, max_ua))
