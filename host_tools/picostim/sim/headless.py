"""`picostim sim --script SCENARIO`: run a scenario on the simulated board, no keyboard, optional VCD.

    picostim sim --board boards/stim4.json --script demo.txt --until 10 --vcd out.vcd --speed max

The board file is checked and every scenario line is parsed before anything
runs. The firmware's console output is printed as it comes, each line with the
simulated time it was seen by; with --vcd, every traced pin goes to the VCD
file. --speed 1 (the default) paces the run to real time, --speed N runs N
times faster than that, --speed max as fast as the host can. A progress line
on stderr shows how far a long run has got.

Exit status: 0 if the run finished, 1 if the firmware crashed (an exception
escaped main.py), 2 for a bad board file, scenario or option.
"""

import sys
import time
from typing import IO, Optional

from . import scenario
from .session import SimSession, load_board
from .vcdout import VcdTrace

CHUNK_NS = 50_000_000  # the model runs in 50 ms slices between VCD flushes, prints and pacing
KEEP_NS = 100_000_000  # history kept behind the last flush
PROGRESS_S = 0.5  # at most one progress update per this much wall time


def parse_speed(speed: str) -> Optional[float]:
    """None for 'max', else the factor over real time (> 0). Raises ValueError."""
    if speed == "max":
        return None
    try:
        f = float(speed)
    except ValueError:
        f = float("nan")
    if not f > 0 or f == float("inf"):
        raise ValueError("--speed must be 'max' or a number > 0, got %r" % speed)
    return f


class _Progress:
    def __init__(self, err: IO[str], until_ns: int) -> None:
        self.err = err
        self.until_ns = until_ns
        self.tty = err.isatty()
        self.start = time.monotonic()
        self.last = self.start
        self.shown = False

    def update(self, now_ns: int) -> None:
        wall = time.monotonic()
        if wall - self.last < (PROGRESS_S if self.tty else 10 * PROGRESS_S):
            return
        self.last = wall
        pct = 100.0 * now_ns / self.until_ns if self.until_ns else 100.0
        rate = (now_ns / 1e9) / (wall - self.start) if wall > self.start else 0.0
        text = "sim %.1f / %.1f s (%3.0f%%), %.1fx real time" % (now_ns / 1e9, self.until_ns / 1e9, pct, rate)
        if self.tty:
            self.err.write("\r" + text + "\x1b[K")
        else:
            self.err.write(text + "\n")
        self.err.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown and self.tty:
            self.err.write("\r\x1b[K")
            self.err.flush()


def run(board_file: str, script: Optional[str], until_s: Optional[float], vcd_path: Optional[str] = None,
        speed: str = "1", out: IO[str] = sys.stdout, err: IO[str] = sys.stderr) -> int:
    try:
        factor = parse_speed(speed)
    except ValueError as e:
        err.write("picostim sim: %s\n" % e)
        return 2
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
    if until_s is None:
        until_s = (actions[-1].t_ns / 1e9 if actions else 0.0) + 1.0
    if not until_s > 0:
        err.write("picostim sim: --until must be > 0 s\n")
        return 2
    until_ns = round(until_s * 1e9)
    late = [a for a in actions if a.t_ns >= until_ns]
    if late:
        err.write("picostim sim: note: %d action(s) from line %d on come at or after --until %gs and will not run\n"
                  % (len(late), late[0].line, until_s))

    sess = SimSession(board_file, board)
    try:
        if any(a.kind == "console" for a in actions) and sess.console_writer() is None:
            err.write("picostim sim: this scenario sends console lines, but the board runner has no console"
                      " input\n")
            return 2
        sess.schedule(actions)
        trace = VcdTrace(vcd_path, sess.chip, board) if vcd_path else None
        out.write("PicoStim simulator: board %s (%s), scenario %s, %d actions, until %gs, speed %s\n"
                  % (board.name, board_file, script or "(none)", len(actions), until_s, speed))
        progress = _Progress(err, until_ns)
        shown = 0
        wall0 = time.monotonic()
        try:
            while sess.now_ns < until_ns:
                sess.run_until(min(sess.now_ns + CHUNK_NS, until_ns))
                now = sess.now_ns
                lines = sess.runner.console_out
                while shown < len(lines):
                    out.write("t=%9.3fs console> %s\n" % (now / 1e9, lines[shown]))
                    shown += 1
                if trace is not None:
                    trace.flush(now)
                sess.chip.forget_before(now - KEEP_NS)
                progress.update(now)
                if factor is not None:
                    lag = wall0 + now / 1e9 / factor - time.monotonic()
                    if lag > 0:
                        time.sleep(lag)
        except KeyboardInterrupt:
            err.write("\npicostim sim: interrupted at %.3fs\n" % (sess.now_ns / 1e9))
        finally:
            progress.done()
            if trace is not None:
                trace.close(sess.now_ns)
        wall = time.monotonic() - wall0
        runner = sess.runner
        out.write("done: %.3f s simulated in %.2f s wall, %d boot(s), %d reset(s)%s\n"
                  % (sess.now_ns / 1e9, wall, runner.boots, len(sess.chip.resets),
                     (", VCD %s (%d changes)" % (vcd_path, trace.changes)) if trace is not None else ""))
        for tb in runner.crashes:
            err.write("firmware crashed:\n" + tb + "\n")
        return 1 if runner.crashes else 0
    finally:
        sess.close()
