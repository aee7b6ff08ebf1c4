"""`make bench` pulse area: the figures' names and that a small grid meets the targets."""

from picostim import bench
from picostim.bench import pulse as bench_pulse

KEYS = {"pulse.grid_points", "pulse.max_freq_error_pct", "pulse.max_width_error_us",
        "pulse.max_phase_mismatch_ticks", "pulse.cpu_per_pulse", "pulse.unpaired_phases", "pulse.max_overlap_ns"}


def test_pulse_is_a_bench_area() -> None:
    assert "pulse" in bench.AREAS


def test_small_grid_meets_the_targets_and_reports_progress() -> None:
    lines: list[str] = []
    # Sub-floor, floor, mid and top frequencies; the shortest, an odd and the longest width.
    r = bench_pulse.measure(lines.append, freqs=[1, 4, 7, 8, 85, 150], widths=[20, 333, 1000], workers=1)
    assert set(r) == KEYS
    assert r["pulse.grid_points"] == 18
    assert r["pulse.max_freq_error_pct"] <= 0.01
    assert r["pulse.max_width_error_us"] <= 0.5
    assert r["pulse.max_phase_mismatch_ticks"] == 0
    assert r["pulse.cpu_per_pulse"] == 0
    assert r["pulse.unpaired_phases"] == 0 and r["pulse.max_overlap_ns"] == 0
    assert any("6/6 frequencies" in s for s in lines)


def test_invalid_settings_are_left_out_of_the_grid() -> None:
    r = bench_pulse.measure(lambda _s: None, freqs=[150], widths=[1000, 3400], workers=1)
    assert r["pulse.grid_points"] == 1  # 2 x 3400 + 20 us does not fit in 6667 us
