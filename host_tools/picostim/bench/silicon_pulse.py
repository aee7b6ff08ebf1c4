"""The pulse engine on emulated silicon: the issue 15 figures from the emulated chip's pin trace.

The firmware's own engine (stim.pulse, stim.hal.pulse_hw) is copied to the real MicroPython
v1.28.0 rp2 firmware on rp2040js; for each shape of SHAPES a PulseChannel on stim4's CH1 pins
is configured, started, left alone for STEADY_PROGRAMS programs, stopped, and the pins' edges
are read through the same scope as the model's (fakehw/probe.py):

    silicon.pulse_points               shapes measured (frequency, width, interphase, lead)
    silicon.pulse_max_freq_error_pct   worst |achieved - requested| / requested, pair to pair
    silicon.pulse_max_width_error_us   worst |phase width - requested|
    silicon.pulse_max_phase_mismatch_ticks  worst |lead width - trail width| in 8 ns cycles
    silicon.pulse_max_gap_error_us     worst |gap - max(interphase_us, dead_time_us)|
    silicon.pulse_min_gap_us           the shortest gap seen
    silicon.pulse_max_overlap_ns       time both pins were high together
    silicon.pulse_unpaired_phases      phases in no whole pair, start to stop
    silicon.pulse_lead_errors          pairs led by the other phase than asked

CPU per pulse is the model's figure (pulse.cpu_per_pulse): here the REPL waits idle while the
pulses come out, and neither DMA channel nor the state machine raises an interrupt.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from picostim.fakehw.probe import Pairs
from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl, boot_to_repl

REPO = Path(__file__).resolve().parents[3]
FIRMWARE = REPO / "firmware"
ENGINE = ["stim/__init__.py", "stim/boardspec.py", "stim/pulse.py", "stim/hal/__init__.py", "stim/hal/pulse_hw.py"]
CYCLE_NS = 8
DEAD_TIME_US = 2  # stim4's limits.dead_time_us
GUARD_US = 20
PIN_A, PIN_B = 2, 3  # stim4 CH1
STEADY_PROGRAMS = 3
# (freq_hz, width_us, interphase_us, lead): the range's corners, the gaps 0..1000 and both leads.
SHAPES = (
    (85, 350, 0, "negative"),
    (150, 20, 1000, "positive"),
    (150, 1000, 1000, "negative"),
    (100, 200, 100, "positive"),
    (4, 250, 3, "negative"),
    (1, 20, 500, "positive"),
)


def _edges(chip: Silicon, pin: int, t0: int, t1: int) -> list[tuple[int, int]]:
    return [(int(ns), 1 if lv else 0) for ns, g, lv in chip.pins if g == pin and t0 <= ns < t1]


def measure_shape(chip: Silicon, repl: RawRepl, shape: tuple[int, int, int, str]) -> dict[str, Any]:
    """One shape start to stop on the emulated chip; figures from the pin trace only."""
    f, w, ip, lead = shape
    gap = max(ip, DEAD_TIME_US)
    out = repl.exec("s = settings_for(%d, %d, 125_000_000, %d, 0, 0, %d, %r)\npc.halt()\npc.abort()\n"
                    "pc.configure(s)\nprint(s.program_cycles)" % (f, w, GUARD_US, gap, lead))
    program_ns = int(out.split()[0]) * CYCLE_NS
    chip.pins.clear()
    t0 = chip.now_ns
    if repl.exec("print(pc.start())").split() != ["True"]:
        raise RuntimeError("silicon pulse: start() refused %r" % (shape,))
    chip.run_for((STEADY_PROGRAMS + 1) * program_ns)
    repl.exec("pc.stop()")
    chip.run_for(3 * program_ns)
    if repl.exec("print(pc.running)").split() != ["False"]:
        raise RuntimeError("silicon pulse: the train of %r did not end" % (shape,))
    t1 = chip.now_ns
    p = Pairs(_edges(chip, PIN_A, t0, t1), _edges(chip, PIN_B, t0, t1), lead)
    lead_pin = PIN_A if lead == "positive" else PIN_B
    lead_rises = {t for t, v in _edges(chip, lead_pin, t0, t1) if v == 1}
    per = p.periods()
    return {
        "points": 1,
        "ferr": max((abs(1e9 - f * x) / (f * x) * 100 for x in per), default=float("inf")),
        "werr": max((max(abs(a - w * 1000), abs(b - w * 1000)) / 1000 for a, b in p.widths()), default=float("inf")),
        "mismatch": max((abs(a - b) // CYCLE_NS for a, b in p.widths()), default=1 << 30),
        "gaperr": max((abs(g - gap * 1000) / 1000 for g in p.gaps()), default=float("inf")),
        "mingap": min((g / 1000 for g in p.gaps()), default=0.0),
        "overlap": p.overlap_ns,
        "unpaired": p.unpaired + (0 if len(p.pairs) >= STEADY_PROGRAMS else 1),
        "lead": sum(1 for r in p.starts() if r not in lead_rises),
    }


def measure(progress: Callable[[str], None]) -> dict[str, Any]:
    acc: dict[str, Any] = {}
    with Silicon(flash_timing="zero") as chip:
        repl = boot_to_repl(chip)
        repl.exec("import os\nfor d in ('/stim', '/stim/hal'):\n try: os.mkdir(d)\n except OSError: pass")
        for rel in ENGINE:
            repl.put_file("/" + rel, (FIRMWARE / rel).read_bytes(), chunk=2048)
        repl.exec("from stim.pulse import settings_for\nfrom stim.hal.pulse_hw import PulseChannel\n"
                  "pc = PulseChannel(%d, %d, 0)" % (PIN_A, PIN_B))
        for shape in SHAPES:
            r = measure_shape(chip, repl, shape)
            progress("silicon pulse: %d Hz, %d us, interphase %d us, %s first: gap error %.3f us, overlap %d ns"
                     % (*shape, r["gaperr"], r["overlap"]))
            if not acc:
                acc = r
                continue
            for k in ("ferr", "werr", "mismatch", "gaperr", "overlap"):
                acc[k] = max(acc[k], r[k])
            acc["mingap"] = min(acc["mingap"], r["mingap"])
            for k in ("points", "unpaired", "lead"):
                acc[k] += r[k]
    return {
        "silicon.pulse_points": acc["points"],
        "silicon.pulse_max_freq_error_pct": round(acc["ferr"], 6),
        "silicon.pulse_max_width_error_us": round(acc["werr"], 6),
        "silicon.pulse_max_phase_mismatch_ticks": acc["mismatch"],
        "silicon.pulse_max_gap_error_us": round(acc["gaperr"], 6),
        "silicon.pulse_min_gap_us": round(acc["mingap"], 6),
        "silicon.pulse_max_overlap_ns": acc["overlap"],
        "silicon.pulse_unpaired_phases": acc["unpaired"],
        "silicon.pulse_lead_errors": acc["lead"],
    }
