"""Silicon figures (`make bench`): the firmware on MicroPython v1.28.0 in an emulated RP2040.

Every figure is measured on stim4 (PWM DAC) from the chip's pins, from the core (node/
observe.mjs) or from the firmware's own console (`diag`), never computed from the design:

    silicon.boot_ms                    power-on to the READY status line, key in
    silicon.heap_live_bytes_max        gc.mem_alloc() after a collection (console diag), highest
                                       over the steady session (SESSION_S: 6 s unless
                                       $PICOSTIM_SILICON_SESSION_S says otherwise) and the long heap
                                       probe (bench/silicon_heap.py): a session of
                                       silicon.heap_probe_s emulated seconds (300 unless
                                       $PICOSTIM_SILICON_HEAP_PROBE_S says otherwise: 1200 for the
                                       issue's 20 minutes: ~24 min of wall time on an idle machine,
                                       34 min sharing it), a diag with a
                                       collection every 10 s after a burst of console requests, the
                                       session started again whenever its program's time runs out;
                                       silicon.heap_probe_live_bytes_max is the probe's own highest,
                                       _first its first probe, heap_probe_sessions the sessions it
                                       started, heap_probe_resets the resets in it (expected 0)
    silicon.heap_modules_bytes         the heap the firmware's modules hold once imported (beyond
                                       boot.py's), after a collection on a fresh VM: what freezing
                                       them into a custom firmware image would move to flash;
                                       silicon.heap_module_bytes_<module> each module's own share
    silicon.alloc_bytes_per_tick_steady / _ramp
                                       heap growth between two diag reads with no collection
                                       between them, less what a diag read allocates itself
                                       (silicon.diag_alloc_bytes, measured idle), per control tick,
                                       steady and while + is held
    silicon.gc_in_masked_window        masked windows in which the collector's code ran
                                       (its PCs found by profiling gc.collect() on the same image)
    silicon.tick_us_p50 / _max         the longest busy stretch (wake to sleep) of each 10 ms window
                                       of a steady session: the tick's (with its status line), or
                                       the console's and the display's half a tick later (stim.app.run)
    silicon.loop_busy_us_max           the most busy time in one 10 ms window: a whole loop
                                       iteration, both its stretches
    silicon.tick_us_p50_held_plus / _max_held_plus, loop_busy_us_max_held_plus, cpu_busy_pct_held_plus
                                       the same while + is held for HELD_PLUS_S s (levels ramping,
                                       the screen following), no console traffic
    silicon.tick_part_us_<part>        the median of each part of a running loop pass (bench/silicon_parts.py):
                                       the calibration of the model's tick charges (fakehw/pycost.py);
                                       silicon.tick_part_wrapper_us: the timing's own cost, taken off;
                                       silicon.ramp_part_us_<part>: the parts only a ramp or an
                                       intent runs (the model charges them where they run)
    silicon.cpu_busy_pct_mean / _max   the share of each 10 ms window the core executes, steady
    silicon.masked_us_max              the longest window with PRIMASK set (IRQs held back)
    silicon.kill_latency_us_max / _p50 stopping edge (key out or e-stop, alternating) to output-enable
                                       inactive and every stim and DAC pin low, KILL_EDGES edges:
                                       half at random times in the first 250 ms of a session, half
                                       aimed (+ held with the start, tick-aligned from the phase of
                                       the last session's first commit, when output-enable rose) at
                                       random points of the three ticks in which the start acts and
                                       the four channels' trains are prepared and committed; p50 over
                                       the edges that found the outputs on;
                                       silicon.kill_edges_aimed_at_start counts the aimed ones;
                                       the same with _mcp4728 on stim4 with an MCP4728 (MCP_EDGES
                                       edges), plus silicon.kill_dac_zero_us_max_mcp4728: edge to
                                       every DAC output code 0 (or powered down)
    silicon.wdt_margin_ms_min          least time left on the watchdog at any feed: the timeout that feed
                                       loaded (100 ms while a session may drive, 2 s otherwise) minus
                                       the time to the next write of its LOAD register; the least of
                                       the steady session, its stress phase and flush,
                                       silicon.wdt_margin_ms_min_worst_flash: a session with the flash
                                       at its worst-case times (400 ms a sector erase; worst_erases
                                       counts them) through boot, program presses, a 300-word burst
                                       program put over the console and chosen, a session and its stop,
                                       and silicon.wdt_margin_ms_min_rotation: rotation_sessions
                                       sessions started from the panel and stopped over the console
                                       (flash at its typical times, wall clock set) until the session
                                       log rotates; the firmware then lists its log files from the
                                       maintenance REPL (bench/silicon_wdt.py), and the bench fails
                                       unless log.1 is there (silicon.rotation_log1_bytes,
                                       silicon.rotation_log0_records: the records after the rotation)
    silicon.gc_collect_ms_max          how long one gc.collect() of the session's heap keeps the core
                                       (the longest busy stretch around a diag collect); a collection
                                       inside one loop pass delays that pass's watchdog feed as much
    silicon.freq_error_pct_max / width_error_us_max
                                       the six built-in programs, from the CH1 pulse pins
    silicon.pulse_*                    the pulse engine's gap, lead, overlap and widths over a few
                                       shapes (bench/silicon_pulse.py), as pulse.* on the model
    silicon.unexpected_resets          resets the chip made that no scenario asked for, over every
                                       session (the heap probe's: silicon.heap_probe_resets); the
                                       steady session ends with a settings flush (program selected)
                                       at the flash's typical erase time, the rotation and heap probe
                                       sessions run it at its typical times, the worst-flash session
                                       at its worst, the program and kill sessions at zero time so
                                       that their program presses cannot reset it
    silicon.wdt_margin_ms_min          (over the steady session, a stress phase and that flush; an
                                       expiry gives 0); _stress: only the stress phase: eight 1 KB
                                       console lines, then the USB host stops reading for 1.5 s
                                       while 30 status requests are answered
"""

