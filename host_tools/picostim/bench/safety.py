"""Safety figures (`make bench`): random sequences through the real firmware, the kill path, the tick.

Every figure comes from the RP2040 model or the MicroPython VM, never from the firmware's own
bookkeeping:

    safety.sequences        random sequences run: boot (ticks at 0 or just before their 2**30
                            wrap), then key, e-stop, button gestures, console STOP/SET_LIMIT, sense
                            (connected, open, shorted electrodes), broken wires, hung loops,
                            watchdog resets, power cuts and time, on stim4, pico_bench and stim4
                            with an MCP4728 (picostim.safetycheck.random_sequence)
    safety.steps            checks made (one after every step of every sequence)
    safety.violations       invariant violations picostim.safetycheck.SafetyChecker found: must be 0
    kill.latency_model_us   worst time, in model time, from a key-removal or e-stop edge to every
                            stim pin parked low, over edges placed across the whole tick, including
                            inside the tick's IRQs-held-back output section (stim4, four channels on),
                            on the model calibrated against silicon (fakehw.clock.PYTHON_COST: the
                            Python of the held-back section and of the hard IRQ's entry)
    kill.latency_model_uncalibrated_us
                            the same on the model without that Python cost (each hardware call 2 us,
                            the Python between calls free: the model before issue 11 item 6)
    kill.alloc_bytes        bytes KillPath.fire allocates on the MicroPython VM: 0 when it runs inside
                            micropython.heap_lock() (otherwise what gc counts for one call)
    tick.alloc_bytes        the same for one steady Controller.tick while RUNNING, levels ramping
    tick.us_micropython     median wall time of that tick on the MicroPython *unix* VM, with the
                            model's Python machine stand-ins under it: not an RP2040 figure
    tick.model_us_p50 / _max
                            model time of each main-loop pass (wake from one sleep to the next
                            sleep: tick, console, display) over LOOP_STEADY_S of a running session on
                            stim4, four channels on, with the loop's Python charged as calibrated
                            against silicon (fakehw.pycost, fakehw.clock.PYTHON_COST "tick_*"); the
                            silicon bench's twins are silicon.tick_us_p50 / _max;
                            tick.model_us_p50_uncalibrated: the same with Python free
    tick.model_busy_pct_mean
                            the share of that time the firmware was not asleep (silicon's twin:
                            silicon.cpu_busy_pct_mean)

The sequences run in worker processes (one per core, at most 4), with progress on stderr.
"""

import atexit
import itertools
import json
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

from picostim.bench import workers
from picostim.bench.passes import window_worst

SEQUENCES = 50_000
CHUNK = 500  # sequences per task
SEED = 20_240_404
KILL_TRIALS = 300
VM_TICKS = 200
LOOP_STEADY_S = 2.0  # model seconds of a running session timed by measure_model_loop

REPO = Path(__file__).resolve().parents[3]
BOARD_WEIGHTS = (("stim4", 2), ("pico_bench", 1), ("stim4_mcp4728", 1))

_RIGS: "dict[str, Any]" = {}  # per worker process, reused by every chunk it runs


def run_chunk(seed: int, n: int) -> "tuple[int, int, int, list[str]]":
    """n random sequences from seed in this process: (sequences, steps, violations, first violations)."""
    from picostim import safetycheck as sc

    files = sc.board_files()
    if not _RIGS:
        atexit.register(close_rigs)  # the worker's runners and their flash directories
        for name, _w in BOARD_WEIGHTS:
            _RIGS[name] = sc.Rig(files[name])
    names = [name for name, w in BOARD_WEIGHTS for _ in range(w)]
    rng = random.Random(seed)
    before = {k: (r.sequences, r.steps, len(r.violations)) for k, r in _RIGS.items()}
    for _ in range(n):
        rig = _RIGS[rng.choice(names)]
        sc.random_sequence(rig, rng)
        rig.finish()
    seqs = steps = bad = 0
    texts: list[str] = []
    for k, r in _RIGS.items():
        s0, st0, v0 = before[k]
        seqs += r.sequences - s0
        steps += r.steps - st0
        bad += len(r.violations) - v0
        texts.extend("%s: %r" % (k, v) for v in r.violations[v0:v0 + 3])
    return seqs, steps, bad, texts


