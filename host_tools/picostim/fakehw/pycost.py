"""The Python time of the firmware's control loop, charged on the model (issue 11 item 6).

The model charges each hardware call 2 us and, calibrated, the hard IRQ's entry and the held-back
commit (fakehw.clock.PYTHON_COST). The loop's own Python is the larger part on silicon: a running
tick there is about 3 ms of interpreter work between two sleeps. So that the model's loop keeps
the timing silicon has (where in the 10 ms period the inputs are read, the outputs committed, the
watchdog fed; how long a kill edge may wait for the next tick), each part of a loop pass charges
its silicon time when it is entered, as virtual time during which events (IRQs, world actions)
run at their own nanosecond, as they would between bytecodes.

The parts and the Clock.cost key each charges (its time: fakehw.clock.PYTHON_COST):

    stim.controller.Controller.tick_unguarded     tick_inputs_ns      the rest of the tick: the inputs, the
                                                             sense lines, the watchdog, the pump
    stim.panel.Panel.step                tick_panel_ns
    stim.supervisor.Supervisor.advance   tick_supervisor_ns
    stim.controller.Controller._apply    tick_apply_ns       before its commit (the masked window)
    stim.recorder.Recorder.observe       tick_recorder_ns
    stim.controller.Controller._feedback tick_feedback_ns    status LED, buzzer
    stim.console.Console.step_unguarded  tick_console_ns
    stim.hal.oled.Oled.service_unguarded tick_display_ns     its Python; the bus time is the I2C model's
    stim.supervisor.Supervisor._debounce step_full_ns        a full step's debounce, stopping conditions
                                                             and moves (a quiet step skips them)
    stim.supervisor.Supervisor._move_levels step_ramp_ns     the ramp (full steps, quiet steps that ramp)
    stim.supervisor.Supervisor._finish   step_finish_ns      the self-check and what follows it
    stim.hal.outputs.ChannelOutputs.set_ua level_set_ns      a channel whose level moved: its DAC code
    stim.controller.Controller._envelope envelope_ns         the envelope off its flat stretches
    stim.supervisor.Supervisor._sense_bounds sense_bounds_ns the sense thresholds for levels that moved

The rest of the tick is charged on its entry, so the model reads the key, e-stop and buttons up to
~1.2 ms later in the tick than silicon does (silicon reads them first and the sense lines later);
the commit, the watchdog feed and the end of the pass fall where they fall on silicon.

Only the runner's firmware (fakehw.runner.BoardRunner: boot.py and main.py as on the board) is
charged: the runner wraps these methods as it imports the firmware's modules, and a wrapped part
charges only while the firmware has the turn. Code that drives a Controller directly (unit tests,
the MicroPython VM tiers) runs free, as before. PICOSTIM_MODEL_COST=0 sets every charge to 0.
CPython only.
"""

import functools
from types import ModuleType
from typing import Any, Callable

from . import chip as _chip

PARTS: "tuple[tuple[str, str, str, str], ...]" = (
    ("stim.controller", "Controller", "tick_unguarded", "tick_inputs_ns"),
    ("stim.panel", "Panel", "step", "tick_panel_ns"),
    ("stim.supervisor", "Supervisor", "advance", "tick_supervisor_ns"),
    ("stim.controller", "Controller", "_apply", "tick_apply_ns"),
    ("stim.recorder", "Recorder", "observe", "tick_recorder_ns"),
    ("stim.controller", "Controller", "_feedback", "tick_feedback_ns"),
    ("stim.console", "Console", "step_unguarded", "tick_console_ns"),
    ("stim.hal.oled", "Oled", "service_unguarded", "tick_display_ns"),
    # What a steady tick does not run, and a ramp or an intent does (the pass's longest ticks):
    ("stim.supervisor", "Supervisor", "_debounce", "step_full_ns"),
    ("stim.supervisor", "Supervisor", "_move_levels", "step_ramp_ns"),
    ("stim.supervisor", "Supervisor", "_finish", "step_finish_ns"),
    ("stim.hal.outputs", "ChannelOutputs", "set_ua", "level_set_ns"),
    ("stim.controller", "Controller", "_envelope", "envelope_ns"),
    ("stim.supervisor", "Supervisor", "_sense_bounds", "sense_bounds_ns"),
)
# The parts every running tick enters (the rest run only where a level moves or an intent acts).
STEADY_KEYS = tuple(p[3] for p in PARTS if p[3].startswith("tick_"))
_MODULES = {p[0] for p in PARTS}

# True while the runner's firmware has the turn (fakehw.runner sets it as it enters and leaves the
# firmware's world): a host thread reading the firmware's objects never moves the clock.
firmware_turn = [False]


def _charged(fn: "Callable[..., Any]", key: str) -> "Callable[..., Any]":
    @functools.wraps(fn)
    def part(*args: Any, **kw: Any) -> Any:
        if firmware_turn[0]:
            clock = _chip.current().clock
            ns = clock.cost.get(key, 0)
            if ns:
                clock.advance(ns)
        return fn(*args, **kw)

    part.charged_key = key  # type: ignore[attr-defined]
    return part


def wrap_module(module: ModuleType) -> None:
    """Make the loop parts this firmware module defines charge their time (see PARTS)."""
    if module.__name__ not in _MODULES:
        return
    for mod, cls_name, meth, key in PARTS:
        if mod != module.__name__:
            continue
        cls = getattr(module, cls_name, None)
        fn = cls.__dict__.get(meth) if cls is not None else None
        if fn is None or hasattr(fn, "charged_key"):
            raise RuntimeError("fakehw.pycost: %s.%s.%s is not there to charge" % (mod, cls_name, meth))
        setattr(cls, meth, _charged(fn, key))
