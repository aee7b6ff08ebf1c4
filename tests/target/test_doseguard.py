"""stim.doseguard: one test per rule, and the during-session checks allocate nothing.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from _util import heap_locked
from stim import doseguard as dg
from stim import policy
from stim.clients import Profile
from stim.doseguard import Request, decide

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

DAY = 86400
T0 = 1767225600  # 2026-01-01
POL = policy.defaults()  # 20 min, 96 h, 10 novice sessions of 10 min at 50 %, rise 20 % or 2 mA
ASK = Request("lbp", 1800, [40000, 40000])


def veteran(last: "Optional[int]" = T0, peak: int = 20000) -> Profile:
    return Profile("C1", [60000, 30000], "lbp", screened=T0 - 30 * DAY, sessions=12, last=last, peak_ua=[peak, peak])


def test_a_profile_never_screened_is_refused_and_no_override_helps() -> None:
    p = Profile("C1", [60000, 30000])
    for override in (False, True):
        d = decide(POL, p, ASK, T0, override)
        assert not d.allowed and d.reason == dg.NEVER_SCREENED and not d.overridable
        assert d.max_s == 0 and d.ceilings_ua == [0, 0]


def test_a_session_too_soon_is_refused_and_an_override_allows_it_with_every_cap() -> None:
    p = veteran()
    d = decide(POL, p, ASK, T0 + 96 * 3600 - 1)
    assert not d.allowed and d.reason == dg.TOO_SOON and d.overridable
    d = decide(POL, p, ASK, T0 + 96 * 3600 - 1, override=True)
    assert d.allowed and d.overridden and d.reason == dg.TOO_SOON
    assert d.max_s == 1200 and d.ceilings_ua == [24000, 24000]  # rise: 20000 + 20 %; profile 30000 not reached
    d = decide(POL, p, ASK, T0 + 96 * 3600)
    assert d.allowed and not d.overridden and d.reason is None


def test_an_unknown_clock_is_never_long_enough() -> None:
    d = decide(POL, veteran(), ASK, None)
    assert not d.allowed and d.reason == dg.CLOCK_UNKNOWN and d.overridable
    assert decide(POL, veteran(), ASK, None, True).allowed
    # a clock behind the last session, or a last session without a date: the same kind of refusal
    d = decide(POL, veteran(), ASK, T0 - 1)
    assert not d.allowed and d.reason == dg.CLOCK_BEHIND and d.overridable
    d = decide(POL, veteran(last=None), ASK, T0 + 30 * DAY)
    assert not d.allowed and d.reason == dg.LAST_UNKNOWN and d.overridable


def test_a_first_session_needs_no_clock() -> None:
    p = Profile("C1", [60000, 30000], screened=T0)
    d = decide(POL, p, ASK, None)
    assert d.allowed and d.reason is None


def test_the_novice_phase_is_shorter_and_gentler() -> None:
    p = Profile("C1", [60000, 30000], screened=T0, sessions=9, last=T0, peak_ua=[30000, 15000])
    d = decide(POL, p, ASK, T0 + 5 * DAY)
    assert d.allowed and d.max_s == 600  # novice_max_session_s
    assert d.ceilings_ua == [30000, 15000]  # 50 % of the person's limits
    assert dg.CAP_NOVICE in d.capped
    p.sessions = 10  # novice phase over: the policy's duration, the rise rule and the person's limit
    d = decide(POL, p, ASK, T0 + 5 * DAY)
    assert d.max_s == 1200 and d.ceilings_ua == [36000, 18000]


def test_a_ceiling_rises_at_most_by_the_policy_step_over_the_last_peak() -> None:
    p = veteran(peak=5000)
    d = decide(POL, p, ASK, T0 + 5 * DAY)
    assert d.ceilings_ua == [7000, 7000]  # 20 % of 5 mA is 1 mA, below rise_min_ua 2 mA
    p = veteran(peak=0)
    assert decide(POL, p, ASK, T0 + 5 * DAY).ceilings_ua == [2000, 2000]


def test_the_persons_limit_caps_each_channel() -> None:
    p = veteran(peak=100000)
    d = decide(POL, p, Request("lbp", 60, [80000, 80000]), T0 + 5 * DAY)
    assert d.ceilings_ua == [60000, 30000] and dg.CAP_PROFILE in d.capped and d.max_s == 60


def test_the_guard_never_raises_what_was_asked() -> None:
    p = veteran(peak=50000)
    d = decide(POL, p, Request("lbp", 100, [1000, 0]), T0 + 5 * DAY)
    assert d.allowed and d.max_s == 100 and d.ceilings_ua == [1000, 0] and d.capped == []


def test_anonymous_sessions_follow_the_policy() -> None:
    d = decide(POL, None, ASK, None)
    assert d.allowed and d.max_s == 1200 and d.ceilings_ua == [40000, 40000]
    d = decide(policy.STRICTEST, None, ASK, None)
    assert not d.allowed and d.reason == dg.NO_PROFILE and d.overridable
    d = decide(policy.STRICTEST, None, ASK, None, True)
    assert d.allowed and d.max_s == 300


def test_a_malformed_request_is_refused() -> None:
    assert decide(POL, veteran(), Request("lbp", -1, [1, 1]), T0 + 5 * DAY).reason == dg.BAD_REQUEST
    assert decide(POL, veteran(), Request("lbp", 10, [1, -1]), T0 + 5 * DAY).reason == dg.BAD_REQUEST
    assert decide(POL, veteran(), Request("lbp", 10, [1]), T0 + 5 * DAY).reason == dg.BAD_REQUEST


def test_the_during_session_checks_allocate_nothing() -> None:
    d = decide(POL, veteran(), ASK, T0 + 5 * DAY)
    out = [False, 0, False]

    def checks() -> None:
        out[0] = d.within(1_199_999)
        out[1] = d.ceiling(1)
        out[2] = d.within(1_200_000)

    locked = heap_locked(checks)
    assert out == [True, 24000, False]
    import sys

    assert locked or sys.implementation.name != "micropython"
