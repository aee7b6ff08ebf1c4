"""The long heap probe of the silicon bench (picostim.bench.silicon documents the figures).

The issue asks for the live heap (gc.mem_alloc() right after a gc.collect()) probed through a
20-minute session with console traffic. The steady session cannot run that long at a useful cost:
it reads the emulator's statistics every 10 ms. This probe runs its own session and lets the chip
run in big slices with no observer and no pin trace; every PROBE_EVERY_S emulated seconds it sends
a burst of console requests, then asks the firmware itself (console `diag` with "collect": true).
module_heap() measures what the firmware's modules hold, each its own share, on a fresh VM.

Its length: $PICOSTIM_SILICON_HEAP_PROBE_S emulated seconds, HEAP_PROBE_S_DEFAULT unless set
(1200 for the issue's 20 minutes; with nothing observing the core the emulated chip runs at about
1.2 s of wall time per second on an idle machine here, so 1200 s take ~24 minutes, and took 34
on a machine shared with other work).
"""

import json
import os
import time
from collections.abc import Callable
from typing import Any

from picostim.silicon.repl import RawRepl
from picostim.silicon.session import SiliconSession

from .silicon_kill import MS, REPO, STIM4

HEAP_PROBE_S_DEFAULT = 300.0
PROBE_EVERY_S = 10  # emulated seconds between two live-heap probes
PROGRESS_EVERY_S = 60
EPOCH_S = 1_796_000_000  # a wall clock of late 2026: records carry epoch seconds above 2**30 (boxed ints)
# Console traffic before each probe: a host polling the board, as `picostim console` does.
TRAFFIC = ('{"cmd": "status"}', '{"cmd": "programs.list"}', '{"cmd": "limits.get"}',
           '{"cmd": "version"}', '{"cmd": "board"}', '{"cmd": "status"}')


def heap_probe_s() -> float:
    text = os.environ.get("PICOSTIM_SILICON_HEAP_PROBE_S", str(HEAP_PROBE_S_DEFAULT))
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not PROBE_EVERY_S <= v < 1e5:
        raise ValueError("PICOSTIM_SILICON_HEAP_PROBE_S must be a number of seconds >= %d, got %r"
                         % (PROBE_EVERY_S, text))
    return v


def _reply(sess: SiliconSession, since: int, tag: str, timeout_ms: int = 600) -> dict[str, Any]:
    """The firmware's reply line carrying "id": tag, printed after line index `since`."""
    end = sess.now_ns + timeout_ms * MS
    while True:
        for _ns, text in sess.lines[since:]:
            if '"id": "%s"' % tag in text:
                reply: dict[str, Any] = json.loads(text)
                return reply
        if sess.now_ns >= end:
            raise RuntimeError("no reply %r from the firmware: %r" % (tag, sess.lines[-3:]))
        sess.run_until(sess.now_ns + 10 * MS)


def _start(sess: SiliconSession) -> None:
    """A session from the panel: the start press, then + held for a second (levels ramp up)."""
    sess.button("start_pause", True)
    sess.run_until(sess.now_ns + 100 * MS)
    sess.button("start_pause", False)
    sess.button("plus", True)
    sess.run_until(sess.now_ns + 1_000 * MS)
    sess.button("plus", False)


def heap_probe(progress: Callable[[str], None], seconds: float) -> dict[str, Any]:
    wall0 = time.monotonic()
    live: list[int] = []
    sessions = 0
    with SiliconSession(STIM4, out=progress) as s:
        s.chip.keep_pins = False
        s.chip.request("trace", mask=0)  # no pad changes over the pipe: a session makes ~10**5 a second
        s.key(True)
        if s.run_until_text(b'"status": "READY"', 5_000 * MS) is None:
            raise RuntimeError("the firmware did not reach READY: %r" % s.lines[-3:])
        n = len(s.lines)
        s.send_line('{"cmd": "time.set", "epoch_s": %d, "id": "t"}' % EPOCH_S)
        if not _reply(s, n, "t").get("ok"):
            raise RuntimeError("time.set refused: %r" % s.lines[-2:])
        t0 = s.now_ns
        end = t0 + round(seconds * 1e9)
        next_note = t0 + PROGRESS_EVERY_S * 10**9
        k = 0
        while s.now_ns < end:
            n = len(s.lines)
            for line in TRAFFIC:
                s.send_line(line[:-1] + ', "id": "q%d"}' % k)
                s.run_until(s.now_ns + 30 * MS)
            state = _reply(s, n, "q%d" % k)["state"]
            if state == "READY":  # the program's time ran out (or the first pass): start again
                _start(s)
                sessions += 1
            elif state != "RUNNING":
                raise RuntimeError("the heap probe's session is %s: %r" % (state, s.lines[-3:]))
            n = len(s.lines)
            s.send_line('{"cmd": "diag", "collect": true, "id": "h%d"}' % k)
            live.append(int(_reply(s, n, "h%d" % k)["mem_alloc"]))
            k += 1
            s.run_until(min(end, s.now_ns + PROBE_EVERY_S * 10**9 - len(TRAFFIC) * 30 * MS))
            if s.now_ns >= next_note or s.now_ns >= end:
                next_note += PROGRESS_EVERY_S * 10**9
                progress("silicon heap probe: %.0f / %.0f s emulated, live heap max %d bytes, %d resets,"
                         " %.0f s wall" % ((s.now_ns - t0) / 1e9, seconds, max(live),
                                           len(s.chip.stats()["resets"]) - 1, time.monotonic() - wall0))
        probed_s = (s.now_ns - t0) / 1e9
        resets = s.chip.stats()["resets"][1:]
    wall = time.monotonic() - wall0
    progress("silicon heap probe: %.0f s emulated in %.0f s wall, %d probes, live heap %d..%d bytes, %d sessions,"
             " resets %r" % (probed_s, wall, len(live), min(live), max(live), sessions, resets))
    return {
        "silicon.heap_probe_s": round(probed_s, 1),
        "silicon.heap_probe_live_bytes_max": max(live),
        "silicon.heap_probe_live_bytes_first": live[0],
        "silicon.heap_probe_sessions": sessions,
        "silicon.heap_probe_resets": len(resets),
    }


