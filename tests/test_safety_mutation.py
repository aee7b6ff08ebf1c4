"""The stateful safety search catches every guard the supervisor has, disabled one at a time.

Each case boots the real firmware on the model with one guard of stim.supervisor.Supervisor
monkeypatched at every boot (or the watchdog fed by a timer whatever the main loop does), runs the
random sequences of tests/test_safety_stateful.py, and requires a violation of the invariant that
guard exists for, as picostim.safetycheck sees it from the model:

- _key_guard -> True (the key is always "present"): outputs while the key is out.
- _estop_guard -> True (the e-stop always "released"): outputs after an e-stop press.
- _ramp_guard -> unlimited: an amplitude above what the ramp rate allows since the start press.
- _cap_guard -> no cap: a level above a lowered limit. _wdt_guard, the supervisor's self-check,
  catches it before it reaches the pins and latches FAULT "internal error: supervisor invariant";
  the search reports that fault. With _wdt_guard also made to pass, the pins show the level above
  the cap.
- _wdt_guard -> False (never healthy): the supervisor latches "internal error" and stops feeding,
  so a running loop is reset by the watchdog.
- the watchdog policy (a timer feeds the watchdog, not the supervisor's decision) with a hung loop:
  no reset comes, and the outputs stay on past the watchdog timeout.
- _pump_guard -> True (the charge pump toggles in every state): the output stage keeps its supply
  in SAFE, READY and FAULT.

_wdt_guard -> True on its own changes nothing the model can see, by construction: every level is
written through _cap_guard and zeroed outside RUNNING before the check runs, so the check never
fails in the real firmware; it is the backstop the _cap_guard case shows at work.

Generation only (no shrinking) and a fixed seed, so each case stops at its first violation.
"""

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location("safety_stateful", Path(__file__).with_name("test_safety_stateful.py"))
assert _spec is not None and _spec.loader is not None
stateful: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stateful)

SEED = 0
MAX_SEQUENCES = 400  # each case stops at its first violation, typically within a few dozen

MUTANTS: "dict[str, tuple[dict[str, Any], bool, str]]" = {
    # name: (Supervisor method replacements, blind watchdog feeding, what the report must show)
    "key guard": ({"_key_guard": lambda self: True}, False, "[output]"),
    "e-stop guard": ({"_estop_guard": lambda self: True}, False, "[output]"),
    "ramp guard": ({"_ramp_guard": lambda self, dt: 1 << 29}, False, "[ramp]"),
    "cap guard": ({"_cap_guard": lambda self, ch, ua: ua}, False, "internal error: supervisor invariant"),
    "cap guard and its backstop": ({"_cap_guard": lambda self, ch, ua: ua, "_wdt_guard": lambda self: True}, False,
                                   "[cap]"),
    "watchdog guard": ({"_wdt_guard": lambda self: False}, False, "[health]"),
    "watchdog policy": ({}, True, "[watchdog]"),
    "charge pump guard": ({"_pump_guard": lambda self: True}, False, "[pump]"),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_the_stateful_search_catches_a_disabled_guard(name: str) -> None:
    """With this guard disabled, some random sequence ends in an unsafe or unhealthy board."""
    mutations, blind_feed, expected = MUTANTS[name]
    seqs, _steps, report = stateful.run_share(SEED, MAX_SEQUENCES, mutations=mutations, blind_feed=blind_feed,
                                              shrink=False)
    assert report, "%s disabled: no violation in %d sequences" % (name, seqs)
    assert "SafetyViolation" in report and expected in report, report
