"""The pulse engine's pure core: slice settings, DMA pattern words, envelope, intensity caps, DAC codes.

How a channel's pulse train is made (hal/pulse_hw.py drives it, fakehw models it)
---------------------------------------------------------------------------------
One PWM slice per channel: channel A, not inverted, is the positive phase;
channel B, inverted, the negative phase. The slice runs with an *integer*
divider `div`, so every count lasts exactly div sysclk cycles and the two
phases, both `w` counts wide, are equal to the cycle. One slice period, a
"slot", is K = TOP + 1 counts. A 32-bit CC word per slot says what fires in
that slot:

    B on : CC_B = K - w   B is high in the last w counts of the slot
    A on : CC_A = w       A is high in the first w counts of the slot
    off  : CC_B = K, CC_A = 0

A biphasic pair is B at the end of slot i and, from the wrap on, A at the
start of slot i + 1: zero inter-phase gap, equal widths, zero net charge.

A DMA channel paced by the slice's wrap (DREQ_PWM_WRAP0 + slice) writes one
word per slot into CC, which is double-buffered: the word written in slot i
governs slot i + 1. The n words of one "program" (one pulse period, or one
burst period) are replayed by a second, unpaced DMA channel that restarts
the first at every program end. Every program starts with B and ends with two
off words, so a program boundary is always idle with every B followed by its
A: stopping is one CPU store (the restart address := 0), and the hardware
finishes the program in progress. This one mechanism serves every frequency:
continuous trains use m >= 3 slots per pulse period, so the sub-floor range
(below ~7.5 Hz, where one 16-bit slice period cannot span a pulse period at
125 MHz) is just a larger m, and burst TENS is a program of r pulse periods
of which the first k carry pulses. The CPU does nothing per pulse.

The gap between the phases (issue 15). A program may ask for an interphase
interval (interphase_us) and the board needs a dead time (limits.dead_time_us);
the gap a pair needs is gap_us() = max(interphase_us, dead_time_us). The
period fit reserves it: 2 * width + gap + guard must fit in the period. The
slot scheme above cannot make a gap (B ends and A starts on the same wrap), so
for now: the board's dead time is reserved in every fit but NOT made (pairs
still have a zero gap, as before), and a program that asks for a gap or for the
positive phase first is refused (check_made) rather than given a different
pulse than it asked for. docs/programs.md has the design for making the gap.
The RMS cap needs no change for the gap: no current flows in it, so the RMS
over a period is I * sqrt(2 * w * f) whatever the gap.

Pure: no machine import, no clock, integers only in everything the control
tick calls (envelope_*, cap_ua, ua_to_code), and the products there stay
below 2**30 so that MicroPython keeps them small ints (no allocation).
"""

from micropython import const

from stim.board import FieldError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from stim.programs import Program

MAX_WORDS = const(320)  # longest program (0.5 Hz bursts of 150 Hz pulses need 300 words)
DIV_MAX = const(255)  # 8.4 divider, integer part; the fraction stays 0
K_MAX = const(65535)  # TOP <= 0xFFFE so that CC_B = TOP + 1 ("off") still fits 16 bits
MIN_SLOTS_CONTINUOUS = const(3)  # B slot, A slot, one idle slot to end the program on
_PPM_ACCEPT = const(100_000)  # accept a period within 1/100000 (10 ppm) of the request
_WIDTH_ACCEPT = const(20)  # accept a width within 1/20 us (50 ns) of the request
_M_LOOK = const(12)  # slots-per-pulse values tried above the smallest that fits

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


