"""Pulse engine figures, measured on the RP2040 model from the pins' edges (`make bench`).

For every valid setting of the grid (1..150 Hz in 1 Hz steps x 20..1000 us in
1 us steps: every setting a program can hold, those where both phases, the
gap and the board's guard time fit in the period), each point with one of
the interphase intervals GAPS_US and one of both leads, taken in turn (so
the whole grid covers every gap and both leads at every frequency; a gap
that does not fit the point falls back to the board's dead time), the
firmware's own hal
(stim.hal.pulse_hw) runs the stim4 board's first channel on a fresh model
chip (picostim.pulserun): configure, start, a few programs with no firmware
call, stop, and on until the hardware has finished. A scope
(fakehw/probe.py) reads the A and B pins' edges; the figures come from those
edges only:

    pulse.grid_points               settings measured
    pulse.max_freq_error_pct        worst |achieved - requested| / requested, achieved from pair-to-pair times
    pulse.max_width_error_us        worst |phase width - requested|, either phase
    pulse.max_phase_mismatch_ticks  worst |A width - B width| in sysclk cycles (8 ns), the finest unit there is
    pulse.cpu_per_pulse             model calls (firmware facade calls and DMA IRQ handlers) during a steady
                                    run, divided by the pulses in it: 0 when the hardware shapes every pulse
    pulse.unpaired_phases           phases, over the whole grid start to stop, not part of a whole pair
    pulse.max_overlap_ns            worst time A and B were high together
    pulse.max_gap_error_us          worst |gap - max(interphase_us, dead_time_us)|, lead fall to trail rise
    pulse.min_gap_us                the shortest gap seen, over the grid and the cross grid on every
                                    board in boards/ (each board's dead time is 2 us)
    pulse.lead_errors               pairs led by the other phase than the program asked for

Besides, a cross grid runs every gap of GAPS_US with both leads at each point of
CROSS_FREQS x CROSS_WIDTHS, on every board in boards/ (their first channel):
pulse.cross_points counts it, and its figures join the ones above.

The grid runs in worker processes (one per core, at most 4), a frequency per task.
"""

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator, Optional, Sequence

from picostim.bench import workers
from picostim.pulserun import STIM4, firmware_module, run_train

FREQS = range(1, 151)
WIDTHS = range(20, 1001)
GAPS_US = (0, 1, 2, 3, 5, 10, 50, 100, 250, 500, 1000)
LEADS = ("negative", "positive")
CROSS_FREQS = (1, 2, 4, 7, 8, 10, 50, 85, 100, 150)
CROSS_WIDTHS = (20, 100, 333, 500, 1000)
STEADY_PROGRAMS = 3

Figures = dict[str, Any]


def grid_shape(freq_hz: int, width_us: int) -> "tuple[int, str]":
    """The interphase interval and lead of grid point (freq_hz, width_us): GAPS_US and LEADS in turn."""
    return GAPS_US[(freq_hz + width_us) % len(GAPS_US)], LEADS[(freq_hz * 7 + width_us) % len(LEADS)]


