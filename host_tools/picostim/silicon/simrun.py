"""`picostim sim --silicon --script S [--vcd OUT]`: a scenario on the real firmware in an emulated RP2040.

The same scenario file and the same VCD as `picostim sim --script`, but the board is
MicroPython v1.28.0 running the deployed firmware (picostim.silicon.deploy) on rp2040js with
our patches, and every pin change lands on its emulated nanosecond. The emulator runs at
about a tenth to a half of real time, so there is no pacing: it runs as fast as it can and
shows its progress. `hang` is refused (the model stalls its own Python loop; silicon cannot).

Exit status: 0 if the run finished, 2 for a bad board file, scenario, option or missing tool.
"""

import sys
import time
from typing import IO, Optional

from picostim.deploy import DeployError
from picostim.silicon.chip import SiliconError
from picostim.silicon.images import ImageMissing
from picostim.silicon.session import PinHistory, SiliconSession
from picostim.sim import scenario
from picostim.sim.headless import _Progress
from picostim.sim.session import load_board
from picostim.sim.vcdout import VcdTrace

CHUNK_NS = 50_000_000


def run(board_file: str, script: Optional[str], until_s: Optional[float], vcd_path: Optional[str] = None,
        out: Optional[IO[str]] = None, err: Optional[IO[str]] = None, flash_timing: str = "typical") -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        board = load_board(board_file)
    except (OSError, ValueError) as e:
        err.write("picostim sim: %s: %s\n" % (board_file, e))
        return 2
    try:
        actions = scenario.load(script, board) if script is not None else []
    except scenario.ScenarioError as e:
        err.write("picostim sim: bad scenario, nothing was run:\n%s\n" % e)
        return 2
    model_only = [a for a in actions if a.kind in ("hang", "advance", "profile")]
    if model_only:
        why = {"hang": "the emulated chip cannot stall its own loop",
               "advance": "the emulated board has no DS3231 model",
               "profile": "the selection is read from the model's OLED"}[model_only[0].kind]
        err.write("picostim sim: bad scenario, nothing was run:\n%s:%d: '%s' runs on the model only (%s)\n"
                  % (script, model_only[0].line, model_only[0].kind, why))
        return 2
    if until_s is None:
        until_s = (actions[-1].t_ns / 1e9 if actions else 0.0) + 1.0
    if not until_s > 0:
        err.write("picostim sim: --until must be > 0 s\n")
        return 2
    until_ns = round(until_s * 1e9)
    try:
        sess = SiliconSession(board_file, board, flash_timing=flash_timing, out=lambda m: err.write(str(m) + "\n"))
    except (SiliconError, ImageMissing, DeployError) as e:
        err.write("picostim sim --silicon: %s\n" % e)
        return 2
    with sess:
        sess.schedule(actions)
        hist = PinHistory(sess.chip)
        trace = VcdTrace(vcd_path, hist, board) if vcd_path else None  # type: ignore[arg-type]
        out.write("PicoStim on emulated silicon: board %s (%s), MicroPython v1.28.0 on rp2040js, scenario %s,"
                  " %d actions, until %gs, flash %s\n"
                  % (board.name, board_file, script or "(none)", len(actions), until_s, flash_timing))
        progress = _Progress(err, until_ns)
        shown = 0
        wall0 = time.monotonic()
        try:
            while sess.now_ns < until_ns:
                sess.run_until(min(sess.now_ns + CHUNK_NS, until_ns))
                while shown < len(sess.lines):
                    ns, line = sess.lines[shown]
                    out.write("t=%9.3fs console> %s\n" % (ns / 1e9, line))
                    shown += 1
                if trace is not None:
                    trace.flush(sess.now_ns)
                sess.chip.pins.clear()  # written out; the VCD keeps the levels
                progress.update(sess.now_ns)
        except KeyboardInterrupt:
            err.write("\npicostim sim: interrupted at %.3fs\n" % (sess.now_ns / 1e9))
        finally:
            progress.done()
            if trace is not None:
                trace.close(sess.now_ns)
        stats = sess.chip.stats()
        resets = stats["resets"][1:]
        out.write("done: %.3f s emulated in %.2f s wall, %d reset(s)%s%s\n"
                  % (sess.now_ns / 1e9, time.monotonic() - wall0, len(resets),
                     (" (" + ", ".join("%s at %.3fs" % (c, ns / 1e9) for ns, c in resets) + ")") if resets else "",
                     (", VCD %s (%d changes)" % (vcd_path, trace.changes)) if trace is not None else ""))
    return 0