class SliceSettings:
    """What one channel's slice and DMA program need; build it with settings_for() or slice_settings()."""

    def __init__(self, cpu_hz: int, div: int, top: int, w: int, m: int, n: int, k: int, guard_cycles: int,
                 freq_hz: int, width_us: int, burst_mhz: int, gap_cycles: int = 0) -> None:
        self.cpu_hz = cpu_hz
        self.div = div  # integer clock divider 1..255 (DIV register = div << 4)
        self.top = top  # TOP register: a slot is K = top + 1 counts
        self.w = w  # phase width in counts, both phases
        self.m = m  # slots per pulse period
        self.n = n  # slots (DMA words) per program
        self.k = k  # pulses per program (1 for a continuous train, pulses per burst for bursts)
        self.guard_cycles = guard_cycles
        # Reserved for the gap between the phases in the period fit (check()); the slot words do not
        # make it yet: B still ends and A starts on the same wrap (module docstring).
        self.gap_cycles = gap_cycles
        self.freq_hz = freq_hz  # as requested
        self.width_us = width_us
        self.burst_mhz = burst_mhz  # as requested, 0: no bursts

    @property
    def slot_cycles(self) -> int:
        return (self.top + 1) * self.div

    @property
    def period_cycles(self) -> int:
        """Pulse period (pulse to pulse within a program) in sysclk cycles."""
        return self.m * self.slot_cycles

    @property
    def width_cycles(self) -> int:
        return self.w * self.div

    @property
    def program_cycles(self) -> int:
        """One program: a pulse period for continuous trains, a burst period for bursts."""
        return self.n * self.slot_cycles

    def pulse_at(self, i: int) -> bool:
        """Does a pair start (B at the end of) slot i of the program?"""
        return 0 <= i < self.n and i % self.m == 0 and i // self.m < self.k

    def word(self, i: int) -> int:
        """CC word for slot i: A on if a pair started in slot i - 1, B on if one starts in slot i."""
        k1 = self.top + 1
        a = self.w if self.pulse_at(i - 1) else 0
        b = k1 - self.w if self.pulse_at(i) else k1
        return (b << 16) | a

    def idle_word(self) -> int:
        return (self.top + 1) << 16

    def check(self) -> None:
        """Raise PulseError unless the settings keep both phases apart with the guard time."""
        k1 = self.top + 1
        if not 1 <= self.div <= DIV_MAX:
            raise PulseError("div", "%d is out of range 1..%d" % (self.div, DIV_MAX))
        if not 2 <= k1 <= K_MAX:
            raise PulseError("top", "%d is out of range 1..%d" % (self.top, K_MAX - 1))
        if not 1 <= self.w < k1:
            raise PulseError("w", "a phase of %d counts must be 1..%d counts (shorter than a slot)" % (self.w, k1 - 1))
        if not 3 <= self.n <= MAX_WORDS or self.m < 1 or self.k < 1 or (self.k - 1) * self.m > self.n - 3:
            raise PulseError("n", "a program of %d slots cannot hold %d pulses %d slots apart and end on two"
                             " idle slots (at most %d slots)" % (self.n, self.k, self.m, MAX_WORDS))
        if self.period_cycles - 2 * self.width_cycles - self.gap_cycles < self.guard_cycles:
            raise PulseError("width_us", "both phases (2 x %d cycles)%s plus the guard (%d cycles) do not fit in"
                             " the period of %d cycles" % (self.width_cycles, _gap_words(self.gap_cycles, "cycles"),
                                                           self.guard_cycles, self.period_cycles))


def fill_words(s: SliceSettings, buf: "Any") -> int:
    """Write the program's n CC words into buf (an array('I') of at least n words); return n."""
    if s.n > len(buf):
        raise PulseError("n", "a program of %d words does not fit a buffer of %d" % (s.n, len(buf)))
    for i in range(s.n):
        buf[i] = s.word(i)
    return s.n