import itertools
import os
import statistics
from collections.abc import Callable
from typing import Any

from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl
from picostim.silicon.session import SiliconSession

from . import silicon_pulse
from .passes import TICK_NS, window_busy, window_worst
from .silicon_heap import heap_probe, heap_probe_s, module_heap
from .silicon_kill import MS, REPO, STIM4, kill_figures
from .silicon_parts import tick_parts
from .silicon_wdt import ROTATION_SESSIONS, flash_worst, log_rotation, wdt_margin_ms

__all__ = ["measure", "measure_all", "wdt_margin_ms"]

KILL_EDGES = 200
MCP_EDGES = 60
# The steady session's length (it reads the emulator's stats every 10 ms: about 2.4 s of wall time per
# emulated second here; 300 s take 12 min): PICOSTIM_SILICON_SESSION_S=300 make bench. The issue's
# 20-minute heap figure comes from the cheaper heap probe (silicon_heap.py, PICOSTIM_SILICON_HEAP_PROBE_S).
def _session_s() -> float:
    text = os.environ.get("PICOSTIM_SILICON_SESSION_S", "6")
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 < v < 1e5:
        raise ValueError("PICOSTIM_SILICON_SESSION_S must be a number of seconds > 0, got %r" % text)
    return v


SESSION_S = _session_s()
PROGRAMS = 6


def _gc_pcs(progress: Callable[[str], None]) -> list[int]:
    """The 16-byte code lines that run during gc.collect() and never in other interpreted work."""
    progress("profiling gc.collect() on the MicroPython image (to spot collections later)")
    with Silicon(keep_pins=False) as chip:
        chip.run_until(1_600 * MS)
        repl = RawRepl(chip)
        repl.enter()
        work = ("d={}\nfor i in range(300):\n    d[i]=str(i)+'x'\n    b=bytearray(8)\n"
                "def f(a,b=2,*c,**k):\n    return [a,b,c,k]\nfor i in range(200):\n    f(i,i,i,k=i)\n"
                "s=sorted(d.values())[:5]\nimport json\nj=json.dumps({'a':[1,2.5,'x']})\nprint(len(s),j)")
        chip.observe(profile=True)
        repl.exec(work)
        base = {pc for pc, _n in chip.observations()["profile"]}
        repl.exec("x=[bytearray(40) for i in range(500)]\nx=None")
        chip.observe(profile=True)
        repl.exec("import gc\ngc.collect()\ngc.collect()")
        prof = chip.observations()["profile"]
        pcs = sorted(pc for pc, n in prof if n >= 20 and pc not in base and pc >= 0x1000000)
        # Check the signature: it fires on a collection and not on plain work.
        chip.observe(gc_pcs=pcs)
        repl.exec(work)
        quiet = chip.observations()["gc_runs"]
        repl.exec("import gc\ngc.collect()")
        fired = chip.observations()["gc_runs"]
        if not pcs or quiet or not fired:
            raise RuntimeError("no clean gc signature (%d lines, %d on plain work, %d on a collect)"
                               % (len(pcs), quiet, fired))
        return pcs