def close_rigs() -> None:
    for r in _RIGS.values():
        r.close()
    _RIGS.clear()


def _workers() -> int:
    return workers(4)


def _stderr(msg: str) -> None:
    print("  ... " + msg, file=sys.stderr, flush=True)


def measure_sequences(total: int = SEQUENCES, workers: int = 0) -> "tuple[int, int, int, list[str]]":
    n = workers or _workers()
    chunks = [CHUNK] * (total // CHUNK) + ([total % CHUNK] if total % CHUNK else [])
    _stderr("safety: %d random sequences on %d worker(s)" % (total, n))
    t0 = time.monotonic()
    seqs = steps = bad = 0
    texts: list[str] = []
    with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as ex:
        futs = [ex.submit(run_chunk, SEED + i, c) for i, c in enumerate(chunks)]
        for fut in as_completed(futs):
            s, st, b, tx = fut.result()
            seqs += s
            steps += st
            bad += b
            texts.extend(tx)
            _stderr("safety: %d/%d sequences, %d steps, %d violations, %.0f s"
                    % (seqs, total, steps, bad, time.monotonic() - t0))
    for t in texts[:10]:
        _stderr("safety violation: " + t)
    return seqs, steps, bad, texts


def measure_kill_latency(trials: int = KILL_TRIALS, calibrated: "bool | None" = None) -> float:
    """Worst model time (us) from a key-out or e-stop edge to every stim pin parked (SIO, low).

    calibrated: charge the Python cost of fakehw.clock.PYTHON_COST (True), or not (False); None:
    as fakehw.clock.CALIBRATED says."""
    from picostim import safetycheck as sc
    from picostim.fakehw import chip as fchip
    from picostim.fakehw import clock as fclock

    saved = fclock.CALIBRATED
    if calibrated is not None:
        fclock.CALIBRATED = calibrated
    try:
        rig = sc.Rig(sc.STIM4)  # its Clock takes the cost settings now
    finally:
        fclock.CALIBRATED = saved
    pins = rig.board.stim_pins()
    rng = random.Random(SEED)
    worst = 0
    active = 0  # stim pins that were pulsing at an edge
    masked = [0]  # edges that came while the tick held IRQs back
    try:
        rig.new_sequence(key=True)
        rig.wait(100)
        rig.press("program")  # tens_conventional: every channel in use
        rig.wait(50)
        for trial in range(trials):
            if trial % 4 != 3:
                rig.press("start_pause")
                for _ in range(3):
                    rig.press("plus", 45, 45)  # released 45 ms: a release shorter than debounce + a tick may not count
                rig.wait(300)
            # Edges across the whole tick: a quarter at the start of the tick's output section, where
            # IRQs are held back (the kill waits for the section to end); a quarter there in the tick
            # that starts the pulse trains (the longest section: DMA set-up on every channel); a
            # quarter in the tick's first 400 us; a quarter anywhere in the tick period.
            estop = trial % 5 >= 3
            edge = [-1]

            def act(estop: bool = estop, edge: "list[int]" = edge) -> bool:
                edge[0] = rig.now_ns
                masked[0] += rig.chip.irq_masked
                if estop:
                    rig.estop(True)
                else:
                    rig.key(False)
                return True

            def at_start(act: "Callable[[], bool]" = act) -> bool:
                # Staging only (never a measurement): wait for the tick whose commit starts the trains
                # (channels prepared, about to go live).
                ctl = rig.controller
                if ctl is None or not ctl.outputs._pending:
                    return False
                return act()

            where = trial % 4
            if where == 3:
                rig.press("start_pause")
                rig.during_masked(at_start)
                for _ in range(3):
                    rig.press("plus", 45, 45)  # released 45 ms: a release shorter than debounce + a tick may not count
                rig.wait(300)
            elif where == 0:
                rig.during_masked(act)
            elif where == 1:
                rig.during_next_tick(act, rng.randrange(0, 400_000))
            else:
                rig.runner.run_until(rig.now_ns + rng.randrange(0, sc.TICK_NS))
                act()
            rig.wait(12)
            t_edge = edge[0]
            if t_edge < 0:
                raise RuntimeError("the edge of trial %d never came" % trial)
            lat = 0
            for p in pins:
                hist = rig.chip.gpio[p].history
                before = [h for h in hist if h[0] < t_edge]
                after = [h for h in hist if h[0] >= t_edge]
                pwm = [i for i, h in enumerate(after) if h[1] in (fchip._PWM, fchip._PIO)]
                if not pwm and (not before or before[-1][1] not in (fchip._PWM, fchip._PIO)):
                    continue  # this channel did not pulse at or after the edge
                rest = after[pwm[-1] + 1:] if pwm else after
                if not rest or rig.chip.level(p) or rig.chip.gpio[p].funcsel != fchip.FUNC_SIO:
                    raise RuntimeError("GPIO %d not parked low after the kill (trial %d)" % (p, trial))
                lat = max(lat, rest[0][0] - t_edge)  # from the edge until it was parked for good
                active += 1
            worst = max(worst, lat)
            if estop:
                rig.estop(False)
                rig.key(False)
                rig.wait(20)
            rig.key(True)
            rig.wait(80)
            rig.chip.forget_before(rig.now_ns - 10 * sc.MS)
        if rig.violations:
            raise RuntimeError("the kill-latency runs broke an invariant: %r" % rig.violations[:3])
        if active < trials or masked[0] < trials // 2:
            raise RuntimeError("only %d pulsing pins met an edge in %d trials, %d while IRQs were held back"
                               % (active, trials, masked[0]))
    finally:
        rig.close()
    return worst / 1000


VM_SCRIPT = r"""
import gc
import sys
import time

REPO = %(repo)r
for p in (REPO + "/host_tools", REPO + "/firmware"):
    sys.path.insert(0, p)
import micropython
from picostim.consolerig import Rig
from stim import supervisor as sv

rig = Rig()
rig.ready()


def tap(name):
    rig.button(name, True)
    rig.tick(5)
    rig.button(name, False)
    rig.tick(5)
    rig.chip.forget_before(rig.chip.clock.now_ns())


tap("start_pause")
for _ in range(8):
    tap("plus")
ctl = rig.ctl
clock = rig.chip.clock
now = [0]


def one_tick():
    ctl.tick(now[0])


def alloc_bytes(fn):
    micropython.heap_lock()
    try:
        fn()
        ok = True
    except MemoryError:
        ok = False
    micropython.heap_unlock()
    if ok:
        return 0
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    fn()
    b = gc.mem_alloc()
    gc.enable()
    return b - a


times = []
tick_alloc = 0
level0 = ctl.sup.level_ua[0]
for i in range(%(ticks)d):
    clock.advance(10000000)
    now[0] = clock.ticks_ms()
    if i %% 2:
        t0 = time.ticks_us()
        one_tick()
        times.append(time.ticks_diff(time.ticks_us(), t0))
    else:
        tick_alloc = max(tick_alloc, alloc_bytes(one_tick))
    if i %% 20 == 19:
        rig.chip.forget_before(clock.now_ns())
running = ctl.sup.state == sv.RUNNING and ctl.error is None and ctl.sup.level_ua[0] > level0
kill_alloc = alloc_bytes(ctl.kill.fire)
times.sort()
print("SAFETYVM " + '{"tick_alloc": %%d, "kill_alloc": %%d, "tick_us": %%d, "running": %%d}'
      %% (tick_alloc, kill_alloc, times[len(times) // 2], 1 if running else 0))
"""


def measure_vm() -> "dict[str, int]":
    """Run VM_SCRIPT on the MicroPython unix VM; its figures."""
    exe = Path(sys.executable).parent / "micropython"
    script = VM_SCRIPT % {"repo": str(REPO), "ticks": VM_TICKS}
    p = subprocess.run([str(exe), "-c", script], cwd=REPO, capture_output=True, text=True, check=False, timeout=600)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("SAFETYVM ")), None)
    if p.returncode != 0 or line is None:
        raise RuntimeError("the MicroPython VM run failed:\n" + p.stdout[-2000:] + p.stderr[-2000:])
    d: dict[str, int] = json.loads(line[len("SAFETYVM "):])
    if not d["running"]:
        raise RuntimeError("the VM's controller was not running with its levels ramping: " + line)
    return d


