"""Stimulation programs: the validated `Program`, the built-ins, and validation of custom ones.

A program is a dict (or JSON text) that validate()/parse() check once and turn
into a `Program` of plain integers: Hz, microseconds, milliseconds, microamps
(docs/design.md: the firmware's units). An invalid program raises
ProgramError, a ValueError whose message starts with the field path and
states the allowed range, e.g. "freq_hz: 200 is out of range 1..150 Hz".

Fields (docs/programs.md has the full table; defaults fill what is missing):

    name          string, 1..24 chars                  default "custom"
    freq_hz       integer 1..150 Hz                    required
    width_us      integer 20..1000 us per phase        required (both phases equal: symmetric biphasic)
    interphase_us integer 0..1000 us between the phases default 0 (the gap made is at least the board's
                                                       limits.dead_time_us: stim.pulse.gap_us)
    lead          "negative" or "positive"             default "negative": which phase comes first
    burst         null, or {"freq_hz": 0.5..10, "pulses": integer >= 1}   default null (no bursts)
    on_s, off_s   work/rest seconds 1..60 and 1..300, or both null for a continuous program
                                                       default null (continuous)
    ramp_up_s     0..5 s, inside each contraction      default 1
    ramp_down_s   0..5 s, inside each contraction      default 1
    duration_min  1..60 min                            default 20
    max_ma        program maximum intensity 1..100 mA  default 50
    channels      list of {"label": string 1..24 chars, "used": bool (default true)},
                  at most one per board channel; channels past the list are unused.
                  default: every channel used, labelled "channel 1", "channel 2", ...

Pure: no machine import, no clock. Runs on MicroPython and CPython. Floats from
the JSON are converted to integers here, once.
"""

import json

from stim.boardspec import FieldError, type_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

FREQ_MIN_HZ = 1
FREQ_MAX_HZ = 150
WIDTH_MIN_US = 20
WIDTH_MAX_US = 1000
INTERPHASE_MAX_US = 1000
LEAD_NEGATIVE = "negative"  # B (the odd GPIO) first, then A: the only order before issue 15
LEAD_POSITIVE = "positive"
LEADS = (LEAD_NEGATIVE, LEAD_POSITIVE)
BURST_MIN_MHZ = 500  # 0.5 Hz
BURST_MAX_MHZ = 10_000  # 10 Hz
ON_MIN_MS = 1_000
ON_MAX_MS = 60_000
OFF_MIN_MS = 1_000
OFF_MAX_MS = 300_000
RAMP_MAX_MS = 5_000
DURATION_MIN_MS = 60_000
DURATION_MAX_MS = 3_600_000
MAX_MIN_UA = 1_000
MAX_MAX_UA = 100_000
LABEL_MAX = 24
BURST_IDLE_PERIODS = 2  # a burst ends with at least this many empty pulse periods (pulse.py needs them)

# The defaults a program gets for the fields it leaves out.
DEFAULTS = {
    "name": "custom",
    "burst": None,
    "on_s": None,
    "off_s": None,
    "ramp_up_s": 1,
    "ramp_down_s": 1,
    "duration_min": 20,
    "max_ma": 50,
    "interphase_us": 0,
    "lead": LEAD_NEGATIVE,
}
_REQUIRED = ("freq_hz", "width_us")
_KEYS = ("burst", "channels", "duration_min", "freq_hz", "interphase_us", "lead", "max_ma", "name", "off_s",
         "on_s", "ramp_down_s", "ramp_up_s", "width_us")


class ProgramError(FieldError):
    """An invalid program. str(e) is "<field path>: <reason and allowed range>"; e.path, e.reason."""