def _diag(sess: SiliconSession, collect: bool) -> dict[str, Any]:
    import json

    n = len(sess.lines)
    sess.send_line('{"cmd": "diag", "collect": %s, "id": "bench"}' % ("true" if collect else "false"))
    for _ in range(60):
        sess.run_until(sess.now_ns + 10 * MS)
        for _ns, text in sess.lines[n:]:
            if '"id": "bench"' in text:
                reply: dict[str, Any] = json.loads(text)
                return reply
    raise RuntimeError("no diag reply from the firmware")


def _alloc_per_tick(samples: list[dict[str, Any]], per_read: int = 0) -> float:
    """Heap growth per tick over consecutive diag reads with no collection between them, less what
    one diag read itself allocates between two samples (per_read: its reply, the next request)."""
    rates = []
    for a, b in itertools.pairwise(samples):
        dt = b["ticks"] - a["ticks"]
        grew = b["mem_alloc"] - a["mem_alloc"]
        if dt > 0 and grew >= 0:
            rates.append(max(0, grew - per_read) / dt)
    return max(rates) if rates else 0.0


def _alloc_per_tick_mean(samples: list[dict[str, Any]], per_read: int = 0) -> float:
    """Heap growth per tick from the first diag read to the last (no collection between them), less
    what the reads in between allocated: the mean over the whole window."""
    a, b = samples[0], samples[-1]
    dt = b["ticks"] - a["ticks"]
    grew = b["mem_alloc"] - a["mem_alloc"] - per_read * (len(samples) - 1)
    return max(0, grew) / dt if dt > 0 and b["mem_alloc"] >= a["mem_alloc"] else 0.0


def _diag_cost(sess: SiliconSession) -> int:
    """Bytes one diag read allocates between two samples, read with the board idle (READY, the
    screen still): the least growth over a few back-to-back reads."""
    reads = [_diag(sess, False) for _ in range(4)]
    return int(min(b["mem_alloc"] - a["mem_alloc"] for a, b in itertools.pairwise(reads)))


