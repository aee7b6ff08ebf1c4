"""Property tests of the pulse engine: invariants over random settings, checked on the model's edges.

Host-only (hypothesis). Each test states its invariant in its docstring.
"""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picostim.pulserun import firmware_module, run_train
from stim import programs, pulse

CPU = 125_000_000
GUARD = 20
A, B = 2, 3

valid_setting = st.tuples(st.integers(1, 150), st.integers(20, 1000)).filter(
    lambda fw: (2 * fw[1] + GUARD) * fw[0] <= 1_000_000)
_model = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_model
@given(valid_setting)
def test_every_valid_setting_makes_equal_whole_pairs_at_the_requested_rate(fw: tuple[int, int]) -> None:
    """For every valid (freq, width): A and B are equally wide and never high together, every phase
    belongs to a whole pair (B then, at once, A), widths are exact, the period is within 0.01 % of
    the request, and no firmware call is needed while the pulses come out."""
    f, w = fw
    run = run_train(pulse.settings_for(f, w, CPU, GUARD), A, B)
    p = run.pairs()
    assert p.unpaired == 0 and p.overlap_ns == 0
    assert len(p.pairs) >= 3
    assert all(a == b == w * 1000 for b, a in p.widths())
    assert all(abs(per * f - 1_000_000_000) * 10_000 <= 1_000_000_000 for per in p.periods())
    assert run.steady_calls == 0


@_model
@given(st.integers(8, 150), st.integers(20, 400), st.integers(500, 10_000), st.data())
def test_bursts_hold_k_whole_pairs_per_burst_period(f: int, w: int, burst_mhz: int, data: st.DataObject) -> None:
    """For burst settings: every burst has exactly `pulses` whole pairs one pulse period apart, and
    bursts repeat every round(freq / burst freq) pulse periods."""
    r = (2 * f * 1000 + burst_mhz) // (2 * burst_mhz)
    if r < 3 or (2 * w + GUARD) * f > 1_000_000:
        return
    k = data.draw(st.integers(1, r - 2))
    s = pulse.settings_for(f, w, CPU, GUARD, burst_mhz, k)
    p = run_train(s, A, B, 2).pairs()
    assert p.unpaired == 0 and p.overlap_ns == 0
    per = p.periods()
    pulse_ns = s.period_cycles * 8
    assert set(per) <= {pulse_ns, (r - k + 1) * pulse_ns}
    assert len(p.pairs) % k == 0 and len(p.pairs) >= 2 * k
    assert abs(pulse_ns * f - 1_000_000_000) * 10_000 <= 1_000_000_000


@_model
@given(valid_setting, st.floats(0, 1))
def test_stop_at_any_moment_leaves_only_whole_pairs(fw: tuple[int, int], when: float) -> None:
    """Whenever stop() comes, the train ends with whole pairs and nothing follows."""
    fakehw = firmware_module("picostim.fakehw")
    hw = firmware_module("stim.hal.pulse_hw")
    Pairs = firmware_module("picostim.fakehw.probe").Pairs
    f, w = fw
    s = pulse.settings_for(f, w, CPU, GUARD)
    chip = fakehw.install()
    ch = hw.PulseChannel(A, B)
    ch.configure(s)
    t0 = chip.clock.now_ns()
    ch.start()
    chip.clock.advance_to(t0 + int(when * 3 * s.program_cycles * 8))
    ch.stop()
    while ch.running:
        chip.clock.advance(s.width_cycles * 8 // 3 + 1)
    t1 = chip.clock.now_ns()  # not running: the last pulse is over and none is to come
    chip.clock.advance_to(t1 + 2 * s.program_cycles * 8)
    p = Pairs(chip.edges(A, t0, t1), chip.edges(B, t0, t1))
    assert p.unpaired == 0 and p.overlap_ns == 0
    assert chip.edges(A, t1, chip.clock.now_ns()) == [] and chip.edges(B, t1, chip.clock.now_ns()) == []


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 150), st.integers(20, 1000), st.integers(1, 5000),
       st.sampled_from([48_000_000, 125_000_000, 133_000_000, 200_000_000]))
