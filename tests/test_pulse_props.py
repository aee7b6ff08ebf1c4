"""Property tests of the pulse engine: invariants over random settings, checked on the model's edges.

Host-only (hypothesis). Each test states its invariant in its docstring.
"""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picostim.pulserun import REPO, firmware_module, run_train
from stim import board, programs, pulse
from stim.board import Board

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
    belongs to a whole pair (B, the gap, then A), widths are exact, the period is within 0.01 % of
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
    exactly when both phases plus the gap and the guard exceed the period), or its settings keep both
    phases, the gap and the guard inside the achieved period, the period within half a cycle of the
    request and the width exact (whole-MHz clocks)."""
    fits = (2 * w + 2 + guard) * f <= 1_000_000
    try:
        s = pulse.settings_for(f, w, cpu, guard, 0, 0, 2)
    except pulse.PulseError as e:
        assert str(e).startswith("width_us: both phases") and not fits
        return
    assert fits
    s.check()
    assert s.period_cycles - 2 * s.width_cycles - s.gap_cycles >= s.guard_cycles >= cpu * guard // 1_000_000
    assert abs(2 * s.period_cycles * f - 2 * cpu) <= f  # within half a cycle
    assert s.width_cycles * 1_000_000 == w * cpu and s.gap_cycles * 1_000_000 == 2 * cpu  # exact


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


# -- the gap between the phases (issue 15) ------------------------------------------------------
def _boards() -> "list[Board]":
    return [board.load(str(REPO / "boards" / name)) for name in ("stim4.json", "pico_bench.json")]


_BOARDS = _boards()
program_dict = st.fixed_dictionaries({
    "freq_hz": st.integers(1, 150), "width_us": st.integers(20, 1000),
    "interphase_us": st.integers(0, 1000), "lead": st.sampled_from(["negative", "positive"]),
    "burst": st.one_of(st.none(), st.fixed_dictionaries({"freq_hz": st.sampled_from([0.5, 1, 2, 5]),
                                                         "pulses": st.integers(1, 3)}))})


@settings(max_examples=400, deadline=None)
@given(program_dict, st.integers(0, 1000), st.integers(1, 5000), st.sampled_from(range(len(_BOARDS))))
def test_every_valid_program_either_is_refused_naming_a_field_or_reserves_the_gap(
        d: "dict[str, object]", dead: int, guard: int, bi: int) -> None:
    """For any valid program, board dead time and guard: train_settings either refuses it with an
    error that names interphase_us or width_us (exactly when 2 w + max(interphase, dead) + guard
    exceeds the period), or its settings make the gap asked for (at least the program's 2-cycle
    least) and keep both phases, the gap and the guard inside the achieved period."""
    try:
        p = programs.validate(d, len(_BOARDS[bi].channels))
    except programs.ProgramError:
        return  # e.g. bursts too fast for the pulse rate: not a valid program
    gap = max(p.interphase_us, dead)
    fits = (2 * p.width_us + gap + guard) * p.freq_hz <= 1_000_000
    try:
        s = pulse.train_settings(p, CPU, guard, dead)
    except pulse.PulseError as e:
        assert not fits, str(e)
        blame = p.interphase_us > dead and (2 * p.width_us + dead + guard) * p.freq_hz <= 1_000_000
        assert e.path == ("interphase_us" if blame else "width_us"), str(e)
        return
    assert fits
    s.check()
    assert s.gap_cycles == max(gap * CPU // 1_000_000, pulse.MIN_GAP_CYCLES) and s.lead == p.lead
    assert s.period_cycles - 2 * s.width_cycles - s.gap_cycles >= s.guard_cycles


program_on_board = st.fixed_dictionaries({
    "freq_hz": st.integers(1, 150), "width_us": st.integers(20, 1000),
    "interphase_us": st.one_of(st.integers(0, 1000), st.sampled_from([0, 1, 2, 3, 1000])),
    "lead": st.sampled_from(["negative", "positive"]),
    "burst": st.one_of(st.none(), st.fixed_dictionaries({"freq_hz": st.sampled_from([2, 5, 10]),
                                                         "pulses": st.integers(1, 3)}))})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program_on_board, st.sampled_from(range(len(_BOARDS))), st.integers(0, 3))
def test_no_pair_ever_overlaps_or_comes_closer_than_the_dead_time(d: "dict[str, object]", bi: int,
                                                                  ch: int) -> None:
    """For any valid program on every board in boards/, on the model's pins of any channel: A and B
    are never high at once, every phase belongs to a whole pair led by the phase the program asks
    for, each pair's gap is at least the board's dead time and within 0.5 us of max(interphase_us,
    dead_time_us), and both phases are equal to the nanosecond."""
    b = _BOARDS[bi]
    try:
        p = programs.validate(d, len(b.channels))
        s = pulse.train_settings(p, b.cpu_hz, b.limits.guard_us, b.limits.dead_time_us)
    except (programs.ProgramError, pulse.PulseError):
        return  # refused, with the field named (the test above)
    c = b.channels[ch % len(b.channels)]
    run = run_train(s, c.pulse_a, c.pulse_b, 1)
    pairs = run.pairs()
    assert pairs.overlap_ns == 0 and pairs.unpaired == 0 and len(pairs.pairs) >= 2 * s.k
    want_ns = max(p.interphase_us, b.limits.dead_time_us) * 1000
    for g in pairs.gaps():
        assert g >= b.limits.dead_time_us * 1000 and abs(g - want_ns) <= 500, (g, want_ns)
    assert {(lw, tw) for lw, tw in pairs.widths()} == {(p.width_us * 1000, p.width_us * 1000)}
    lead_pin = c.pulse_a if p.lead == "positive" else c.pulse_b
    assert all(run.chip.level(lead_pin, r) == 1 for r in pairs.starts())


@given(st.integers(20, 1000), st.integers(1, 150), st.integers(0, 1000))
def test_the_gap_leaves_the_rms_cap_unchanged(w: int, f: int, gap: int) -> None:
    """The RMS over one period of a pair (-I for w, 0 for the gap, +I for w, 0 to the period's end),
    summed microsecond by microsecond, is the same for every gap: at the RMS cap it is at most
    50 mA, and one uA more is above it. So rms_cap_ua needs no gap argument."""
    period = 1_000_000 // f
    if 2 * w + gap > period:
        return
    cap = pulse.rms_cap_ua(w, f)

    def mean_square(i_ua: int) -> float:  # uA^2, over the period, from the samples
        samples = [-i_ua] * w + [0] * gap + [i_ua] * w
        return sum(x * x for x in samples) / (1_000_000 / f)

    assert mean_square(cap) <= 50_000**2
    assert mean_square(cap + 1) > 50_000**2 * (1 - 1e-12)
