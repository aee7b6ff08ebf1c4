"""Where a running loop pass spends its time on silicon: the calibration of the model's tick charges.

fakehw.pycost charges each part of the main loop the Python time silicon takes for it
(fakehw.clock.PYTHON_COST "tick_*"). This session measures those parts on the emulated chip: it
boots the deployed firmware to the maintenance REPL, soft-resets to a fresh heap, wraps each part
with time.ticks_us() around it, and runs the firmware's own app.main() from there. The world keys
in, starts a session from the panel on the four-channel program and raises the levels; once the
session runs steady, each wrapper records PASSES passes and the firmware prints the medians.

    silicon.tick_part_us_<part>   median us of each part per running pass, less the wrapper's own
                                  time (timed around an empty method the same way): inputs is the
                                  rest of Controller.tick_unguarded outside the other tick parts (key,
                                  e-stop, buttons and sense reads, the watchdog, the charge pump)
    silicon.ramp_part_us_<part>   median us of each call of a part a steady tick does not run and a
                                  ramp or an intent does (RAMP_PARTS), over the session's first
                                  PASSES calls of each from the start (the start, + held for 1 s:
                                  the levels and the envelope ramp), less the wrapper's own time
"""

import json
from collections.abc import Callable
from typing import Any

from picostim.silicon.repl import RawRepl
from picostim.silicon.session import SiliconSession

from .silicon_kill import MS, STIM4

PASSES = 100
SKIP = 200  # running passes before the measured ones: + held for 1 s, then the levels settle
# (module, class, method, part name); the same parts fakehw.pycost charges, and the console.
PARTS = (
    ("stim.controller", "Controller", "tick_unguarded", "tick"),
    ("stim.panel", "Panel", "step", "panel"),
    ("stim.supervisor", "Supervisor", "advance", "supervisor"),
    ("stim.controller", "Controller", "_apply", "apply"),
    ("stim.recorder", "Recorder", "observe", "recorder"),
    ("stim.controller", "Controller", "_feedback", "feedback"),
    ("stim.hal.oled", "Oled", "service_unguarded", "display"),
    ("stim.console", "Console", "step_unguarded", "console"),
)
# Parts a steady tick does not run: the supervisor's full step (debounce, stopping conditions,
# moves), the ramp and the self-check, a channel whose level moved (and its PWM DAC code, where the
# code changed), the envelope off its flat stretches, the sense thresholds for new levels
# (fakehw.pycost charges them where they run).
RAMP_PARTS = (
    ("stim.supervisor", "Supervisor", "_debounce", "debounce"),
    ("stim.supervisor", "Supervisor", "_stop_conditions", "stop_conditions"),
    ("stim.supervisor", "Supervisor", "_moves", "moves"),
    ("stim.supervisor", "Supervisor", "_move_levels", "move_levels"),
    ("stim.supervisor", "Supervisor", "_finish", "finish"),
    ("stim.hal.outputs", "ChannelOutputs", "set_ua", "set_ua"),
    ("stim.hal.dac", "PwmDac", "set_code", "dac_code"),
    ("stim.controller", "Controller", "_envelope", "envelope"),
    ("stim.supervisor", "Supervisor", "_sense_bounds", "sense_bounds"),
)

# Run on the board: wrappers that time each part into preallocated arrays while a session runs
# (the tick's wrapper opens the pass; nothing is kept outside RUNNING), then print the medians.
_SETUP = """import time, array, sys
PASSES = %(passes)d
NAMES = %(names)r
RNAMES = %(rnames)r
T = [array.array('l', [0] * PASSES) for _ in NAMES]
N = [0] * len(NAMES)
TR = [array.array('l', [0] * PASSES) for _ in RNAMES]
NR = [0] * len(RNAMES)
ON = [False]
R = [0]
def _med(names, t, n):
    med = {}
    for j in range(len(names)):
        v = sorted(t[j][:n[j]])
        med[names[j]] = v[len(v) // 2] if v else -1
    return med
def _timed(i, f, opens=False):
    def w(*a):
        if opens:
            run = a[0].sup.state == 2
            R[0] = R[0] + 1 if run else 0
            ON[0] = run and R[0] > %(skip)d and N[0] < PASSES
        t = time.ticks_us()
        r = f(*a)
        d = time.ticks_diff(time.ticks_us(), t)
        if ON[0] and N[i] < PASSES:
            T[i][N[i]] = d
            N[i] += 1
            if i == 0 and N[0] == PASSES:
                print('RAMPPARTS ' + repr(_med(RNAMES, TR, NR)).replace("'", '"'))
                print('PARTS ' + repr(_med(NAMES, T, N)).replace("'", '"'))
        return r
    return w
def _timed_ramp(i, f):
    def w(*a):
        t = time.ticks_us()
        r = f(*a)
        d = time.ticks_diff(time.ticks_us(), t)
        if R[0] > 0 and NR[i] < PASSES:  # from the session's start (the tick's wrapper counts R)
            TR[i][NR[i]] = d
            NR[i] += 1
        return r
    return w
class _Empty:
    def m(self):
        pass
_e = _Empty()
_w = _timed(len(NAMES) - 1, _Empty.m)
import json
%(wraps)s
"""