def _divisors(base: int) -> "Tuple[int, ...]":
    """Dividers 1..DIV_MAX that divide base (they give exact widths), largest first."""
    return tuple(d for d in range(min(base, DIV_MAX), 0, -1) if base % d == 0)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _search(cpu_hz: int, freq_hz: int, width_us: int, spare_cycles: int, r: int, k: int,
            divs: "Any") -> "Optional[Tuple[int, int, int, int, int, int]]":
    """Best (bad, n, period error, width error, div, m) over divs: accepted first, then fewest words.
    spare_cycles: what the period must hold beyond both phases (guard + gap)."""
    best: "Optional[Tuple[int, int, int, int, int, int]]" = None
    m_lo = MIN_SLOTS_CONTINUOUS if r == 1 else 1
    for d in divs:
        w = (2 * cpu_hz * width_us + d * 1_000_000) // (2 * d * 1_000_000)
        werr = abs(w * d * 1_000_000 - cpu_hz * width_us)  # cycles * 1e6
        m0 = max(m_lo, -(-cpu_hz // (freq_hz * d * K_MAX)))
        for m in range(m0, m0 + _M_LOOK):
            n = m * r
            if n > MAX_WORDS:
                break
            if (k - 1) * m > n - 3:
                continue
            k1 = (2 * cpu_hz + m * d * freq_hz) // (2 * m * d * freq_hz)
            if k1 > K_MAX or k1 < 2 or not 1 <= w < k1 or (m * k1 - 2 * w) * d < spare_cycles:
                continue
            perr = abs(m * k1 * d * freq_hz - cpu_hz)  # cycles * freq_hz
            bad = 0 if perr * _PPM_ACCEPT <= cpu_hz and werr * _WIDTH_ACCEPT <= cpu_hz else 1
            cand = (bad, n, perr, werr, d, m)
            if best is None or cand < best:
                best = cand
            if not bad:
                break  # more slots only lengthen the program
    return best


def _gap_words(gap: int, unit: str) -> str:
    """The gap's part of a fit error ("" without a gap: the message reads as before issue 15)."""
    return ", the gap between them (%d %s)," % (gap, unit) if gap else ""


def gap_us(interphase_us: int, dead_time_us: int) -> int:
    """The gap a pair needs between its phases: the program's interphase interval, but at least the
    board's dead time (limits.dead_time_us)."""
    return interphase_us if interphase_us > dead_time_us else dead_time_us


def settings_for(freq_hz: int, width_us: int, cpu_hz: int, guard_us: int, burst_mhz: int = 0,
                 burst_pulses: int = 0, gap: int = 0) -> SliceSettings:
    """Slice settings for freq_hz pulses of width_us per phase (optionally in bursts), with `gap` us
    reserved between the phases; PulseError if unsafe.

    Refuses any setting where both phases, the gap and the guard time do not fit in the period (the
    H-bridge would shoot through). Exact integer arithmetic: the period comes within 10 ppm of the request and
    the width within 50 ns (exactly, at 125 MHz and whole microseconds).
    """
    if freq_hz < 1:
        raise PulseError("freq_hz", "%d Hz: must be at least 1 Hz" % freq_hz)
    if width_us < 1:
        raise PulseError("width_us", "%d us: must be at least 1 us" % width_us)
    if gap < 0:
        raise PulseError("interphase_us", "%d us: a gap cannot be negative" % gap)
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
    gap_cycles = -(-cpu_hz * gap // 1_000_000)
    spare = guard_cycles + gap_cycles  # what the period must hold beyond both phases
    best = _search(cpu_hz, freq_hz, width_us, spare, r, k, _divisors(cpu_hz // _gcd(cpu_hz, 1_000_000)))
    if best is None or best[0]:
        other = _search(cpu_hz, freq_hz, width_us, spare, r, k, range(1, DIV_MAX + 1))
        if other is not None and (best is None or other < best):
            best = other
    if best is None:
        raise PulseError("width_us", "a %d us phase must fit in one slot, a third of the %d us period of a"
                         " continuous train (a whole period in a burst), on a %d Hz clock"
                         % (width_us, 1_000_000 // freq_hz, cpu_hz))
    _bad, n, _perr, _werr, d, m = best
    k1 = (2 * cpu_hz + m * d * freq_hz) // (2 * m * d * freq_hz)
    w = (2 * cpu_hz * width_us + d * 1_000_000) // (2 * d * 1_000_000)
    s = SliceSettings(cpu_hz, d, k1 - 1, w, m, n, k, guard_cycles, freq_hz, width_us, burst_mhz, gap_cycles)
    s.check()
    return s


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


def check_made(program: "Program") -> None:
    """Raise PulseError if program asks for a pulse shape the slot scheme cannot make yet: a gap of its
    own between the phases, or the positive phase first. Refused, never silently made differently."""
    if program.interphase_us:
        raise PulseError("interphase_us", "%d us: this firmware cannot make an interphase interval yet (each"
                         " pair is the negative phase, then at once the positive one); use 0"
                         % program.interphase_us)
    if program.lead != "negative":
        raise PulseError("lead", "%r: this firmware makes the negative phase first only; use \"negative\""
                         % program.lead)


def slice_settings(program: "Program", cpu_hz: int, guard_us: int, dead_time_us: int) -> SliceSettings:
    """(program, cpu_hz) -> slice settings, with the board's guard time (limits.guard_us) and its dead
    time (limits.dead_time_us) reserved in the period fit; PulseError names the field at fault."""
    check_fit(program.freq_hz, program.width_us, program.interphase_us, dead_time_us, guard_us)
    check_made(program)
    return settings_for(program.freq_hz, program.width_us, cpu_hz, guard_us, program.burst_mhz,
                        program.burst_pulses, gap_us(program.interphase_us, dead_time_us))


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
