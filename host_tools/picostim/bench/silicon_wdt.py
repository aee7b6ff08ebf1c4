"""The watchdog sessions of the silicon bench beyond the steady one (picostim.bench.silicon
documents the figures): the flash at its worst-case times, and a session log that rotates.

The margin of a session is the least time the watchdog had left at any feed (wdt_margin_ms),
from the writes of its LOAD register that node/observe.mjs records.
"""

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

from picostim.silicon.repl import RawRepl
from picostim.silicon.session import SiliconSession

from .silicon_kill import MS, STIM4


def wdt_margin_ms(feeds: "list[list[int]]", reset_ns: "int | None" = None) -> float:
    """The least time the watchdog had left at any feed: for each feed, the timeout it loaded minus
    the time until the next feed (or until reset_ns, an expiry, which leaves 0). feeds: [ns, timeout
    ns] as node/observe.mjs records them (the timeout follows the state: stim.supervisor.watchdog_ms)."""
    if reset_ns is not None:
        return 0.0
    left = [t_a - (b - a) for (a, t_a), (b, _t) in itertools.pairwise(feeds)]
    return round(max(0.0, min(left, default=0) / MS), 2) if left else 0.0


def flash_worst(progress: Callable[[str], None]) -> dict[str, Any]:
    """Flash at its worst-case times (W25Q16JV: 400 ms a sector erase): boot and its log record,
    two program presses (settings), a 300-word burst program put over the console and chosen, a
    session started and stopped (its log record). The watchdog's margin over all of it."""
    figs: dict[str, Any] = {}
    with SiliconSession(STIM4, out=progress, flash_timing="worst") as s:
        s.chip.observe()
        s.key(True)
        if s.run_until_text(b'"status": "READY"', 10_000 * MS) is None:
            raise RuntimeError("the firmware did not reach READY with the flash at its worst: %r" % s.lines[-3:])
        for _ in range(2):
            s.button("program", True)
            s.run_until(s.now_ns + 100 * MS)
            s.button("program", False)
            s.run_until(s.now_ns + 2_000 * MS)
        s.send_line('{"cmd": "programs.put", "program": {"name": "burst300", "freq_hz": 150, "width_us": 200,'
                    ' "burst": {"freq_hz": 0.5, "pulses": 10}, "ramp_up_s": 1, "ramp_down_s": 1,'
                    ' "duration_min": 10, "max_ma": 20}}')
        s.run_until(s.now_ns + 2_000 * MS)
        for _ in range(8):  # on to the new program, the last of the list
            s.button("program", True)
            s.run_until(s.now_ns + 80 * MS)
            s.button("program", False)
            s.run_until(s.now_ns + 80 * MS)
        s.run_until(s.now_ns + 2_000 * MS)
        s.button("start_pause", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("start_pause", False)
        s.button("plus", True)
        s.run_until(s.now_ns + 1_000 * MS)
        s.button("plus", False)
        s.send_line('{"cmd": "stop"}')
        s.run_until(s.now_ns + 3_000 * MS)
        obs = s.chip.observations(take=True)
        resets = s.chip.stats()["resets"]
        erases = [ns for _st, ns in obs["windows"] if ns >= 390 * MS]
        figs["silicon.wdt_margin_ms_min_worst_flash"] = wdt_margin_ms(obs["feeds"], resets[1][0] if len(resets) > 1
                                                                       else None)
        figs["silicon.worst_erases"] = len(erases)
        figs["silicon.wdt_unexpected_resets_worst_flash"] = len(resets) - 1
        progress("silicon, flash at its worst: %d erases of 400 ms, watchdog margin %.1f ms, %d resets"
                 % (len(erases), figs["silicon.wdt_margin_ms_min_worst_flash"], len(resets) - 1))
    return figs




ROTATION_SESSIONS = 45
# The firmware's own view of its log files, from the maintenance REPL after the run: each log
# file's size and the sequence numbers ("n") of its first and last records.
_LIST_LOGS = """import os, json
def rng(p):
    first = last = None
    k = 0
    with open(p) as f:
        for line in f:
            if line.strip():
                n = json.loads(line)["n"]
                first = n if first is None else first
                last = n
                k += 1
    return [os.stat(p)[6], k, first, last]
print(json.dumps({p: rng(p) for p in sorted(os.listdir()) if p.startswith("log.")}))
"""


def log_rotation(progress: Callable[[str], None]) -> dict[str, Any]:
    """Sessions started from the panel and stopped over the console, one after another, with the
    flash at its typical times, until the session log has rotated (stim.store: log.0 becomes log.1
    when the next record would take it past LOG_MAX_BYTES). Each session's record is written by an
    idle tick after it ends (one flash item a tick), the rotation's rename with it. The watchdog's
    margin over all of it; then the firmware lists its log files from the maintenance REPL, which
    proves the rotation (log.1 there, holding the first records)."""
    figs: dict[str, Any] = {}
    with SiliconSession(STIM4, out=progress) as s:
        s.chip.keep_pins = False
        s.chip.request("trace", mask=0)
        s.chip.observe()
        s.key(True)
        if s.run_until_text(b'"status": "READY"', 5_000 * MS) is None:
            raise RuntimeError("the firmware did not reach READY: %r" % s.lines[-3:])
        s.send_line('{"cmd": "time.set", "epoch_s": 1796000000}')  # records carry the wall clock
        s.run_until(s.now_ns + 200 * MS)
        feeds: list[list[int]] = []
        for sessions in range(1, ROTATION_SESSIONS + 1):
            s.button("start_pause", True)
            s.run_until(s.now_ns + 100 * MS)
            s.button("start_pause", False)
            s.run_until(s.now_ns + 200 * MS)
            s.send_line('{"cmd": "stop"}')
            s.run_until(s.now_ns + 300 * MS)  # the record is flushed by the next idle ticks
            feeds += s.chip.observations(take=True)["feeds"]
            if sessions % 10 == 0:
                progress("silicon log rotation: %d sessions" % sessions)
        resets = s.chip.stats()["resets"]
        expiry = next((ns for ns, cause in resets[1:] if cause == "watchdog"), None)
        figs["silicon.wdt_margin_ms_min_rotation"] = wdt_margin_ms(feeds, expiry)
        figs["silicon.rotation_unexpected_resets"] = len(resets) - 1
        figs["silicon.rotation_sessions"] = ROTATION_SESSIONS
        # The firmware's own list of its log files: power cut, program held through the boot
        # (maintenance: main.py returns to the REPL without starting the watchdog).
        s.chip.observe(on=False)
        s.button("program", True)
        s.chip.power_cut()
        if s.run_until_text(b"MAINTENANCE", 5_000 * MS) is None:
            raise RuntimeError("no maintenance REPL after the rotation run: %r" % s.lines[-3:])
        s.button("program", False)
        repl = RawRepl(s.chip)
        repl.enter()
        out = repl.exec(_LIST_LOGS, 20_000 * MS)
    logs = json_last(out)
    if "log.1" not in logs:
        raise RuntimeError("the session log did not rotate after %d sessions: %r" % (ROTATION_SESSIONS, logs))
    figs["silicon.rotation_log1_bytes"] = logs["log.1"][0]
    figs["silicon.rotation_log0_records"] = logs.get("log.0", [0, 0])[1]
    progress("silicon log rotation: %d sessions, watchdog margin %.1f ms, %d resets; the firmware's log files"
             " (bytes, records, first n, last n): %s"
             % (ROTATION_SESSIONS, figs["silicon.wdt_margin_ms_min_rotation"], len(resets) - 1, logs))
    return figs


def json_last(out: str) -> dict[str, Any]:
    """The last JSON object line a REPL run printed."""
    for line in reversed(out.splitlines()):
        if re.match(r"\s*\{", line):
            d: dict[str, Any] = json.loads(line)
            return d
    raise RuntimeError("no JSON line in %r" % out[-200:])
