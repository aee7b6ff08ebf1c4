"""Simulator figures (`make bench`): how fast a headless scenario runs, and what its VCD costs.

A scenario on stim4 (key in, start the default program, + to 5 mA, run) is
simulated for SESSION_S seconds with a VCD written to a temporary file, at
--speed max:

    sim.headless_speed_x     simulated seconds per wall-clock second, VCD included
    sim.vcd_bytes_per_s      VCD bytes per simulated second of that session
    sim.vcd_changes_per_s    value changes per simulated second in it
    sim.panel_frame_ms       wall time of one front-panel frame (take in the frame, draw the screen),
                             median over the session's frames
"""

import io
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from picostim.sim import headless, scenario
from picostim.sim.session import SimSession
from picostim.sim.terminal import FRAME_S, Panel

REPO = Path(__file__).resolve().parents[3]
STIM4 = str(REPO / "boards" / "stim4.json")
SESSION_S = 60.0
PANEL_S = 10.0
SCENARIO = "0.1 key on\n0.5 press start_pause\n" + "".join("%g press plus\n" % (1.0 + 0.3 * i) for i in range(5))


def measure(progress: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "s.txt")
        vcd = os.path.join(d, "out.vcd")
        Path(script).write_text(SCENARIO)
        progress("headless %g s session on stim4 with a VCD" % SESSION_S)
        out = io.StringIO()
        t0 = time.perf_counter()
        rc = headless.run(STIM4, script, SESSION_S, vcd, "max", out=out, err=io.StringIO())
        wall = time.perf_counter() - t0
        if rc != 0:
            raise RuntimeError("headless run failed: " + out.getvalue())
        size = os.path.getsize(vcd)
        changes = 0
        with open(vcd) as f:
            past_header = False
            for line in f:
                if line.startswith("$enddefinitions"):
                    past_header = True
                elif past_header and line[:1] in "01":
                    changes += 1

    progress("front panel, %g s" % PANEL_S)
    sess = SimSession(STIM4)
    try:
        sess.schedule(scenario.parse(SCENARIO, sess.board))
        panel = Panel(sess)
        frames: list[float] = []
        while sess.now_ns < PANEL_S * 1e9:
            panel.poll()
            sess.run_until(sess.now_ns + int(FRAME_S * 1e9))
            t0 = time.perf_counter()
            panel.update()
            panel.lines()
            frames.append((time.perf_counter() - t0) * 1000)
    finally:
        sess.close()
    return {
        "sim.headless_speed_x": round(SESSION_S / wall, 1),
        "sim.vcd_bytes_per_s": round(size / SESSION_S),
        "sim.vcd_changes_per_s": round(changes / SESSION_S),
        "sim.panel_frame_ms": round(statistics.median(frames), 3),
    }