def tick_parts(progress: Callable[[str], None]) -> dict[str, Any]:
    names = [p[3] for p in PARTS] + ["wrapper"]
    wraps = []
    for i, (mod, cls, meth, _name) in enumerate(PARTS):
        wraps.append("import %s as _m%d\n_m%d.%s.%s = _timed(%d, _m%d.%s.%s%s)"
                     % (mod, i, i, cls, meth, i, i, cls, meth, ", True" if i == 0 else ""))
    for i, (mod, cls, meth, _name) in enumerate(RAMP_PARTS):
        wraps.append("import %s as _r%d\n_r%d.%s.%s = _timed_ramp(%d, _r%d.%s.%s)"
                     % (mod, i, i, cls, meth, i, i, cls, meth))
    setup = _SETUP % {"passes": PASSES, "skip": SKIP, "names": names, "rnames": [p[3] for p in RAMP_PARTS],
                      "wraps": "\n".join(wraps)}
    with SiliconSession(STIM4, out=progress, flash_timing="zero") as s:
        s.chip.keep_pins = False
        s.chip.request("trace", mask=0)
        s.button("program", True)  # maintenance: main.py returns to the REPL
        if s.run_until_text(b"MAINTENANCE", 5_000 * MS) is None:
            raise RuntimeError("no maintenance REPL: %r" % s.lines[-3:])
        s.button("program", False)
        repl = RawRepl(s.chip)
        repl.enter()
        s.chip.write(b"\x04")  # soft reset: a fresh heap, boot.py again, main.py not
        s.chip.run_for(300 * MS)
        s.chip.read_new()
        repl.enter()
        repl.exec(setup, 20_000 * MS)
        # The wrapper's own time, measured the same way, outside the session (ON is forced here).
        repl.exec("ON[0] = True\nfor _ in range(PASSES):\n    _w(_e)\nON[0] = False")
        s.key(True)
        s.chip.write(b"from stim import app\napp.main()\x04")  # the firmware's loop from here on
        if s.run_until_text(b'"status": "READY"', 5_000 * MS) is None:
            raise RuntimeError("the firmware did not reach READY from the REPL: %r" % s.lines[-3:])
        s.button("program", True)  # the next program: tens_conventional, every channel in use
        s.run_until(s.now_ns + 100 * MS)
        s.button("program", False)
        s.run_until(s.now_ns + 300 * MS)
        s.button("start_pause", True)
        s.run_until(s.now_ns + 100 * MS)
        s.button("start_pause", False)
        s.button("plus", True)
        s.run_until(s.now_ns + 1_000 * MS)
        s.button("plus", False)
        line = None
        end = s.now_ns + (SKIP + PASSES + 300) * 10 * MS
        while line is None and s.now_ns < end:
            s.run_until(s.now_ns + 100 * MS)
            line = next((t for _ns, t in s.lines if t.startswith("PARTS ")), None)
        resets = s.chip.stats()["resets"][1:]
        if line is None or resets:
            raise RuntimeError("the firmware printed no part times: %r, resets %r" % (s.lines[-3:], resets))
    med: dict[str, int] = json.loads(line[len("PARTS "):])
    ramp_line = next((t for _ns, t in s.lines if t.startswith("RAMPPARTS ")), None)
    if ramp_line is None:
        raise RuntimeError("the firmware printed no ramp part times")
    ramp: dict[str, int] = json.loads(ramp_line[len("RAMPPARTS "):])
    missing = [k for k, v in ramp.items() if v < 0]
    if missing:
        raise RuntimeError("ramp parts that never ran in the session: %r" % missing)
    over = med.pop("wrapper")
    inner = ("panel", "supervisor", "apply", "recorder", "feedback")
    figs = {"silicon.tick_part_us_" + k: max(0, v - over) for k, v in med.items() if k != "tick"}
    figs["silicon.tick_part_us_inputs"] = max(0, med["tick"] - over - sum(med[k] for k in inner))
    figs["silicon.tick_part_wrapper_us"] = over
    figs.update({"silicon.ramp_part_us_" + k: max(0, v - over) for k, v in ramp.items()})
    progress("silicon, one running loop pass by part (us, medians): "
             + ", ".join("%s %d" % (k[len("silicon.tick_part_us_"):], v) for k, v in sorted(figs.items())
                         if k.startswith("silicon.tick_part_us_")))
    return figs
