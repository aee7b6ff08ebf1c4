"""The pulse engine's shapes on emulated silicon (bench/silicon_pulse.py): the issue 15 figures.

The firmware's engine runs on the real MicroPython rp2 firmware on rp2040js (PIO in lockstep with
emulated time, patches/pio.mjs); every figure comes from the emulated chip's pin trace through the
model's scope, and must meet the same bounds as the model's (tests/test_pulse_bench.py)."""

from picostim.bench import silicon_pulse


def test_gaps_leads_and_widths_on_silicon_meet_the_bounds() -> None:
    lines: list[str] = []
    r = silicon_pulse.measure(lines.append)
    assert r["silicon.pulse_points"] == len(silicon_pulse.SHAPES) and len(lines) == len(silicon_pulse.SHAPES)
    assert r["silicon.pulse_max_gap_error_us"] <= 0.5
    assert r["silicon.pulse_min_gap_us"] >= silicon_pulse.DEAD_TIME_US
    assert r["silicon.pulse_max_overlap_ns"] == 0 and r["silicon.pulse_unpaired_phases"] == 0
    assert r["silicon.pulse_max_phase_mismatch_ticks"] == 0 and r["silicon.pulse_lead_errors"] == 0
    assert r["silicon.pulse_max_width_error_us"] <= 0.5 and r["silicon.pulse_max_freq_error_pct"] <= 0.001