def _steady(progress: Callable[[str], None], gc_pcs: list[int]) -> dict[str, Any]:
    figs: dict[str, Any] = {}
    with SiliconSession(STIM4, out=progress) as s:
        s.key(True)
        at = s.run_until_text(b'"status": "READY"', 5_000 * MS)
        if at is None:
            raise RuntimeError("the firmware did not reach READY: %r" % s.lines[-3:])
        figs["silicon.boot_ms"] = round(at / MS, 1)
        s.run_until(s.now_ns + 500 * MS)  # the boot's screen sent
        per_read = _diag_cost(s)
        figs["silicon.diag_alloc_bytes"] = per_read
        s.chip.observe(gc_pcs=gc_pcs, stretches=True)
        live = [_diag(s, True)["mem_alloc"]]
        progress("silicon: session start, + held (ramp), then steady for %g s" % SESSION_S)
        s.button("start_pause", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("start_pause", False)
        s.button("plus", True)
        ramp = []
        for _ in range(6):
            s.run_until(s.now_ns + 150 * MS)
            ramp.append(_diag(s, False))
        s.button("plus", False)
        s.run_until(s.now_ns + 300 * MS)
        # Steady: no probes inside the measured windows, only one diag read at each end.
        steady = [_diag(s, False)]
        s.chip.observations(take=True)
        t0 = s.now_ns
        busy = []
        st0 = s.chip.stats()
        while s.now_ns < t0 + round(SESSION_S * 1e9):
            s.run_until(s.now_ns + TICK_NS)
            st1 = s.chip.stats()
            busy.append((st1["busy_ns"] - st0["busy_ns"]) / (st1["now_ns"] - st0["now_ns"]) * 100)
            st0 = st1
            if len(busy) % 3000 == 0:  # every 30 s of emulated time
                progress("silicon steady: %.0f / %.0f s" % ((s.now_ns - t0) / 1e9, SESSION_S))
        obs = s.chip.observations(take=True)
        feeds_steady = obs["feeds"]
        t1 = s.now_ns
        steady.append(_diag(s, False))
        # Heap: the live heap after collections, with console traffic between them; a
        # collection's own length is the longest busy stretch around the probe.
        gc_ns = 0
        for _ in range(5):
            for _ in range(10):
                s.send_line('{"cmd": "status"}')
                s.run_until(s.now_ns + 20 * MS)
            s.chip.observations(take=True)
            live.append(_diag(s, True)["mem_alloc"])
            gc_ns = max([gc_ns] + [ns for _st, ns in s.chip.observations(take=True)["stretches"]])
        # Stress, with the session still running: 1 KB console lines (refused as too long, one
        # error each), then a host that stops reading for 1.5 s while status replies pile up.
        s.chip.observations(take=True)
        t_stress = s.now_ns
        for _ in range(8):
            s.send_line('{"cmd": "status", "pad": "' + "x" * 1000 + '"}')
            s.run_until(s.now_ns + 40 * MS)
        s.chip.host_reading(False)
        for _ in range(30):
            s.send_line('{"cmd": "status"}')
            s.run_until(s.now_ns + 50 * MS)
        s.chip.host_reading(True)
        s.run_until(s.now_ns + 300 * MS)
        stress_feeds = s.chip.observations(take=True)["feeds"]
        t_flush_start = s.now_ns
        # A settings flush: selecting the next program writes settings.json (littlefs: sector
        # erases at the flash's typical time). The feeds around it give the watchdog margin.
        s.chip.observations(take=True)
        s.send_line('{"cmd": "stop"}')
        s.run_until(s.now_ns + 100 * MS)
        resets_before = len(s.chip.stats()["resets"])
        t_flush = s.now_ns
        s.button("program", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("program", False)
        end = s.now_ns + 1_000 * MS
        while s.now_ns < end and len(s.chip.stats()["resets"]) == resets_before:
            s.run_until(s.now_ns + 20 * MS)
        resets = s.chip.stats()["resets"]
        flush_feeds = s.chip.observations(take=True)["feeds"]  # the feeds up to a reset, if one came
        if len(resets) > resets_before:
            progress("silicon: the settings flush reset the chip (%s at %.3f s)" % (resets[-1][1], resets[-1][0] / 1e9))
        feeds = sorted(feeds_steady + flush_feeds)
        figs["silicon.wdt_margin_ms_min_stress"] = wdt_margin_ms(stress_feeds)
        margins = [wdt_margin_ms(part) for part in (feeds_steady, stress_feeds)]
        reset_at = resets[resets_before][0] if len(resets) > resets_before else None
        margins.append(wdt_margin_ms(flush_feeds, reset_at))
        figs["silicon.wdt_margin_ms_min"] = min(margins)
        expired = [(ns, c) for ns, c in resets[1:] if c == "watchdog"]
        figs["silicon.wdt_expiries_stress"] = sum(1 for ns, _c in expired if t_stress <= ns < t_flush_start)
        figs["silicon.wdt_expiries_flush"] = sum(1 for ns, _c in expired if ns >= t_flush_start)
        if expired:  # a feed came too late: no time was left (the observer went with the old chip)
            figs["silicon.wdt_margin_ms_min"] = 0.0
            if any(t_stress <= ns < t_flush_start for ns, _c in expired):
                figs["silicon.wdt_margin_ms_min_stress"] = 0.0
            progress("silicon: watchdog expiries at " + ", ".join("%.3f s" % (ns / 1e9) for ns, _c in expired)
                     + " (stress phase %.3f..%.3f s, flush at %.3f s)" % (t_stress / 1e9, t_flush_start / 1e9,
                                                                         t_flush / 1e9))
        figs["silicon.wdt_feeds"] = len(feeds)
        figs["silicon.flush_at_ms"] = round(t_flush / MS, 1)
        stretches = [(st, ns) for st, ns in obs["stretches"] if t0 <= st < t1]
        ticks = window_worst(stretches, t0)
        loops = window_busy(stretches, t0)
        gaps = [b[0] - (a[0] + a[1]) for a, b in itertools.pairwise(stretches)]
        loop = [st for st, ns in stretches if ns >= 0.5 * (ticks[len(ticks) // 2] if ticks else 0)]
        loop_gaps = [b - a for a, b in itertools.pairwise(loop)]
        figs.update({
            "silicon.heap_live_bytes_max": max(live),
            # While + is held: the mean from the second read on (the first 150 ms after the start press
            # hold the RUNNING screen's one-off rebuild), and the worst 150 ms window including it.
            "silicon.alloc_bytes_per_tick_ramp": round(_alloc_per_tick_mean(ramp[1:], per_read), 1),
            "silicon.alloc_bytes_per_tick_ramp_window_max": round(_alloc_per_tick(ramp, per_read), 1),
            "silicon.alloc_bytes_per_tick_steady": round(_alloc_per_tick(steady, per_read), 1),
            "silicon.gc_in_masked_window": obs["gc_in_masked"],
            "silicon.masked_us_max": round(obs["masked_max_ns"] / 1000, 1),
            "silicon.tick_us_p50": round(statistics.median(ticks) / 1000, 1) if ticks else 0,
            "silicon.tick_us_max": round(max(ticks) / 1000, 1) if ticks else 0,
            "silicon.loop_busy_us_max": round(max(loops) / 1000, 1) if loops else 0,
            "silicon.cpu_busy_pct_mean": round(statistics.fmean(busy), 2),
            "silicon.cpu_busy_pct_max": round(max(busy), 2),
            "silicon.loop_gap_ms_max": round(max(loop_gaps, default=0) / MS, 2),
            "silicon.idle_gap_ms_max": round(max(gaps, default=0) / MS, 2),
            "silicon.gc_collect_ms_max": round(gc_ns / MS, 2),
            "silicon.unexpected_resets": len(s.chip.stats()["resets"]) - 1,
        })
    return figs


HELD_PLUS_S = 6


def _held_plus(progress: Callable[[str], None]) -> dict[str, Any]:
    """The loop passes while a trainer holds + (no console traffic): the panel steps a held button,
    + repeats, the levels ramp towards the set point and the screen follows every 0.1 mA. The
    steady figures leave this out; it is where a running pass is longest."""
    with SiliconSession(STIM4, out=progress) as s:
        s.key(True)
        if s.run_until_text(b'"status": "READY"', 5_000 * MS) is None:
            raise RuntimeError("the firmware did not reach READY: %r" % s.lines[-3:])
        s.run_until(s.now_ns + 500 * MS)
        s.button("start_pause", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("start_pause", False)
        s.button("plus", True)
        s.run_until(s.now_ns + 1_000 * MS)  # the start's own passes (RUNNING screen, trains armed) left out
        s.chip.observe(stretches=True)
        t0 = s.now_ns
        st0 = s.chip.stats()
        s.run_until(t0 + HELD_PLUS_S * 1_000 * MS)
        st1 = s.chip.stats()
        obs = s.chip.observations(take=True)
        s.button("plus", False)
        status = [t for _ns, t in s.lines if '"status": ' in t]
        if not status or '"status": "RUNNING"' not in status[-1]:
            raise RuntimeError("the held + session was not running at its end: %r" % status[-2:])
    stretches = [(st, ns) for st, ns in obs["stretches"] if st >= t0]
    ticks = window_worst(stretches, t0)
    loops = window_busy(stretches, t0)
    busy = (st1["busy_ns"] - st0["busy_ns"]) / (st1["now_ns"] - st0["now_ns"]) * 100
    return {
        "silicon.tick_us_p50_held_plus": round(statistics.median(ticks) / 1000, 1) if ticks else 0,
        "silicon.tick_us_max_held_plus": round(max(ticks) / 1000, 1) if ticks else 0,
        "silicon.loop_busy_us_max_held_plus": round(max(loops) / 1000, 1) if loops else 0,
        "silicon.cpu_busy_pct_held_plus": round(busy, 2),
    }


def _programs(progress: Callable[[str], None]) -> dict[str, Any]:
    import sys

    fw = str(REPO / "firmware")
    if fw not in sys.path:
        sys.path.insert(0, fw)
    from stim import programs as fw_programs

    progs = fw_programs.builtins(4)
    freq_err = 0.0
    width_err = 0.0
    with SiliconSession(STIM4, out=progress, flash_timing="zero") as s:  # as in _kill: program presses
        s.key(True)
        if s.run_until_text(b'"status": "READY"', 5_000 * MS) is None:
            raise RuntimeError("the firmware did not reach READY")
        pin_a = s.board.channels[0].pulse_a
        for prog in progs[:PROGRAMS]:
            s.button("start_pause", True)
            s.run_until(s.now_ns + 60 * MS)
            s.button("start_pause", False)
            s.button("plus", True)
            s.chip.pins.clear()
            s.run_until(s.now_ns + 1_200 * MS)
            rises = [ns for ns, g, lv in s.chip.pins if g == pin_a and lv == 1]
            falls = [ns for ns, g, lv in s.chip.pins if g == pin_a and lv != 1]
            widths = [next((f for f in falls if f > r), r) - r for r in rises]
            want_period = 1e9 / prog.freq_hz
            periods = [b - a for a, b in itertools.pairwise(rises) if b - a < 1.5 * want_period]
            if periods:
                freq = 1e9 / statistics.median(periods)
                freq_err = max(freq_err, abs(freq - prog.freq_hz) / prog.freq_hz * 100)
            if widths:
                width_err = max(width_err, *(abs(w / 1000 - prog.width_us) for w in widths if w > 0))
            progress("silicon programs: %s: %d pulses, period %s ns" % (
                prog.name, len(rises), statistics.median(periods) if periods else "-"))
            s.button("plus", False)
            s.send_line('{"cmd": "stop"}')
            s.run_until(s.now_ns + 100 * MS)
            s.button("program", True)  # the next built-in program
            s.run_until(s.now_ns + 100 * MS)
            s.button("program", False)
            s.run_until(s.now_ns + 100 * MS)
    return {"silicon.freq_error_pct_max": round(freq_err, 4), "silicon.width_error_us_max": round(width_err, 3)}


def measure_all(progress: Callable[[str], None], edges: int = KILL_EDGES) -> dict[str, Any]:
    figs: dict[str, Any] = {}
    pcs = _gc_pcs(progress)
    figs.update(_steady(progress, pcs))
    progress("silicon: a session with + held for %d s (the loop's longest passes)" % HELD_PLUS_S)
    figs.update(_held_plus(progress))
    figs.update(module_heap(progress))
    figs.update(_programs(progress))
    progress("silicon: the pulse engine's shapes (gaps, both leads) from the pin trace")
    figs.update(silicon_pulse.measure(progress))
    progress("silicon: a running loop pass by part (the calibration of the model's tick, fakehw.pycost)")
    figs.update(tick_parts(progress))
    progress("silicon: the watchdog with the flash at its worst-case times")
    worst = flash_worst(progress)
    figs["silicon.unexpected_resets"] += worst.pop("silicon.wdt_unexpected_resets_worst_flash")
    figs.update(worst)
    progress("silicon: the watchdog through %d sessions, until the session log rotates" % ROTATION_SESSIONS)
    rot = log_rotation(progress)
    figs["silicon.unexpected_resets"] += rot.pop("silicon.rotation_unexpected_resets")
    figs.update(rot)
    figs["silicon.wdt_margin_ms_min"] = min(figs["silicon.wdt_margin_ms_min"],
                                            figs["silicon.wdt_margin_ms_min_worst_flash"],
                                            figs["silicon.wdt_margin_ms_min_rotation"])
    probe_s = heap_probe_s()
    progress("silicon: the live heap through a %g s session with console traffic (about as long in wall time;"
             " $PICOSTIM_SILICON_HEAP_PROBE_S)" % probe_s)
    heap = heap_probe(progress, probe_s)
    figs["silicon.unexpected_resets"] += heap["silicon.heap_probe_resets"]
    figs["silicon.heap_live_bytes_max"] = max(figs["silicon.heap_live_bytes_max"],
                                              heap["silicon.heap_probe_live_bytes_max"])
    figs.update(heap)
    progress("silicon kill: %d stopping edges" % edges)
    kill = kill_figures(progress, edges)
    figs["silicon.unexpected_resets"] += kill.pop("silicon.kill_unexpected_resets")
    figs["silicon.masked_us_max"] = max(figs["silicon.masked_us_max"], kill.pop("silicon.kill_masked_us_max"))
    figs.update(kill)
    from picostim import safetycheck

    progress("silicon kill, stim4 with an MCP4728: %d stopping edges" % MCP_EDGES)
    tag = "_mcp4728"
    kill = kill_figures(progress, MCP_EDGES, str(safetycheck.board_files()["stim4_mcp4728"]), tag)
    figs["silicon.unexpected_resets"] += kill.pop("silicon.kill_unexpected_resets" + tag)
    figs["silicon.masked_us_max" + tag] = kill.pop("silicon.kill_masked_us_max" + tag)
    figs.update(kill)
    return figs


def measure(progress: Callable[[str], None]) -> dict[str, Any]:
    return measure_all(progress)