def test_settings_either_refuse_or_keep_the_guard(f: int, w: int, guard: int, cpu: int) -> None:
    """For any program setting, guard time and board clock: settings_for refuses it (width_us error,
    exactly when both phases plus the guard exceed the period), or its settings keep both phases plus
    the guard inside the achieved period, each phase inside one slot, the period within 10 ppm and the
    width exact (whole-MHz clocks)."""
    fits = (2 * w + guard) * f <= 1_000_000
    try:
        s = pulse.settings_for(f, w, cpu, guard)
    except pulse.PulseError as e:
        assert str(e).startswith("width_us: both phases") and not fits
        return
    assert fits
    s.check()
    assert s.period_cycles - 2 * s.width_cycles >= s.guard_cycles >= cpu * guard // 1_000_000
    assert 0 < s.w <= s.top and 1 <= s.div <= 255
    assert abs(s.period_cycles * f - cpu) * 100_000 <= cpu  # 10 ppm
    assert s.width_cycles * 1_000_000 == w * cpu  # exact


@given(st.integers(1, 1000), st.integers(1, 150))
def test_rms_cap_is_the_largest_peak_within_50ma_rms(w: int, f: int) -> None:
    """rms_cap_ua is the largest integer peak I with I * sqrt(2 w f) <= 50 mA (IEC 60601-2-10)."""
    c = pulse.rms_cap_ua(w, f)
    assert c * c * 2 * w * f <= 50_000**2 * 1_000_000 < (c + 1) ** 2 * 2 * w * f
    assert abs(c - 50_000 / math.sqrt(2 * w * 1e-6 * f)) <= 1


@given(st.integers(-10, 200_000), st.integers(0, 150_000), st.integers(0, 150_000), st.integers(0, 150_000),
       st.integers(0, 150_000))
def test_cap_never_exceeds_any_limit_and_names_the_binding_one(req: int, brd: int, prg: int, sup: int,
                                                               rms: int) -> None:
    """The capped current is min(request, every limit), never negative; a reason is given exactly when
    the request was cut, and the named limit is the one the result equals."""
    ua, why = pulse.cap_ua(req, brd, prg, sup, rms)
    assert ua == max(0, min(req, brd, prg, sup, rms))
    limits = {"board": brd, "program": prg, "supervisor": sup, "rms": rms}
    if ua < max(req, 0):
        assert limits[why] == ua
    else:
        assert why == ""


@given(st.integers(-5, 200_000), st.sampled_from([0.025, 0.03, 0.0244, 0.1]), st.integers(1, 4095))
def test_dac_code_never_exceeds_the_requested_current(ua: int, ma_per_code: float, code_max: int) -> None:
    """The DAC code's current is at most the request, and one more code would exceed it (unless clamped)."""
    npc = pulse.na_per_code(ma_per_code)
    c = pulse.ua_to_code(ua, npc, code_max)
    assert 0 <= c <= code_max
    assert pulse.code_to_ua(c, npc) <= max(ua, 0)
    if 0 < c < code_max:
        assert (c + 1) * npc > ua * 1000


@given(st.sampled_from(programs.names()), st.integers(-1000, 4_000_000))
def test_envelope_stays_in_range_and_rises_no_faster_than_its_ramp(name: str, t: int) -> None:
    """0 <= envelope <= 1000, 0 outside the session, and from one ms to the next it moves by at most
    1000 / ramp time (+1 for rounding): no step, so intensity never jumps."""
    p = programs.by_name(name)
    e = pulse.envelope_permille(p, t)
    assert 0 <= e <= 1000
    if t < 0 or t >= p.duration_ms:
        assert e == 0
    step = abs(pulse.envelope_permille(p, t + 1) - e)
    assert step <= 1000 // min(p.ramp_up_ms, p.ramp_down_ms) + 1


@given(st.integers(1, 150), st.integers(20, 1000), st.integers(1, 4))
def test_valid_dicts_round_trip(f: int, w: int, n: int) -> None:
    """Any in-range program validates, and to_dict() validates back to the same program."""
    p = programs.validate({"freq_hz": f, "width_us": w, "on_s": 4, "off_s": 4}, n)
    assert programs.validate(p.to_dict(), n).to_dict() == p.to_dict()