def firmware_modules() -> list[str]:
    """The firmware's modules in an order each imports after its own imports (stim.app last)."""
    fw = REPO / "firmware"
    names = sorted(str(p.relative_to(fw).with_suffix("")).replace("/", ".") for p in (fw / "stim").rglob("*.py"))
    names = [n[:-len(".__init__")] if n.endswith(".__init__") else n for n in names] + ["ssd1306"]
    order: list[str] = []
    seen: set[str] = set()

    def visit(m: str) -> None:
        if m not in seen:  # seen before it is placed: an import cycle is cut there
            seen.add(m)
            for d in _imports_of(fw, m, names):
                visit(d)
            order.append(m)

    for m in names:
        visit(m)
    return order


def _imports_of(fw: "Any", m: str, names: list[str]) -> list[str]:
    """The firmware modules m imports as it loads (in its body, under an `if` too; not the imports
    inside functions, which are made later)."""
    import ast

    path = fw / (m.replace(".", "/") + ".py")
    if not path.exists():
        path = fw / m.replace(".", "/") / "__init__.py"
    if not path.exists():
        path = fw / "lib" / (m + ".py")
    out = []
    top = [n for n in ast.parse(path.read_text()).body
           if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    for node in (x for t in top for x in ast.walk(t)):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                sub = node.module + "." + a.name
                out.append(sub if sub in names else node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return [d for d in out if d in names and d != m]


def module_heap(progress: Callable[[str], None]) -> dict[str, Any]:
    """The heap the firmware's imported modules hold (bytecode, constants, function and class objects),
    on a VM fresh from a soft reset: what freezing them into the firmware image would move to flash
    (docs/design.md). boot.py's imports (stim.hal.rp2040, stim.boardspec, stim.ticks, native_io and
    theirs) are already in before the first measurement and are not counted. Each module is imported
    after the modules it imports, so silicon.heap_module_bytes_<module> is its own share (the
    module's name without "stim.", dots as underscores; 0 for boot.py's)."""
    progress("silicon: the heap the firmware's modules hold")
    with SiliconSession(STIM4, out=progress, flash_timing="zero") as s:
        s.button("program", True)  # maintenance: main.py returns to the REPL
        if s.run_until_text(b"MAINTENANCE", 5_000 * MS) is None:
            raise RuntimeError("no maintenance REPL: %r" % s.lines[-3:])
        s.button("program", False)
        repl = RawRepl(s.chip)
        repl.enter()
        s.chip.write(b"\x04")  # soft reset from the raw REPL: a fresh heap; boot.py runs again
        s.chip.run_for(300 * MS)
        s.chip.read_new()
        repl.enter()
        out = repl.exec("import gc\ngc.collect()\nb=gc.mem_alloc()\nfor m in %r:\n"
                        "    gc.collect()\n    a=gc.mem_alloc()\n    __import__(m)\n    gc.collect()\n"
                        "    print('M', m, gc.mem_alloc()-a)\n"
                        "print('T', gc.mem_alloc()-b)" % (firmware_modules(),), 60_000 * MS)
    figs: dict[str, Any] = {}
    for line in out.splitlines():
        w = line.split()
        if len(w) == 3 and w[0] == "M":
            name = w[1][len("stim."):] if w[1].startswith("stim.") else w[1]
            figs["silicon.heap_module_bytes_" + name.replace(".", "_")] = int(w[2])
        elif len(w) == 2 and w[0] == "T":
            figs["silicon.heap_modules_bytes"] = int(w[1])
    if "silicon.heap_modules_bytes" not in figs:
        raise RuntimeError("the module heap probe printed no total: %r" % out[-300:])
    return figs