def measure_point(freq_hz: int, width_us: int, brd: Any, interphase_us: int = 0, lead: str = "negative") -> Figures:
    """One setting of board brd's first channel on a fresh chip, start to stop; figures from the edges."""
    pulse = firmware_module("stim.pulse")
    c0 = brd.channels[0]
    lim = brd.limits
    if (2 * width_us + pulse.gap_us(interphase_us, lim.dead_time_us) + lim.guard_us) * freq_hz > 1_000_000:
        interphase_us = 0  # this gap does not fit the point: the board's dead time alone
    gap = pulse.gap_us(interphase_us, lim.dead_time_us)
    s = pulse.settings_for(freq_hz, width_us, brd.cpu_hz, lim.guard_us, 0, 0, gap, lead)
    run = run_train(s, c0.pulse_a, c0.pulse_b, STEADY_PROGRAMS)
    ns_per_cycle = 1_000_000_000 // brd.cpu_hz
    steady = run.pairs(run.ta, run.tb)
    whole = run.pairs()
    want_w = width_us * 1000
    widths = whole.widths()
    gaps = whole.gaps()
    per = whole.periods()
    lead_pin = c0.pulse_a if lead == "positive" else c0.pulse_b
    ferr = max((abs(1_000_000_000 - freq_hz * p) / (freq_hz * p) * 100 for p in per), default=float("inf"))
    return {
        "points": 1,
        "ferr": ferr,
        "werr": max((max(abs(a - want_w), abs(b - want_w)) / 1000 for b, a in widths), default=float("inf")),
        "mismatch": max((abs(a - b) // ns_per_cycle for b, a in widths), default=1 << 30),
        "cpu": run.steady_calls / max(len(steady.pairs), 1),
        "unpaired": whole.unpaired + (0 if len(whole.pairs) >= STEADY_PROGRAMS else 1),
        "overlap": whole.overlap_ns,
        "gaperr": max((abs(g - gap * 1000) / 1000 for g in gaps), default=float("inf")),
        "mingap": min((g / 1000 for g in gaps), default=0.0),
        "lead": sum(1 for r in whole.starts() if run.chip.level(lead_pin, r) != 1),
        "worst": (freq_hz, width_us),
    }


def _merge(a: Figures, b: Figures) -> Figures:
    if not a:
        return dict(b)
    out = dict(a)
    out["points"] = a["points"] + b["points"]
    for k in ("ferr", "werr", "mismatch", "cpu", "overlap", "gaperr"):
        out[k] = max(a[k], b[k])
    out["mingap"] = min(a["mingap"], b["mingap"])
    out["unpaired"] = a["unpaired"] + b["unpaired"]
    out["lead"] = a["lead"] + b["lead"]
    if b["ferr"] > a["ferr"]:
        out["worst"] = b["worst"]  # the first setting with the worst frequency error
    return out


def measure_freq(freq_hz: int, widths: Sequence[int]) -> Figures:
    """Every valid width at one frequency on stim4, each with its gap and lead (a worker's task)."""
    brd = firmware_module("stim.board").load(str(STIM4))
    acc: Figures = {}
    for w in widths:
        if (2 * w + brd.limits.dead_time_us + brd.limits.guard_us) * freq_hz > 1_000_000:
            continue  # not a valid setting: the engine refuses it (tested elsewhere)
        acc = _merge(acc, measure_point(freq_hz, w, brd, *grid_shape(freq_hz, w)))
    return acc


def measure_cross() -> Figures:
    """Every board in boards/: CROSS_FREQS x CROSS_WIDTHS x every gap of GAPS_US x both leads."""
    board = firmware_module("stim.board")
    acc: Figures = {}
    for path in sorted(STIM4.parent.glob("*.json")):
        brd = board.load(str(path))
        for f in CROSS_FREQS:
            for w in CROSS_WIDTHS:
                if (2 * w + brd.limits.dead_time_us + brd.limits.guard_us) * f > 1_000_000:
                    continue
                for gap in GAPS_US:
                    for lead in LEADS:
                        acc = _merge(acc, measure_point(f, w, brd, gap, lead))
    return acc


def _workers() -> int:
    return workers(4)


def _results(freqs: Sequence[int], widths: Sequence[int], n: int) -> Iterator[Figures]:
    """measure_freq() of every frequency, in this process or in n workers (highest frequencies first)."""
    if n == 1:
        for f in freqs:
            yield measure_freq(f, widths)
        return
    with ProcessPoolExecutor(max_workers=n) as ex:
        futs = [ex.submit(measure_freq, f, widths) for f in sorted(freqs, reverse=True)]
        for fut in as_completed(futs):
            yield fut.result()


def measure(progress: Callable[[str], None], freqs: Optional[Sequence[int]] = None,
            widths: Optional[Sequence[int]] = None, workers: Optional[int] = None,
            cross_grid: bool = True) -> dict[str, float | int]:
    freqs = list(FREQS if freqs is None else freqs)
    widths = list(WIDTHS if widths is None else widths)
    n = workers if workers is not None else _workers()
    progress("pulse grid: %d frequencies x %d widths on %d worker(s), measured from the model's edges"
             % (len(freqs), len(widths), n))
    t0 = time.monotonic()
    acc: Figures = {}
    done = 0
    for r in _results(freqs, widths, n):
        acc = _merge(acc, r)
        done += 1
        if done % 15 == 0 or done == len(freqs):
            progress("pulse grid: %d/%d frequencies, %d points, %.0f s"
                     % (done, len(freqs), acc.get("points", 0), time.monotonic() - t0))
    if not acc:
        raise RuntimeError("pulse bench: no valid setting in the grid")
    progress("pulse grid: worst frequency error at %d Hz x %d us" % acc["worst"])
    cross = 0
    if cross_grid:
        progress("pulse grid: every gap with both leads on a cross grid, on every board in boards/")
        other = measure_cross()
        cross = other.get("points", 0)
        if other:
            acc["mingap"] = min(acc["mingap"], other["mingap"])
            for k in ("ferr", "werr", "overlap", "gaperr", "mismatch", "cpu"):
                acc[k] = max(acc[k], other[k])
            acc["unpaired"] += other["unpaired"]
            acc["lead"] += other["lead"]
    return {
        "pulse.grid_points": acc["points"],
        "pulse.max_freq_error_pct": round(acc["ferr"], 6),
        "pulse.max_width_error_us": round(acc["werr"], 6),
        "pulse.max_phase_mismatch_ticks": acc["mismatch"],
        "pulse.cpu_per_pulse": acc["cpu"],
        "pulse.unpaired_phases": acc["unpaired"],
        "pulse.max_overlap_ns": acc["overlap"],
        "pulse.max_gap_error_us": round(acc["gaperr"], 6),
        "pulse.min_gap_us": round(acc["mingap"], 6),
        "pulse.lead_errors": acc["lead"],
        "pulse.cross_points": cross,
    }