def measure_model_loop(calibrated: "bool | None" = None, steady_s: float = LOOP_STEADY_S) -> "dict[str, float]":
    """The model's main loop in a running session on stim4, as the silicon bench times its own:
    each loop pass's busy time (the longest stretch from the wake of one sleep to the start of the
    next in each 10 ms: the tick's, or the console's and the display's), and the share of each
    10 ms the firmware is not asleep. calibrated as measure_kill_latency's (the charges of
    fakehw.pycost come with it)."""
    import statistics

    from picostim import safetycheck as sc
    from picostim.fakehw import clock as fclock

    saved = fclock.CALIBRATED
    if calibrated is not None:
        fclock.CALIBRATED = calibrated
    try:
        rig = sc.Rig(sc.STIM4)
    finally:
        fclock.CALIBRATED = saved
    try:
        rig.new_sequence(key=True)
        rig.wait(600)
        # As the silicon bench's steady session (bench/silicon.py _steady): the board's first program,
        # started from the panel, + held for 0.9 s, then 0.3 s to settle before the measured window.
        rig.press("start_pause", 100, 0)
        rig.press("plus", 900, 300)
        clock = rig.chip.clock
        sleeps: list[tuple[int, int]] = []
        clock.sleeps = sleeps
        t0 = clock.now_ns()
        rig.wait(round(steady_s * 1000))
        t1 = clock.now_ns()
        clock.sleeps = None
        oe = rig.board.outputs.output_enable
        if rig.chip.level(oe.pin) != oe.active_level:
            raise RuntimeError("model loop bench: the session was not running")
    finally:
        rig.close()
    stretches = [(a[1], b[0] - a[1]) for a, b in itertools.pairwise(sleeps)]  # wake to the next sleep
    passes = window_worst(stretches, t0)
    slept = sum(b - a for a, b in sleeps)
    if len(passes) < steady_s * 50:
        raise RuntimeError("model loop bench: %d loop passes in %g s" % (len(passes), steady_s))
    return {"tick.model_us_p50": round(statistics.median(passes) / 1000, 1),
            "tick.model_us_max": round(max(passes) / 1000, 1),
            "tick.model_busy_pct_mean": round((1 - slept / (t1 - t0)) * 100, 2)}


