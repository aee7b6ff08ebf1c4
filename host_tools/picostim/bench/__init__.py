"""`make bench` / `picostim bench`: measure, write build/bench.json, print a table.

Each area keeps its measurements in a module here with a
`measure(progress) -> dict[str, float | int]` function; `progress(msg)` prints
a line so long runs show they are alive. The report is one flat JSON object,
one key per figure (names like "pulse.max_freq_error_pct" are fixed once they
exist: scripts read them). `picostim bench AREA...` measures only those
areas and keeps the other areas' figures from the last report.
"""

import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Optional

Number = int | float

# Modules measured, in order. Add yours here.
AREAS: list[str] = ["store", "clients", "pulse", "console", "sim", "panel", "safety", "safetycase", "firmware",
                    "silicon"]

REPORT = Path("build") / "bench.json"


def workers(most: int = 4) -> int:
    """Worker processes for a parallel measurement: the CPUs this process may use, at most `most`."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(n, most))


def _progress(msg: str) -> None:
    print("  ... " + msg, flush=True)


def run(areas: Optional[list[str]] = None, out: Path = REPORT,
        progress: Callable[[str], None] = _progress) -> dict[str, Number]:
    report: dict[str, Number] = {}
    if areas is not None and out.exists():
        # Some areas only: keep the other areas' figures from the last run (they are not lost).
        try:
            report = {k: v for k, v in json.loads(out.read_text()).items() if isinstance(v, int | float)}
        except (OSError, ValueError):
            report = {}
    fresh: set[str] = set()
    for name in areas if areas is not None else AREAS:
        mod = importlib.import_module("picostim.bench." + name)
        print("== bench: " + name + " ==", flush=True)
        t0 = time.monotonic()
        figures = mod.measure(progress)
        for k, v in figures.items():
            if k in fresh:
                raise ValueError("bench key " + k + " reported twice")
            fresh.add(k)
            report[k] = v
        progress("%s done in %.1f s" % (name, time.monotonic() - t0))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print_table(report)
    print_twins(report)
    print("wrote " + str(out))
    return report


# Model figures and their twins measured on emulated silicon: printed side by side.
TWINS: list[tuple[str, str, str]] = [
    ("kill latency, worst (us)", "kill.latency_model_us", "silicon.kill_latency_us_max"),
    ("kill: model w/o Python cost; silicon median (us)", "kill.latency_model_uncalibrated_us",
     "silicon.kill_latency_us_p50"),
    ("main loop, longest stretch a tick (us, p50)", "tick.model_us_p50", "silicon.tick_us_p50"),
    ("main loop, longest stretch a tick (us, max)", "tick.model_us_max", "silicon.tick_us_max"),
    ("main loop busy share (%, mean)", "tick.model_busy_pct_mean", "silicon.cpu_busy_pct_mean"),
]


def print_twins(report: dict[str, Number]) -> None:
    rows = [(what, report.get(m), report.get(si)) for what, m, si in TWINS if m in report or si in report]
    if not rows:
        return
    print("%-46s  %12s  %16s" % ("model beside emulated silicon", "model", "silicon"))
    for what, m, si in rows:
        print("%-46s  %12s  %16s" % (what, "-" if m is None else "%.6g" % m, "-" if si is None else "%.6g" % si))


def print_table(report: dict[str, Number]) -> None:
    width = max((len(k) for k in report), default=10)
    print("%-*s  %s" % (width, "figure", "value"))
    print("-" * (width + 14))
    for k in sorted(report):
        v = report[k]
        print("%-*s  %s" % (width, k, ("%.6g" % v) if isinstance(v, float) else str(v)))


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    run(args or None)
    return 0
