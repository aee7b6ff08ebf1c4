"""The guard's property search catches every rule of stim.doseguard, removed one at a time.

Each mutant replaces one rule function with one that never refuses or never
lowers; the random sequences of picostim.guardcheck (fixed seed, stop at the
first violation) must then report a violation of the invariant that rule exists for.
"""

from typing import Any

import pytest
from picostim import guardcheck

MAX_SEQUENCES = 2_000

_recovery = guardcheck.doseguard._recovery

MUTANTS: "dict[str, tuple[dict[str, Any], str]]" = {
    "screening": ({"_screening": lambda pol, prof: None}, "never screened"),
    "recovery": ({"_recovery": lambda pol, prof, now: None}, "recovery interval"),
    "unknown clock as long enough": ({"_recovery": lambda pol, prof, now: None if now is None
                                      else _recovery(pol, prof, now)}, "interval unknown"),
    "duration": ({"_duration": lambda pol, prof, asked: asked}, "duration cap"),
    "person's limit": ({"_profile_ceiling": lambda pol, prof, ch, ua: ua}, "ceiling"),
    "novice ceiling": ({"_novice_ceiling": lambda pol, prof, ch, ua: ua}, "ceiling"),
    "rise": ({"_rise_ceiling": lambda pol, prof, ch, ua: ua}, "ceiling"),
    "override not honoured": ({"OVERRIDABLE": {k: False for k in guardcheck.doseguard.OVERRIDABLE}}, "override"),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_the_search_catches_a_removed_rule(name: str) -> None:
    mutations, expected = MUTANTS[name]
    seqs, _sessions, bad, report = guardcheck.search(3, MAX_SEQUENCES, mutations, stop_at_first=True)
    assert bad == 1, "%s removed: no violation in %d sequences" % (name, seqs)
    assert expected in report, report


def test_without_a_mutant_the_same_search_finds_nothing() -> None:
    _seqs, _sessions, bad, report = guardcheck.search(3, MAX_SEQUENCES)
    assert bad == 0, report


# The wiring (stim.guardshell and the supervisor's guard caps), broken one way at a time: the same
# search drives sessions through them (picostim.guardcheck, invariant 5).
_judge = guardcheck.GuardShell.judge
_start = guardcheck.GuardShell.start
def _start_unlogged(self: Any, sup: Any, prog: Any, now: int) -> Any:
    """START deciding as always, but with no store to hand its guard records to."""
    st = self.store
    self.store = None
    try:
        return _start(self, sup, prog, now)
    finally:
        self.store = st


WIRING: "dict[str, tuple[Any, str, Any, str]]" = {
    "the supervisor ignores the guard's caps": (guardcheck.sv.Supervisor, "set_guard",
                                                lambda self, ceilings, max_ms: True, "the supervisor's"),
    "START overrides without the gesture": (guardcheck.GuardShell, "judge",
                                            lambda self, sup, prog, pid, now, ovr: _judge(self, sup, prog, pid, now,
                                                                                          True), "allowed although"),
    "an override not logged": (guardcheck.GuardShell, "start",
                               _start_unlogged,
                               "without its override logged"),
}


@pytest.mark.parametrize("name", list(WIRING))
def test_the_search_catches_a_broken_wire(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cls, attr, fn, expected = WIRING[name]
    monkeypatch.setattr(cls, attr, fn)
    seqs, _sessions, bad, report = guardcheck.search(3, MAX_SEQUENCES, stop_at_first=True)
    assert bad == 1, "%s: no violation in %d sequences" % (name, seqs)
    assert expected in report, report
