"""The dose guard: what a person's history allows, the single place for every rule.

decide(policy, profile, request, now_s, override) is called before START and
whenever the limits of a session change (never every tick). It returns a
Decision: allowed, with caps that are at most what was asked (max duration,
per-channel ceilings), or refused with a reason code and whether the
supervisor may override the refusal. The guard only lowers or refuses; no cap
it returns is above the request, whatever the policy or profile says.

Rules (the figures come from stim.policy; docs/clients.md cites them):

- never screened (profile.screened is None): refused, NOT overridable. The
  supervisor confirms the screening instead, which is a deliberate act of its own.
- recovery: a session sooner than policy.min_recovery_s after the person's last
  one is refused ("too-soon"). Unknown wall time (now_s None: the RTC is not
  valid), a last session without a date ("last-unknown") or a last session in
  the future ("clock-behind") is never "long enough": a refusal the supervisor
  may override.
- duration: at most policy.max_session_s; in the novice phase (the first
  policy.novice_sessions sessions) at most policy.novice_max_session_s.
- ceilings: at most the person's own limit per channel; in the novice phase at
  most novice_ceiling_pct of it; after a first session, at most the last
  session's peak plus max(rise_pct of it, rise_min_ua).
- no profile (anonymous, a bench): only the policy's duration applies, and the
  policy may refuse it ("no-profile", overridable).

An override applies only to an overridable refusal, and keeps every cap.

During a session, Decision.within(elapsed_ms) and Decision.ceiling(ch) are the
cheap checks: integers below 2**30, no allocation (tests/target proves it
under heap_lock).

Each rule is a module function of its own (_screening, _recovery, _duration,
_profile_ceiling, _novice_ceiling, _rise_ceiling) so that a test can remove one
and show the property test catches it (M09..M19 in host_tools/picostim/safetycase/mutants.toml).

Pure: no clock, no pins. Runs on MicroPython.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Sequence

NEVER_SCREENED = "never-screened"
TOO_SOON = "too-soon"
CLOCK_UNKNOWN = "clock-unknown"
CLOCK_BEHIND = "clock-behind"
LAST_UNKNOWN = "last-unknown"
NO_PROFILE = "no-profile"
BAD_REQUEST = "bad-request"
# refusal code -> whether the supervisor may override it
OVERRIDABLE = {NEVER_SCREENED: False, TOO_SOON: True, CLOCK_UNKNOWN: True, CLOCK_BEHIND: True,
               LAST_UNKNOWN: True, NO_PROFILE: True, BAD_REQUEST: False}
# what lowered a cap (Decision.capped), for the panel
CAP_POLICY = "policy"
CAP_NOVICE = "novice"
CAP_PROFILE = "profile"
CAP_RISE = "rise"


class Request:
    """What the trainer asks for: a program, its duration and a ceiling per channel (uA)."""

    def __init__(self, program: str, duration_s: int, ceilings_ua: "Sequence[int]") -> None:
        self.program = program
        self.duration_s = duration_s
        self.ceilings_ua = list(ceilings_ua)


class Decision:
    """allowed or not; reason: the refusal code (or, if allowed by an override, the code overridden).

    max_s and ceilings_ua are the caps (all 0 when refused); capped lists what lowered them.
    """

    def __init__(self, allowed: bool, reason: "Optional[str]", overridable: bool, overridden: bool,
                 max_s: int, ceilings_ua: "List[int]", capped: "List[str]") -> None:
        self.allowed = allowed
        self.reason = reason
        self.overridable = overridable
        self.overridden = overridden
        self.max_s = max_s
        self.max_ms = max_s * 1000  # below 2**30 for max_s < 12 days: a small int on the board
        self.ceilings_ua = ceilings_ua
        self.capped = capped

    def within(self, elapsed_ms: int) -> bool:
        """The session may go on at elapsed_ms. Allocation-free."""
        return bool(self.allowed and elapsed_ms < self.max_ms)

    def ceiling(self, ch: int) -> int:
        """The highest level channel ch may reach (0 when refused). Allocation-free."""
        return self.ceilings_ua[ch] if self.allowed else 0

    def __repr__(self) -> str:
        return ("Decision(allowed=%r, reason=%r, overridable=%r, overridden=%r, max_s=%d, ceilings_ua=%r, capped=%r)"
                % (self.allowed, self.reason, self.overridable, self.overridden, self.max_s, self.ceilings_ua,
                   self.capped))


def _refused(reason: str, n: int) -> Decision:
    return Decision(False, reason, OVERRIDABLE[reason], False, 0, [0] * n, [])


def _novice(policy: "Any", profile: "Any") -> bool:
    return bool(profile.sessions < policy.novice_sessions)


# -- the rules ---------------------------------------------------------------------------------
def _screening(policy: "Any", profile: "Any") -> "Optional[str]":
    return NEVER_SCREENED if profile.screened is None else None


def _recovery(policy: "Any", profile: "Any", now_s: "Optional[int]") -> "Optional[str]":
    if profile.sessions <= 0 and profile.last is None:
        return None  # no session yet: nothing to recover from
    if now_s is None:
        return CLOCK_UNKNOWN
    if profile.last is None:
        return LAST_UNKNOWN
    since = now_s - profile.last
    if since < 0:
        return CLOCK_BEHIND
    if since < policy.min_recovery_s:
        return TOO_SOON
    return None


def _duration(policy: "Any", profile: "Any", asked_s: int) -> int:
    cap = policy.max_session_s
    if profile is not None and _novice(policy, profile) and policy.novice_max_session_s < cap:
        cap = policy.novice_max_session_s
    return asked_s if asked_s < cap else cap


def _profile_ceiling(policy: "Any", profile: "Any", ch: int, ua: int) -> int:
    lim = profile.limits_ua[ch]
    return ua if ua < lim else lim


def _novice_ceiling(policy: "Any", profile: "Any", ch: int, ua: int) -> int:
    if not _novice(policy, profile):
        return ua
    lim = profile.limits_ua[ch] * policy.novice_ceiling_pct // 100
    return ua if ua < lim else lim


def _rise_ceiling(policy: "Any", profile: "Any", ch: int, ua: int) -> int:
    if profile.sessions <= 0:
        return ua  # a first session: the novice ceiling governs it
    peak = profile.peak_ua[ch]
    step = peak * policy.rise_pct // 100
    if step < policy.rise_min_ua:
        step = policy.rise_min_ua
    lim = peak + step
    return ua if ua < lim else lim


# -- the decision ------------------------------------------------------------------------------
def decide(policy: "Any", profile: "Any", request: Request, now_s: "Optional[int]",
           override: bool = False) -> Decision:
    """The guard's decision for `request` by the person of `profile` (None: anonymous) at wall time now_s.

    override: the supervisor, key in, asks to override a refusal (only an overridable one is).
    """
    n = len(request.ceilings_ua)
    if request.duration_s < 0 or (profile is not None and (len(profile.limits_ua) != n or len(profile.peak_ua) != n)):
        return _refused(BAD_REQUEST, n)
    for ua in request.ceilings_ua:
        if ua < 0:
            return _refused(BAD_REQUEST, n)
    reason: "Optional[str]" = None
    if profile is None:
        if not policy.anonymous:
            reason = NO_PROFILE
    else:
        reason = _screening(policy, profile)
        if reason is None:
            reason = _recovery(policy, profile, now_s)
    overridden = False
    if reason is not None:
        if not (override and OVERRIDABLE[reason]):
            return _refused(reason, n)
        overridden = True
    capped: "List[str]" = []
    max_s = _duration(policy, profile, request.duration_s)
    if max_s < request.duration_s:
        capped.append(CAP_NOVICE if profile is not None and _novice(policy, profile)
                      and max_s == policy.novice_max_session_s < policy.max_session_s else CAP_POLICY)
    ceilings: "List[int]" = []
    for ch in range(n):
        ua = request.ceilings_ua[ch]
        if profile is not None:
            for rule, tag in ((_profile_ceiling, CAP_PROFILE), (_novice_ceiling, CAP_NOVICE),
                              (_rise_ceiling, CAP_RISE)):
                lower = rule(policy, profile, ch, ua)
                if lower < ua:
                    ua = lower
                    if tag not in capped:
                        capped.append(tag)
        ceilings.append(ua)
    return Decision(True, reason if overridden else None, reason is not None and OVERRIDABLE[reason],
                    overridden, max_s, ceilings, capped)
