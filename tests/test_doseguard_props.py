"""Property tests of the dose guard (stim.doseguard) with the profiles on the flash model.

The invariants, in plain words (picostim.guardcheck states and checks them):
for any sequence of days passing, clock losses and wrong settings, profile
edits, screenings, deletions, sessions asked with or without an override, and
power cuts during flash writes,
- no session is allowed that the policy refuses, unless the refusal was
  overridable, the supervisor overrode it, and the decision says so (it is logged);
- no cap is above what was asked, nor above the policy and the person's history;
- a session that no rule refuses is allowed;
- no profile and no flushed override record is lost or corrupted.
And the strictest policy (used when policy.json is bad) allows nothing that
some valid policy would refuse, and caps nothing higher.
"""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from picostim import guardcheck as gc
from stim import doseguard, policy
from stim.clients import Profile

CH = gc.CHANNELS
UA = st.integers(0, 80_000)
STEP = st.one_of(
    st.tuples(st.just("advance"), st.integers(0, 30 * gc.DAY)),
    st.tuples(st.just("clock"), st.one_of(st.none(), st.integers(-30 * gc.DAY, 30 * gc.DAY))),
    st.tuples(st.just("cut"), st.integers(0, 8)),
    st.tuples(st.just("edit"), st.integers(0, len(gc.PEOPLE) - 1), st.tuples(UA, UA)),
    st.tuples(st.just("screen"), st.integers(0, len(gc.PEOPLE) - 1), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, len(gc.PEOPLE) - 1)),
    st.tuples(st.just("session"), st.integers(0, len(gc.PEOPLE)), st.integers(0, 4000), st.tuples(UA, UA),
              st.booleans(), st.tuples(st.integers(0, 100), st.integers(0, 100)), st.integers(0, 100)),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(gc.POLICIES) - 1), st.lists(STEP, max_size=40))
def test_no_sequence_gets_a_session_outside_the_policy(pol_index: int, steps: "list[gc.Step]") -> None:
    violations, _ran = gc.run(pol_index, steps)
    assert violations == []


def test_a_fixed_seed_search_runs_sessions_and_finds_nothing() -> None:
    _seqs, sessions, bad, first = gc.search(11, 1_000)
    assert bad == 0, first
    assert sessions > 1_000  # the sequences really run sessions, not just refusals


def _fits(d: "dict[str, Any]") -> bool:
    return bool(d["novice_max_session_s"] <= d["max_session_s"])


def _valid_policy() -> "st.SearchStrategy[dict[str, Any]]":
    fields: dict[str, st.SearchStrategy[Any]] = {k: st.integers(lo, hi) for k, (lo, hi, _s) in policy.RANGES.items()}
    fields["anonymous"] = st.booleans()
    return st.fixed_dictionaries(fields).filter(_fits)


PROFILE = st.builds(lambda lim, scr, n, last, peak: Profile("C1", list(lim), None, scr, n, last, list(peak)),
                    st.tuples(UA, UA), st.one_of(st.none(), st.just(gc.T0)), st.integers(0, 30),
                    st.one_of(st.none(), st.integers(gc.T0, gc.T0 + 60 * gc.DAY)), st.tuples(UA, UA))


@settings(max_examples=500, deadline=None)
@given(_valid_policy(), st.one_of(st.none(), PROFILE), st.integers(0, 4000), st.tuples(UA, UA),
       st.one_of(st.none(), st.integers(gc.T0, gc.T0 + 90 * gc.DAY)), st.booleans())
def test_the_strictest_policy_is_stricter_than_any_valid_one(d: "dict[str, Any]", prof: "Profile | None",
                                                              dur: int, ceil: "tuple[int, int]",
                                                              now: "int | None", override: bool) -> None:
    full = dict(d)
    full["schema"] = 1
    pol = policy.validate(full)
    req = doseguard.Request("lbp", dur, list(ceil))
    strict = doseguard.decide(policy.STRICTEST, prof, req, now, override)
    other = doseguard.decide(pol, prof, req, now, override)
    if strict.allowed:
        assert other.allowed
        assert strict.max_s <= other.max_s
        for ch in range(CH):
            assert strict.ceilings_ua[ch] <= other.ceilings_ua[ch]