def measure(progress: Callable[[str], None], sequences: int = SEQUENCES) -> "dict[str, float | int]":
    progress("MicroPython VM: heap_lock proofs and tick time")
    vm = measure_vm()
    progress("the model's main loop in a running session: busy time of each pass")
    loop = measure_model_loop(calibrated=True)
    loop_raw = measure_model_loop(calibrated=False)
    progress("model loop pass %.0f us (p50; %.0f us without the Python cost), busy %.1f %%"
             % (loop["tick.model_us_p50"], loop_raw["tick.model_us_p50"], loop["tick.model_busy_pct_mean"]))
    progress("kill latency: %d key/e-stop edges across the tick" % KILL_TRIALS)
    kill_us = measure_kill_latency(calibrated=True)
    progress("kill latency on the model without Python cost (uncalibrated)")
    kill_raw_us = measure_kill_latency(KILL_TRIALS // 3, calibrated=False)
    seqs, steps, bad, _texts = measure_sequences(sequences)
    return {
        "safety.sequences": seqs,
        "safety.steps": steps,
        "safety.violations": bad,
        "kill.latency_model_us": kill_us,
        "kill.latency_model_uncalibrated_us": kill_raw_us,
        "kill.alloc_bytes": vm["kill_alloc"],
        "tick.alloc_bytes": vm["tick_alloc"],
        "tick.us_micropython": vm["tick_us"],
        **loop,
        "tick.model_us_p50_uncalibrated": loop_raw["tick.model_us_p50"],
    }