class Program:
    """A validated program, in integer units (Hz, us, ms, uA). Build it with validate()."""

    def __init__(
        self,
        name: str,
        freq_hz: int,
        width_us: int,
        burst_mhz: int,
        burst_pulses: int,
        on_ms: int,
        off_ms: int,
        ramp_up_ms: int,
        ramp_down_ms: int,
        duration_ms: int,
        max_ua: int,
        labels: "Tuple[str, ...]",
        used: "Tuple[bool, ...]",
        interphase_us: int = 0,
        lead: str = LEAD_NEGATIVE,
    ) -> None:
        self.name = name
        self.freq_hz = freq_hz
        self.width_us = width_us
        self.burst_mhz = burst_mhz  # 0: no bursts
        self.burst_pulses = burst_pulses  # pulses per burst (0 without bursts)
        self.on_ms = on_ms  # 0 with off_ms 0: continuous
        self.off_ms = off_ms
        self.ramp_up_ms = ramp_up_ms
        self.ramp_down_ms = ramp_down_ms
        self.duration_ms = duration_ms
        self.max_ua = max_ua
        self.labels = labels  # one per board channel
        self.used = used
        self.interphase_us = interphase_us  # asked-for gap between the phases (the board may need more)
        self.lead = lead  # LEAD_NEGATIVE or LEAD_POSITIVE: which phase comes first

    @property
    def continuous(self) -> bool:
        return self.on_ms == 0

    def channel_used(self, ch: int) -> bool:
        return 0 <= ch < len(self.used) and self.used[ch]

    def to_dict(self) -> "Dict[str, Any]":
        """The program as a plain dict that validate() turns back into an equal Program."""
        burst: "Optional[Dict[str, Any]]" = None
        if self.burst_mhz:
            burst = {"freq_hz": _unmilli(self.burst_mhz), "pulses": self.burst_pulses}
        return {
            "name": self.name,
            "freq_hz": self.freq_hz,
            "width_us": self.width_us,
            "interphase_us": self.interphase_us,
            "lead": self.lead,
            "burst": burst,
            "on_s": _unmilli(self.on_ms) if self.on_ms else None,
            "off_s": _unmilli(self.off_ms) if self.on_ms else None,
            "ramp_up_s": _unmilli(self.ramp_up_ms),
            "ramp_down_s": _unmilli(self.ramp_down_ms),
            "duration_min": _unmilli(self.duration_ms // 60),
            "max_ma": _unmilli(self.max_ua),
            # Channels past the program's list have no label (and are unused): leave them out.
            "channels": [{"label": self.labels[i], "used": self.used[i]} for i in range(len(self.labels))
                         if self.labels[i]],
        }


def _unmilli(v: int) -> "Any":
    """An integer number of thousandths back to a JSON number (int when whole)."""
    return v // 1000 if v % 1000 == 0 else v / 1000


def _check_keys(d: "Any", path: str, keys: "Tuple[str, ...]") -> "Dict[str, Any]":
    if not isinstance(d, dict):
        raise ProgramError(path or "(program)", "expected an object, got " + type_name(d))
    for k in sorted(d):
        if k not in keys:
            raise ProgramError((path + "." if path else "") + str(k),
                               "unknown field (allowed here: " + ", ".join(keys) + ")")
    return d


def _integer(v: "Any", path: str, lo: int, hi: int, unit: str) -> int:
    if type(v) is bool or not isinstance(v, int):
        raise ProgramError(path, "expected an integer %d..%d %s, got %s" % (lo, hi, unit, type_name(v)))
    if v < lo or v > hi:
        raise ProgramError(path, "%d is out of range %d..%d %s" % (v, lo, hi, unit))
    return v


def _milli(v: "Any", path: str, lo: int, hi: int, unit: str) -> int:
    """A number given in `unit`, returned in thousandths (s -> ms, mA -> uA, Hz -> mHz), lo..hi thousandths."""
    rng = "%g..%g %s" % (lo / 1000, hi / 1000, unit)
    if type(v) is bool or not isinstance(v, (int, float)):
        raise ProgramError(path, "expected a number " + rng + ", got " + type_name(v))
    m = round(v * 1000)
    if not lo <= m <= hi:
        raise ProgramError(path, "%g is out of range %s" % (v, rng))
    return m


def _label(v: "Any", path: str) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > LABEL_MAX:
        raise ProgramError(path, "expected a string of 1..%d characters, got %s" % (LABEL_MAX, type_name(v)))
    return v


def _channels(v: "Any", n_channels: int) -> "Tuple[Tuple[str, ...], Tuple[bool, ...]]":
    if v is None:
        return tuple("channel %d" % (i + 1) for i in range(n_channels)), tuple(True for _ in range(n_channels))
    if not isinstance(v, list):
        raise ProgramError("channels", "expected a list of {label, used}, got " + type_name(v))
    if len(v) > n_channels:
        raise ProgramError("channels", "%d entries, but the board has %d channels (allowed 0..%d)"
                           % (len(v), n_channels, n_channels))
    labels: "List[str]" = []
    used: "List[bool]" = []
    for i in range(n_channels):
        if i >= len(v):
            labels.append("")
            used.append(False)
            continue
        p = "channels[%d]" % i
        e = _check_keys(v[i], p, ("label", "used"))
        if "label" not in e:
            raise ProgramError(p + ".label", "missing required field (a muscle label, 1..%d characters)"
                               % LABEL_MAX)
        labels.append(_label(e["label"], p + ".label"))
        u = e.get("used", True)
        if type(u) is not bool:
            raise ProgramError(p + ".used", "expected true or false, got " + type_name(u))
        used.append(u)
    return tuple(labels), tuple(used)


def _burst(v: "Any", freq_hz: int) -> "Tuple[int, int]":
    if v is None:
        return 0, 0
    b = _check_keys(v, "burst", ("freq_hz", "pulses"))
    for k in ("freq_hz", "pulses"):
        if k not in b:
            raise ProgramError("burst." + k, "missing required field")
    mhz = _milli(b["freq_hz"], "burst.freq_hz", BURST_MIN_MHZ, BURST_MAX_MHZ, "Hz")
    # The burst period is a whole number of pulse periods (pulse.py): round(freq / burst freq).
    periods = (2 * freq_hz * 1000 + mhz) // (2 * mhz)
    most = periods - BURST_IDLE_PERIODS
    if most < 1:
        raise ProgramError("burst.freq_hz", "%g Hz bursts of %d Hz pulses leave no room for a pulse; the burst"
                           " period must hold at least %d pulse periods (burst freq_hz at most %g Hz here)"
                           % (mhz / 1000, freq_hz, BURST_IDLE_PERIODS + 1, freq_hz / (BURST_IDLE_PERIODS + 1)))
    pulses = _integer(b["pulses"], "burst.pulses", 1, most, "pulses per burst (at %d Hz in %g Hz bursts)"
                      % (freq_hz, mhz / 1000))
    return mhz, pulses


def validate(d: "Any", n_channels: int) -> Program:
    """Check a program dict for a board with n_channels; fill defaults; return a Program."""
    _check_keys(d, "", _KEYS)
    for k in _REQUIRED:
        if k not in d:
            raise ProgramError(k, "missing required field")
    v: "Dict[str, Any]" = {}
    v.update(DEFAULTS)
    for k in d:
        v[k] = DEFAULTS[k] if d[k] is None and k in DEFAULTS else d[k]  # null means "not given"
    name = v["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > LABEL_MAX:
        raise ProgramError("name", "expected a string of 1..%d characters, got %s" % (LABEL_MAX, type_name(name)))
    freq = _integer(v["freq_hz"], "freq_hz", FREQ_MIN_HZ, FREQ_MAX_HZ, "Hz")
    width = _integer(v["width_us"], "width_us", WIDTH_MIN_US, WIDTH_MAX_US, "us")
    burst_mhz, burst_pulses = _burst(v["burst"], freq)
    interphase = _integer(v["interphase_us"], "interphase_us", 0, INTERPHASE_MAX_US, "us")
    lead = v["lead"]
    if lead not in LEADS:  # a non-string is never in LEADS, and "in" on a tuple never raises
        raise ProgramError("lead", "expected \"negative\" (the negative phase first) or \"positive\", got "
                           + (repr(lead) if isinstance(lead, str) else type_name(lead)))
    on = v["on_s"]
    off = v["off_s"]
    if (on is None) != (off is None):
        which = "off_s" if on is not None else "on_s"
        raise ProgramError(which, "on_s and off_s go together: give both for a work/rest cycle, or neither"
                           " for a continuous program")
    on_ms = 0 if on is None else _milli(on, "on_s", ON_MIN_MS, ON_MAX_MS, "s")
    off_ms = 0 if off is None else _milli(off, "off_s", OFF_MIN_MS, OFF_MAX_MS, "s")
    up = _milli(v["ramp_up_s"], "ramp_up_s", 0, RAMP_MAX_MS, "s")
    down = _milli(v["ramp_down_s"], "ramp_down_s", 0, RAMP_MAX_MS, "s")
    duration = _milli(v["duration_min"], "duration_min", DURATION_MIN_MS // 60, DURATION_MAX_MS // 60, "min") * 60
    room = on_ms if on_ms else duration
    if up + down > room:
        raise ProgramError("ramp_down_s", "ramp_up_s + ramp_down_s = %g s must fit in the %s of %g s"
                           % ((up + down) / 1000, "contraction (on_s)" if on_ms else "session", room / 1000))
    max_ua = _milli(v["max_ma"], "max_ma", MAX_MIN_UA, MAX_MAX_UA, "mA")
    labels, used = _channels(v.get("channels"), n_channels)
    return Program(name, freq, width, burst_mhz, burst_pulses, on_ms, off_ms, up, down, duration, max_ua,
                   labels, used, interphase, lead)


def parse(text: str, n_channels: int) -> Program:
    """JSON text -> Program."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise ProgramError("(json)", "not valid JSON: " + str(e)) from None
    return validate(d, n_channels)


# -- built-in programs ------------------------------------------------------------------------
# Each names its source. Intensities are ceilings (max_ma): the trainer sets the level, and the
# board maximum and the RMS cap (pulse.rms_cap_ua) apply on top.
BUILTINS = (
    # Whole-body EMS for non-specific low-back pain: 85 Hz, 350 us bipolar, 4 s on / 4 s off,
    # 1 s ramps, 20 min, as in the WB-EMS low-back-pain trials (Weissenfels et al., J Pain Res
    # 2018;11:1949-57) and the WB-EMS application recommendations (Kemmler et al., Front Physiol
    # 2021;12:640657); parameters as specified in PicoStim issue #3.
    {"name": "lower_back", "freq_hz": 85, "width_us": 350, "on_s": 4, "off_s": 4, "ramp_up_s": 1,
     "ramp_down_s": 1, "duration_min": 20, "max_ma": 80,
     "channels": [{"label": "lower back L"}, {"label": "lower back R"}]},
    # Conventional (high-frequency, low-intensity) TENS for pain: 100 Hz, 200 us, continuous,
    # 30 min (Sluka & Walsh, J Pain 2003;4(3):109-21; Johnson, "Transcutaneous electrical nerve
    # stimulation", in Electrotherapy: Evidence-Based Practice, 2008).
    {"name": "tens_conventional", "freq_hz": 100, "width_us": 200, "ramp_up_s": 2, "ramp_down_s": 2,
     "duration_min": 30, "max_ma": 50},
    # Burst ("acupuncture-like") TENS: bursts of 7 pulses at 100 Hz, 2 bursts per second
    # (Eriksson & Sjolund 1976; Sluka & Walsh 2003), 200 us, continuous, 30 min.
    {"name": "tens_burst", "freq_hz": 100, "width_us": 200, "burst": {"freq_hz": 2, "pulses": 7},
     "ramp_up_s": 2, "ramp_down_s": 2, "duration_min": 30, "max_ma": 50},
    # NMES strengthening: 50 Hz, 300 us, 6 s on / 10 s off (Maffiuletti, Eur J Appl Physiol
    # 2010;110:223-34: 50-100 Hz, 200-400 us, duty cycles of about 1:1 to 1:3), 1 s ramps, 20 min.
    {"name": "strength", "freq_hz": 50, "width_us": 300, "on_s": 6, "off_s": 10, "ramp_up_s": 1,
     "ramp_down_s": 1, "duration_min": 20, "max_ma": 80},
    # Endurance / circulation: low-frequency (10 Hz) twitch stimulation, 250 us, continuous
    # (Maffiuletti 2010: low frequencies for fatigue resistance and blood flow), 20 min.
    {"name": "endurance", "freq_hz": 10, "width_us": 250, "ramp_up_s": 2, "ramp_down_s": 2,
     "duration_min": 20, "max_ma": 60},
    # Relaxation: 4 Hz, 250 us twitches, continuous, 20 min: the 1-10 Hz range of the
    # "relaxation / massage" programs of EMS devices. Below the 7.5 Hz PWM floor: DMA-shaped.
    {"name": "relaxation", "freq_hz": 4, "width_us": 250, "ramp_up_s": 2, "ramp_down_s": 2,
     "duration_min": 20, "max_ma": 40},
)


def names() -> "Tuple[str, ...]":
    return tuple(str(b["name"]) for b in BUILTINS)


def by_name(name: str, n_channels: int = 4) -> Program:
    """The built-in program called name, validated for a board with n_channels."""
    for b in BUILTINS:
        if b["name"] == name:
            d = dict(b)
            chans = d.get("channels")
            if isinstance(chans, list) and len(chans) > n_channels:
                d["channels"] = chans[:n_channels]
            return validate(d, n_channels)
    raise ProgramError("name", "no built-in program %r (built-ins: %s)" % (name, ", ".join(names())))


def builtins(n_channels: int) -> "Tuple[Program, ...]":
    """Every built-in program, validated for a board with n_channels, in BUILTINS order."""
    return tuple(by_name(name, n_channels) for name in names())
