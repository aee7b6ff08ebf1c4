"""`make bench` pulse area: the figures' names and that a small grid meets the targets."""

from picostim import bench
from picostim.bench import pulse as bench_pulse
from picostim.pulserun import STIM4, firmware_module

KEYS = {"pulse.grid_points", "pulse.max_freq_error_pct", "pulse.max_width_error_us",
        "pulse.max_phase_mismatch_ticks", "pulse.cpu_per_pulse", "pulse.unpaired_phases", "pulse.max_overlap_ns",
        "pulse.max_gap_error_us", "pulse.min_gap_us", "pulse.lead_errors", "pulse.cross_points"}


def test_pulse_is_a_bench_area() -> None:
    assert "pulse" in bench.AREAS


def test_small_grid_meets_the_targets_and_reports_progress() -> None:
    lines: list[str] = []
    # Sub-floor, floor, mid and top frequencies; the shortest, an odd and the longest width.
    r = bench_pulse.measure(lines.append, freqs=[1, 4, 7, 8, 85, 150], widths=[20, 333, 1000], workers=1,
                            cross_grid=False)
    assert set(r) == KEYS
    assert r["pulse.grid_points"] == 18
    assert r["pulse.max_freq_error_pct"] <= 0.01
    assert r["pulse.max_width_error_us"] <= 0.5
    assert r["pulse.max_phase_mismatch_ticks"] == 0
    assert r["pulse.cpu_per_pulse"] == 0
    assert r["pulse.unpaired_phases"] == 0 and r["pulse.max_overlap_ns"] == 0
    assert r["pulse.max_gap_error_us"] <= 0.5 and r["pulse.min_gap_us"] >= 2 and r["pulse.lead_errors"] == 0
    assert any("6/6 frequencies" in s for s in lines)


def test_invalid_settings_are_left_out_of_the_grid() -> None:
    r = bench_pulse.measure(lambda _s: None, freqs=[150], widths=[1000, 3400], workers=1, cross_grid=False)
    assert r["pulse.grid_points"] == 1  # 2 x 3400 + 20 us does not fit in 6667 us


def test_the_grid_covers_every_gap_and_both_leads() -> None:
    shapes = {bench_pulse.grid_shape(f, w) for f in range(1, 151) for w in range(20, 60)}
    assert {g for g, _l in shapes} == set(bench_pulse.GAPS_US)
    assert {lead for _g, lead in shapes} == {"negative", "positive"}
    assert len(shapes) == len(bench_pulse.GAPS_US) * 2  # every gap with both leads


def test_a_gap_and_a_positive_lead_are_measured_from_the_edges() -> None:
    brd = firmware_module("stim.board").load(str(STIM4))
    r = bench_pulse.measure_point(50, 300, brd, 500, "positive")
    assert r["gaperr"] <= 0.5 and 499.5 <= r["mingap"] <= 500.5 and r["lead"] == 0 and r["overlap"] == 0


def test_the_cross_grid_runs_every_gap_and_lead_on_every_board() -> None:
    r = bench_pulse.measure_cross()
    n_boards = len(list(STIM4.parent.glob("*.json")))
    assert 0 < r["points"] <= n_boards * len(bench_pulse.CROSS_FREQS) * len(bench_pulse.CROSS_WIDTHS) * 22
    assert r["gaperr"] <= 0.5 and r["mingap"] >= 2 and r["overlap"] == 0 and r["unpaired"] == 0
    assert r["lead"] == 0 and r["mismatch"] == 0
