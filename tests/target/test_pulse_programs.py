"""Programs, envelope, intensity caps and DAC codes (stim.programs, stim.pulse): the pure core.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from stim import programs, pulse
from stim.programs import ProgramError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    # _util is untyped (it runs on MicroPython); this is its signature.
    def expect_raises(exc_type: "type[BaseException]", fn: "Callable[..., object]", *args: object,
                      **kwargs: object) -> BaseException: ...
else:
    from _util import expect_raises

CPU = 125_000_000


def _base(**kw: "Any") -> "dict[str, Any]":
    d: dict[str, Any] = {"freq_hz": 50, "width_us": 300}
    d.update(kw)
    return d


def _err(d: "Any", n: int = 4) -> str:
    return str(expect_raises(ProgramError, programs.validate, d, n))


# -- validation -----------------------------------------------------------------------------
def test_every_builtin_is_valid_and_names_its_numbers() -> None:
    want = {
        "lower_back": (85, 350, 4000, 4000, 1000, 1000, 20 * 60_000),
        "tens_conventional": (100, 200, 0, 0, 2000, 2000, 30 * 60_000),
        "tens_burst": (100, 200, 0, 0, 2000, 2000, 30 * 60_000),
        "strength": (50, 300, 6000, 10_000, 1000, 1000, 20 * 60_000),
        "endurance": (10, 250, 0, 0, 2000, 2000, 20 * 60_000),
        "relaxation": (4, 250, 0, 0, 2000, 2000, 20 * 60_000),
    }
    assert sorted(programs.names()) == sorted(want)
    for name, numbers in want.items():
        p = programs.by_name(name, 4)
        got = (p.freq_hz, p.width_us, p.on_ms, p.off_ms, p.ramp_up_ms, p.ramp_down_ms, p.duration_ms)
        assert got == numbers, (name, got)
        assert len(p.labels) == 4 and len(p.used) == 4
        # Every built-in fits the stim4 board's guard time.
        pulse.train_settings(p, CPU, 20, 2).check()
    burst = programs.by_name("tens_burst")
    assert (burst.burst_mhz, burst.burst_pulses) == (2000, 7)
    lb = programs.by_name("lower_back", 2)
    assert lb.labels == ("lower back L", "lower back R") and lb.used == (True, True)
    assert programs.by_name("lower_back", 4).used == (True, True, False, False)


def test_missing_fields_get_the_documented_defaults() -> None:
    p = programs.validate(_base(), 2)
    assert p.name == "custom"
    assert (p.burst_mhz, p.on_ms, p.off_ms) == (0, 0, 0) and p.continuous
    assert (p.ramp_up_ms, p.ramp_down_ms, p.duration_ms, p.max_ua) == (1000, 1000, 20 * 60_000, 50_000)
    assert p.labels == ("channel 1", "channel 2") and p.used == (True, True)
    # null means "not given"
    q = programs.validate(_base(ramp_up_s=None, max_ma=None, name=None), 2)
    assert (q.ramp_up_ms, q.max_ua, q.name) == (1000, 50_000, "custom")


def test_errors_name_the_field_and_its_range() -> None:
    cases = (
        (_base(freq_hz=151), "freq_hz: 151 is out of range 1..150 Hz"),
        (_base(freq_hz=0), "freq_hz: 0 is out of range 1..150 Hz"),
        (_base(freq_hz=50.5), "freq_hz: expected an integer 1..150 Hz, got number"),
        (_base(freq_hz=True), "freq_hz: expected an integer 1..150 Hz, got true/false"),
        (_base(width_us=19), "width_us: 19 is out of range 20..1000 us"),
        (_base(width_us=1001), "width_us: 1001 is out of range 20..1000 us"),
        (_base(duration_min=61), "duration_min: 61 is out of range 1..60 min"),
        (_base(max_ma=0.5), "max_ma: 0.5 is out of range 1..100 mA"),
        (_base(ramp_up_s=6), "ramp_up_s: 6 is out of range 0..5 s"),
        (_base(on_s=0.5, off_s=4), "on_s: 0.5 is out of range 1..60 s"),
        (_base(on_s=4), "off_s: on_s and off_s go together"),
        (_base(on_s=2, off_s=4, ramp_up_s=1.5, ramp_down_s=1), "ramp_down_s: ramp_up_s + ramp_down_s = 2.5 s"),
        (_base(burst={"freq_hz": 11, "pulses": 2}), "burst.freq_hz: 11 is out of range 0.5..10 Hz"),
        (_base(burst={"freq_hz": 2}), "burst.pulses: missing required field"),
        (_base(burst={"freq_hz": 2, "pulses": 24}), "burst.pulses: 24 is out of range 1..23 pulses per burst"),
        (_base(freq_hz=4, burst={"freq_hz": 2, "pulses": 1}), "burst.freq_hz: 2 Hz bursts of 4 Hz pulses"),
        (_base(channels=[{"label": "a"}] * 5), "channels: 5 entries, but the board has 4 channels (allowed 0..4)"),
        (_base(channels=[{"label": ""}]), "channels[0].label: expected a string of 1..24 characters"),
        (_base(channels=[{"label": "x", "used": 1}]), "channels[0].used: expected true or false"),
        (_base(channels=[{"used": True}]), "channels[0].label: missing required field"),
        (_base(freqhz=5), "freqhz: unknown field (allowed here: "),
        ({"width_us": 100}, "freq_hz: missing required field"),
        ([1, 2], "(program): expected an object, got list"),
    )
    for d, want in cases:
        msg = _err(d)
        assert msg.startswith(want), (msg, want)
    e = expect_raises(ProgramError, programs.validate, _base(freq_hz=200), 4)
    assert isinstance(e, ValueError) and e.path == "freq_hz"  # type: ignore[attr-defined]


def test_parse_and_to_dict_round_trip() -> None:
    for name in programs.names():
        p = programs.by_name(name, 3)
        q = programs.validate(p.to_dict(), 3)
        assert q.to_dict() == p.to_dict()
        assert (q.freq_hz, q.burst_mhz, q.on_ms, q.max_ua, q.labels) == (p.freq_hz, p.burst_mhz, p.on_ms,
                                                                          p.max_ua, p.labels)
    p = programs.parse('{"freq_hz": 20, "width_us": 400, "on_s": 2.5, "off_s": 7.5}', 1)
    assert (p.on_ms, p.off_ms) == (2500, 7500)
    assert str(expect_raises(ProgramError, programs.parse, "{freq_hz: 1", 1)).startswith("(json): not valid JSON")
    assert str(expect_raises(ProgramError, programs.by_name, "nope")).startswith("name: no built-in program")


# -- envelope -------------------------------------------------------------------------------
def test_work_rest_envelope_ramps_inside_each_contraction() -> None:
    p = programs.by_name("lower_back")  # 4 s on, 4 s off, 1 s ramps, 20 min
    pts = {0: 0, 500: 500, 999: 999, 1000: 1000, 2999: 1000, 3000: 1000, 3500: 500, 3999: 1, 4000: 0,
           7999: 0, 8000: 0, 8250: 250, 9000: 1000}
    for t, want in pts.items():
        assert pulse.envelope_permille(p, t) == want, (t, pulse.envelope_permille(p, t))
    assert pulse.envelope_permille(p, -1) == 0
    assert pulse.envelope_permille(p, p.duration_ms) == 0
    assert pulse.envelope_ua(p, 500, 40_000) == 20_000
    assert pulse.envelope_ua(p, 2000, 40_000) == 40_000


def test_continuous_envelope_ramps_at_the_session_ends() -> None:
    p = programs.by_name("tens_conventional")  # 2 s ramps, 30 min
    d = p.duration_ms
    pts = {0: 0, 1000: 500, 2000: 1000, 600_000: 1000, d - 2000: 1000, d - 1000: 500, d - 1: 0, d: 0}
    for t, want in pts.items():
        assert pulse.envelope_permille(p, t) == want, (t, pulse.envelope_permille(p, t))


def test_session_end_ramps_down_even_inside_a_contraction() -> None:
    p = programs.validate(_base(on_s=30, off_s=30, ramp_up_s=0, ramp_down_s=2, duration_min=1), 1)
    assert pulse.envelope_permille(p, 29_000) == 500  # contraction's own ramp-down
    # The session ends at 60 s during the rest: nothing to do. A 1.5 min session ends in a contraction:
    q = programs.validate(_base(on_s=30, off_s=30, ramp_up_s=0, ramp_down_s=2, duration_min=1.5), 1)
    assert pulse.envelope_permille(q, 80_000) == 1000
    assert pulse.envelope_permille(q, 89_000) == 500
    assert pulse.envelope_permille(q, 90_000) == 0


# -- caps -----------------------------------------------------------------------------------
def test_rms_cap_is_iec_60601_2_10_50ma() -> None:
    # I_peak * sqrt(2 w f) <= 50 mA, worked by hand: 1000 us at 150 Hz -> 50 / sqrt(0.3) = 91.287 mA.
    assert pulse.rms_cap_ua(1000, 150) == 91_287
    assert pulse.rms_cap_ua(350, 85) == 204_980  # 50 / sqrt(0.0595)
    assert pulse.rms_cap_ua(200, 100) == 250_000  # 50 / sqrt(0.04), exact
    for w, f in ((20, 1), (1000, 150), (333, 77)):
        c = pulse.rms_cap_ua(w, f)
        assert c * c * 2 * w * f <= 50_000 * 50_000 * 1_000_000 < (c + 1) * (c + 1) * 2 * w * f


def test_cap_takes_the_smallest_limit_and_says_which() -> None:
    assert pulse.cap_ua(30_000, 100_000, 80_000, 60_000, 91_000) == (30_000, "")
    assert pulse.cap_ua(99_000, 100_000, 80_000, 90_000, 91_000) == (80_000, "program")
    assert pulse.cap_ua(99_000, 100_000, 95_000, 85_000, 91_000) == (85_000, "supervisor")
    assert pulse.cap_ua(99_000, 100_000, 95_000, 95_000, 91_287) == (91_287, "rms")
    assert pulse.cap_ua(120_000, 100_000, 150_000, 150_000, 200_000) == (100_000, "board")
    assert pulse.cap_ua(-5, 100_000, 80_000, 60_000, 91_000) == (0, "")
    assert pulse.cap_ua(70_000, 60_000, 60_000, 60_000, 60_000) == (60_000, "board")  # a tie names the first


def test_dac_codes_never_exceed_the_request_and_resolve_finely() -> None:
    npc = pulse.na_per_code(0.03)  # stim4: 30 uA per code
    assert npc == 30_000
    assert pulse.ua_to_code(0, npc, 4095) == 0
    assert pulse.ua_to_code(29, npc, 4095) == 0
    assert pulse.ua_to_code(30, npc, 4095) == 1
    assert pulse.ua_to_code(100_000, npc, 4095) == 3333
    assert pulse.code_to_ua(3333, npc) == 99_990  # at most the 100 mA asked for
    assert pulse.ua_to_code(200_000, npc, 4095) == 4095
    # Lowest non-zero setting: one code, 30 uA: 0.03 % of 100 mA (<= 2 %), finer than 0.5 mA.
    pulse.check_resolution(100_000, npc)
    assert pulse.code_to_ua(1, npc) * 50 <= 100_000
    expect_raises(pulse.PulseError, pulse.check_resolution, 1_000, npc)  # 30 uA is 3 % of 1 mA
    assert pulse.ma_to_ua(0.5) == 500 and pulse.ma_to_ua(100) == 100_000


# -- train settings ---------------------------------------------------------------------------
def test_settings_refuse_phases_plus_guard_longer_than_the_period() -> None:
    # 150 Hz: 6666.7 us. 2 x 1000 + 20 fits easily; with a 4667 us guard it does not (shoot-through).
    pulse.settings_for(150, 1000, CPU, 20).check()
    e = expect_raises(pulse.PulseError, pulse.settings_for, 150, 1000, CPU, 4667)
    assert str(e).startswith("width_us: both phases (2 x 1000 us) plus the guard time (4667 us) do not fit")
    assert "at most 999 us per phase" in str(e)
    s = pulse.settings_for(150, 1000, CPU, 4666)  # just fits, also as achieved
    assert s.period_cycles - 2 * s.width_cycles - s.gap_cycles >= s.guard_cycles == 4666 * 125
    expect_raises(pulse.PulseError, pulse.settings_for, 100, 200, CPU, 20, 2000, 49)  # 49 > 50 - 2
    # No slot limit any more: a phase may take nearly half the period (500 Hz: 2000 us).
    s = pulse.settings_for(500, 900, CPU, 20, 0, 0, 2)
    assert s.period_cycles - 2 * s.width_cycles - s.gap_cycles == 198 * 125


def test_settings_are_integers_and_the_words_make_whole_pairs() -> None:
    s = pulse.settings_for(4, 250, CPU, 20, 0, 0, 2)  # once below the PWM floor: just more rest now
    assert (s.width_cycles, s.gap_cycles, s.period_cycles, s.n) == (250 * 125, 2 * 125, CPU // 4, 4)
    # L, G, T, R: each stretch's cycles less its instructions' overhead (docs/programs.md).
    assert [s.word(i) for i in range(s.n)] == [31250 - 3, 250 - 2, 31250 - 2, CPU // 4 - 62750 - 4]
    assert s.start_word() == 125_000 - 4  # the first rest: 1 ms
    b = pulse.settings_for(100, 200, CPU, 20, 2000, 7)
    bw = [b.word(i) for i in range(b.n)]
    assert (b.n, b.k, b.r, b.gap_cycles) == (28, 7, 50, 2)  # no gap asked: the program's least, 2 cycles
    assert bw[:4] == [25000 - 3, 0, 25000 - 2, 1_250_000 - 50_002 - 4]
    assert bw[4:24] == bw[:4] * 5
    assert bw[27] == 44 * 1_250_000 - 50_002 - 4  # the burst's idle time after its last pair
    buf = [0] * 60
    assert pulse.fill_words(b, buf) == 28 and buf[:28] == bw
    e = expect_raises(pulse.PulseError, pulse.fill_words, b, [0] * 27)
    assert str(e).startswith("burst.pulses: a program of 28 words does not fit a buffer of 27"), str(e)


# -- the gap between the phases and the phase order (issue 15) ---------------------------------
def test_interphase_and_lead_default_to_todays_pulse() -> None:
    p = programs.validate(_base(), 4)
    assert (p.interphase_us, p.lead) == (0, "negative")
    q = programs.validate(_base(interphase_us=None, lead=None), 4)  # null means "not given"
    assert (q.interphase_us, q.lead) == (0, "negative")
    r = programs.validate(_base(interphase_us=1000, lead="positive"), 4)
    assert (r.interphase_us, r.lead) == (1000, "positive")
    assert programs.validate(r.to_dict(), 4).to_dict() == r.to_dict()  # kept through the store's dicts
    assert (r.to_dict()["interphase_us"], r.to_dict()["lead"]) == (1000, "positive")
    for b in programs.builtins(4):
        assert (b.interphase_us, b.lead) == (0, "negative"), b.name


def test_interphase_and_lead_errors_name_the_field() -> None:
    cases = (
        (_base(interphase_us=1001), "interphase_us: 1001 is out of range 0..1000 us"),
        (_base(interphase_us=-1), "interphase_us: -1 is out of range 0..1000 us"),
        (_base(interphase_us=2.5), "interphase_us: expected an integer 0..1000 us, got number"),
        (_base(interphase_us=True), "interphase_us: expected an integer 0..1000 us, got true/false"),
        (_base(lead="cathodic"), "lead: expected \"negative\" (the negative phase first) or \"positive\", got"),
        (_base(lead="Positive"), "lead: expected \"negative\""),
        (_base(lead=1), "lead: expected \"negative\""),
        (_base(lead=["negative"]), "lead: expected \"negative\""),
    )
    for d, want in cases:
        msg = _err(d)
        assert msg.startswith(want), (msg, want)


def test_the_gap_is_the_interphase_but_at_least_the_dead_time() -> None:
    assert pulse.gap_us(0, 2) == 2
    assert pulse.gap_us(1, 2) == 2
    assert pulse.gap_us(3, 2) == 3
    assert pulse.gap_us(0, 0) == 0
    assert pulse.gap_us(1000, 0) == 1000


def test_the_period_fit_reserves_the_gap_and_names_the_field_at_fault() -> None:
    # 150 Hz: a 6666 us period. 2 x 1000 + gap + guard must fit.
    pulse.check_fit(150, 1000, 1000, 2, 3666)  # 2000 + 1000 + 3666 = 6666: just fits
    e = expect_raises(pulse.PulseError, pulse.check_fit, 150, 1000, 1000, 2, 3667)
    assert str(e).startswith("interphase_us: 1000 us: both phases (2 x 1000 us), this gap and the guard time"
                             " (3667 us) do not fit in the 6666 us period of 150 Hz; at most 999 us here"), str(e)
    # Without the program's interphase it would not fit either: the width is at fault.
    e = expect_raises(pulse.PulseError, pulse.check_fit, 150, 1000, 1000, 2, 4666)
    assert str(e).startswith("width_us: both phases (2 x 1000 us), the gap between them (1000 us:"
                             " interphase_us 1000, the board's dead time 2 us)"), str(e)
    # The board's dead time alone: 2000 + 2 + 4665 > 6666.
    pulse.check_fit(150, 1000, 0, 1, 4665)
    e = expect_raises(pulse.PulseError, pulse.check_fit, 150, 1000, 0, 2, 4665)
    assert e.path == "width_us" and "at most 999 us per phase" in str(e), str(e)  # type: ignore[attr-defined]
    # settings_for reserves the gap in cycles too, and check() holds it.
    s = pulse.settings_for(150, 1000, CPU, 3000, 0, 0, 1000)
    assert s.gap_cycles == 1000 * 125
    assert s.period_cycles - 2 * s.width_cycles - s.gap_cycles >= s.guard_cycles
    e = expect_raises(pulse.PulseError, pulse.settings_for, 150, 1000, CPU, 3667, 0, 0, 1000)
    assert str(e).startswith("width_us: both phases (2 x 1000 us), the gap between them (1000 us), plus the"
                             " guard time (3667 us)"), str(e)
    s.gap_cycles += 666_750  # now 2w + gap + guard is more than the period: check() refuses it
    e = expect_raises(pulse.PulseError, s.check)
    assert "the gap between them (791750 cycles)" in str(e), str(e)


def test_the_gap_and_the_lead_reach_the_train_settings() -> None:
    gap = programs.validate(_base(interphase_us=50), 4)
    s = pulse.train_settings(gap, CPU, 20, 2)
    assert (s.gap_cycles, s.lead, s.lead_is_a()) == (50 * 125, "negative", False)
    pos = programs.validate(_base(lead="positive"), 4)
    t = pulse.train_settings(pos, CPU, 20, 2)
    assert (t.gap_cycles, t.lead, t.lead_is_a()) == (2 * 125, "positive", True)  # the board's dead time
    z = pulse.train_settings(programs.validate(_base(), 4), CPU, 20, 0)  # drivers make the dead time
    assert z.gap_cycles == pulse.MIN_GAP_CYCLES
    e = expect_raises(pulse.PulseError, pulse.settings_for, 50, 200, CPU, 20, 0, 0, 0, "cathodic")
    assert str(e).startswith("lead: 'cathodic': must be"), str(e)
