"""Pulse engine figures, measured on the RP2040 model from the pins' edges (`make bench`).

For every valid setting of the grid (1..150 Hz in 1 Hz steps x 20..1000 us in
1 us steps: every setting a program can hold, those where both phases and
the board's guard time fit in the period), the firmware's own hal
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

The grid runs in worker processes (one per core, at most 4), a frequency per task.
"""

import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator, Optional, Sequence

from picostim.bench import workers
from picostim.pulserun import STIM4, firmware_module, run_train

FREQS = range(1, 151)
WIDTHS = range(20, 1001)
STEADY_PROGRAMS = 3

Figures = dict[str, Any]


def measure_point(freq_hz: int, width_us: int, brd: Any) -> Figures:
    """One setting of board brd's first channel on a fresh chip, start to stop; figures from the edges."""
    pulse = firmware_module("stim.pulse")
    c0 = brd.channels[0]
    s = pulse.settings_for(freq_hz, width_us, brd.cpu_hz, brd.limits.guard_us)
    run = run_train(s, c0.pulse_a, c0.pulse_b, STEADY_PROGRAMS)
    ns_per_cycle = 1_000_000_000 // brd.cpu_hz
    steady = run.pairs(run.ta, run.tb)
    whole = run.pairs()
    want_w = width_us * 1000
    widths = whole.widths()
    per = whole.periods()
    ferr = max((abs(1_000_000_000 - freq_hz * p) / (freq_hz * p) * 100 for p in per), default=float("inf"))
    return {
        "points": 1,
        "ferr": ferr,
        "werr": max((max(abs(a - want_w), abs(b - want_w)) / 1000 for b, a in widths), default=float("inf")),
        "mismatch": max((abs(a - b) // ns_per_cycle for b, a in widths), default=1 << 30),
        "cpu": run.steady_calls / max(len(steady.pairs), 1),
        "unpaired": whole.unpaired + (0 if len(whole.pairs) >= STEADY_PROGRAMS else 1),
        "overlap": whole.overlap_ns,
        "worst": (freq_hz, width_us),
    }


def _merge(a: Figures, b: Figures) -> Figures:
    if not a:
        return dict(b)
    out = dict(a)
    out["points"] = a["points"] + b["points"]
    for k in ("ferr", "werr", "mismatch", "cpu", "overlap"):
        out[k] = max(a[k], b[k])
    out["unpaired"] = a["unpaired"] + b["unpaired"]
    if b["ferr"] > a["ferr"]:
        out["worst"] = b["worst"]  # the first setting with the worst frequency error
    return out


def measure_freq(freq_hz: int, widths: Sequence[int]) -> Figures:
    """Every valid width at one frequency (a worker's task)."""
    brd = firmware_module("stim.board").load(str(STIM4))
    acc: Figures = {}
    for w in widths:
        if (2 * w + brd.limits.guard_us) * freq_hz > 1_000_000:
            continue  # not a valid setting: the engine refuses it (tested elsewhere)
        acc = _merge(acc, measure_point(freq_hz, w, brd))
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
            widths: Optional[Sequence[int]] = None, workers: Optional[int] = None) -> dict[str, float | int]:
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
    return {
        "pulse.grid_points": acc["points"],
        "pulse.max_freq_error_pct": round(acc["ferr"], 6),
        "pulse.max_width_error_us": round(acc["werr"], 6),
        "pulse.max_phase_mismatch_ticks": acc["mismatch"],
        "pulse.cpu_per_pulse": acc["cpu"],
        "pulse.unpaired_phases": acc["unpaired"],
        "pulse.max_overlap_ns": acc["overlap"],
    }
