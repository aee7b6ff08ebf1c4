"""The dose guard's invariants, checked over random sequences of days, sessions, edits, overrides and power cuts.

A `World` is one board's flash (the fakehw flash model), a site policy, and a
few client profiles kept by the real firmware (stim.store + stim.clients +
stim.doseguard). Steps change the world: time passes (hours to weeks), the RTC
loses its time or is set wrong, the supervisor edits a person's limits,
confirms or withdraws their screening, deletes a profile; a session is asked
for (with or without an override) and, if the guard allows it, runs with some
peak level per channel and ends; the power is cut during a flash write and the
board reboots.

The world keeps its own account of each person (an *oracle*, written from the
policy's plain words, not from the guard's code) and checks after each step:

1. Never outside the policy. An allowed session was due no refusal, or the
   refusal was overridable, an override was asked, and the decision says so
   (Decision.overridden, which the firmware logs: the world logs it with
   Store.log_guard and checks the record survives). A refusal that is not
   overridable (never screened) is never allowed.
2. Never above what was asked, nor above the policy: the duration cap is at
   most the request and policy.max_session_s, and novice_max_session_s in the
   first novice_sessions sessions; each ceiling is at most the request, the
   person's limit, novice_ceiling_pct of it in the novice phase, and after a
   first session the last peak plus max(rise_pct of it, rise_min_ua).
   During the session, Decision.within() is false from the cap on.
3. Not stricter than the policy either: a session that no rule refuses is allowed.
5. Wired as on the board: each session is asked for the way the controller asks it
   (stim.guardshell: the supervisor's override gesture arms an override, START
   decides with the wall time read from the clock then) and started on a real
   stim.supervisor.Supervisor, whose caps (cap_ua, session_limit_ms) are checked
   against the same bounds, and whose levels while the trainer presses + stay
   under them. An overridden session has its override record handed to the
   store (Store.log_guard) before it starts; a refusal is never started.
4. Nothing lost or corrupted: after every reboot the profiles on flash are
   each as the oracle had them before or after the write the cut hit, and the
   override records already flushed are all in the log.

`run(steps)` returns the violations of one sequence (empty if none);
`random_steps(rng)` draws a sequence; `search()` runs many (the bench and the
mutation tests use it). `mutations` replaces functions of stim.doseguard for
the duration of a run (M09..M19 in host_tools/picostim/safetycase/mutants.toml).
"""

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

from picostim.boardcheck import _use_firmware
from picostim.fakehw import micropython_shim
from picostim.fakehw.clock import Reset
from picostim.fakehw.flash import FlashFS

_use_firmware()
sys.modules.setdefault("micropython", micropython_shim)  # CPython: const() for stim.supervisor
from stim import doseguard, policy, store  # noqa: E402 - firmware/ is importable only after _use_firmware()
from stim import supervisor as sv  # noqa: E402
from stim.clients import Clients  # noqa: E402
from stim.guardshell import GuardShell  # noqa: E402

__all__ = ["POLICIES", "GuardShell", "World", "doseguard", "due_refusal", "mutated", "random_steps", "run",
           "search", "sv"]

CHANNELS = 2
MAX_UA = [80_000, 80_000]
PEOPLE = ("C1", "C2", "C3")
T0 = 1_767_225_600  # 2026-01-01
HOUR = 3600
DAY = 86_400

Step = tuple[Any, ...]


def policies() -> list[policy.Policy]:
    """The policies a sequence may run under: the defaults, the strictest, and a few valid others."""
    out = [policy.defaults(), policy.STRICTEST]
    for d in ({"max_session_s": 1800, "novice_sessions": 0, "rise_pct": 50, "min_recovery_h": 24},
              {"novice_sessions": 3, "novice_ceiling_pct": 80, "rise_min_ua": 10_000, "anonymous": False},
              {"max_session_s": 900, "novice_max_session_s": 900, "min_recovery_h": 48}):
        full = dict(d)
        full["schema"] = 1
        out.append(policy.validate(full))
    return out


POLICIES = policies()


class Person:
    """The oracle's account of one person (None when the supervisor has not created them)."""

    def __init__(self, limits: list[int]) -> None:
        self.limits = list(limits)
        self.screened: Optional[int] = None
        self.sessions = 0
        self.last: Optional[int] = None
        self.peak = [0] * CHANNELS

    def fields(self, pid: str) -> dict[str, Any]:
        return {"id": pid, "limits_ua": list(self.limits), "program": None, "screened": self.screened,
                "sessions": self.sessions, "last": self.last, "peak_ua": list(self.peak)}

    def copy(self) -> "Person":
        p = Person(self.limits)
        p.screened, p.sessions, p.last, p.peak = self.screened, self.sessions, self.last, list(self.peak)
        return p


def due_refusal(pol: policy.Policy, who: Optional[Person], now: Optional[int]) -> tuple[Optional[str], bool]:
    """(reason, overridable) the policy's words give for a session now, or (None, False)."""
    if who is None:
        return (None, False) if pol.anonymous else ("no profile, and the policy wants one", True)
    if who.screened is None:
        return "never screened", False
    if who.sessions == 0 and who.last is None:
        return None, False
    if now is None or who.last is None:
        return "interval unknown", True
    if now - who.last < pol.min_recovery_h * HOUR:  # a clock behind the last session falls here too
        return "sooner than the recovery interval", True
    return None, False


class SpyStore(store.Store):
    """The firmware's store, noting the guard records it is handed (kept as the store keeps them)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.guard_calls: list[tuple[Optional[str], str, bool]] = []

    def log_guard(self, client: Optional[str], reason: str, overridden: bool, t_ms: int,
                  wall: Optional[int] = None) -> None:
        self.guard_calls.append((client, reason, overridden))
        super().log_guard(client, reason, overridden, t_ms, wall)


class Rtc:
    """The board's clock as stim.guardshell reads it: the world's time, or None when not valid."""

    def __init__(self, world: "World") -> None:
        self.world = world

    def read(self) -> Optional[int]:
        return self.world.board_now()


class Program:
    name = "lbp"


ENABLE_MS = 60  # the key's debounce (supervisor.ENABLE_STABLE_MS) is past after this
TICK_MS = 100  # the supervisor's steps in a session (its ramp never advances by more at once)


class World:
    def __init__(self, pol: policy.Policy) -> None:
        self.pol = pol
        self.fs = FlashFS()
        self.true_now = T0
        self.clock_offset: Optional[int] = 0  # board wall clock = true time + offset; None: RTC not valid
        self.people: dict[str, Optional[Person]] = {p: None for p in PEOPLE}
        self.overrides_logged = 0  # override records flushed to the log
        self.cut_next: Optional[int] = None
        self.violations: list[str] = []
        self.steps = 0
        self.sessions = 0
        self.boot()

    # -- the board -------------------------------------------------------------------------
    def boot(self) -> None:
        self.store = SpyStore(self.fs, store.Settings([0] * CHANNELS), max_ua=MAX_UA)
        self.clients = Clients(self.store, CHANNELS, MAX_UA)
        if self.clients.warning is not None or self.store.warnings:
            self.fail("boot warned: %r %r" % (self.clients.warning, self.store.warnings))

    def board_now(self) -> Optional[int]:
        return None if self.clock_offset is None else self.true_now + self.clock_offset

    def fail(self, what: str) -> None:
        self.violations.append("step %d: %s" % (self.steps, what))

    def flush(self, before: dict[str, Optional[Person]]) -> None:
        """Flush the store while idle; a cut armed by a "cut" step hits one of its writes, then reboot."""
        if self.cut_next is not None:
            self.fs.cut_at = self.fs.steps + self.cut_next
            self.cut_next = None
        try:
            while self.store.flush(True):
                pass
        except Reset:
            self.fs.cut_at = -1
            self.boot()
            self.check_flash(before)
            return
        self.fs.cut_at = -1
        if self.fs.steps > 0 and self.store.pending() == 0:
            self.check_flash(None)

    def check_flash(self, before: Optional[dict[str, Optional[Person]]]) -> None:
        """The profiles on flash: the oracle's now, or (after a cut) what it had before the write."""
        got = {pid: (p.fields() if p is not None else None) for pid, p in
               ((pid, self.clients.get(pid)) for pid in PEOPLE)}
        now = {pid: (p.fields(pid) if p is not None else None) for pid, p in self.people.items()}
        if got == now:
            return
        if before is not None:
            old = {pid: (p.fields(pid) if p is not None else None) for pid, p in before.items()}
            if got == old:
                self.people = {pid: (p.copy() if p is not None else None) for pid, p in before.items()}
                return
        self.fail("profiles on flash %r, expected %r" % (got, now))

    def check_log(self) -> None:
        n = sum(1 for r in self.store.read_log() if r.get("k") == "guard" and r.get("override"))
        if n < self.overrides_logged:
            self.fail("override records lost: %d on flash, %d flushed" % (n, self.overrides_logged))
        self.overrides_logged = n

    # -- steps --------------------------------------------------------------------------------
    def apply(self, step: Step) -> None:
        self.steps += 1
        kind = step[0]
        before = {pid: (p.copy() if p is not None else None) for pid, p in self.people.items()}
        if kind == "advance":
            self.true_now += step[1]
        elif kind == "clock":
            self.clock_offset = step[1]
        elif kind == "cut":
            self.cut_next = step[1]
        elif kind == "edit":
            pid = PEOPLE[step[1]]
            who = self.people[pid] or Person([0] * CHANNELS)
            who.limits = list(step[2])
            self.clients.put(who.fields(pid))
            self.people[pid] = who
            self.flush(before)
        elif kind == "screen":
            pid = PEOPLE[step[1]]
            known = self.people[pid]
            if known is None:
                return
            who = known
            now = self.board_now()
            if step[2] and now is not None:
                if not self.clients.confirm_screening(pid, now):
                    self.fail("screening of %s at %d refused" % (pid, now))
                who.screened = now
            elif not step[2]:
                who.screened = None
                self.clients.put(who.fields(pid))
            self.flush(before)
        elif kind == "delete":
            pid = PEOPLE[step[1]]
            if self.clients.delete(pid) != (self.people[pid] is not None):
                self.fail("delete of %s did not match the oracle" % pid)
            self.people[pid] = None
            self.flush(before)
        elif kind == "session":
            self.session(step, before)
        else:
            raise ValueError("unknown step " + repr(step))

    def session(self, step: Step, before: dict[str, Optional[Person]]) -> None:
        _kind, who_i, duration_s, ceilings, override, peak_pct, run_pct = step
        pid: Optional[str] = PEOPLE[who_i] if who_i < len(PEOPLE) else None  # len(PEOPLE): anonymous
        who: Optional[Person] = self.people[pid] if pid is not None else None
        if pid is not None and who is None:
            pid = None  # no such profile: the trainer runs it anonymous
        now = self.board_now()
        sup, shell = self.wired(pid, duration_s, ceilings)
        if override:
            shell.arm_override(sup, Program, 0)  # the supervisor's gesture (key in)
        calls = len(self.store.guard_calls)
        refused = shell.start(sup, Program, 0)  # START: the decision with the clock read now
        d = shell.decision
        if (refused is None) != d.allowed:
            self.fail("the shell's answer %r does not match its decision %r" % (refused, d))
        pol = self.pol
        reason, overridable = due_refusal(pol, who, now)
        if d.allowed:
            if reason is not None and not (overridable and override):
                self.fail("%s allowed although due a refusal (%s, overridable %s, override %s): %r"
                          % (pid, reason, overridable, override, d))
            if d.overridden != (reason is not None):
                self.fail("overridden flag %s, due refusal %r" % (d.overridden, reason))
            novice = who is not None and who.sessions < pol.novice_sessions
            top = min(duration_s, pol.max_session_s, pol.novice_max_session_s if novice else duration_s)
            if d.max_s > top:
                self.fail("duration cap %d s above %d s (asked %d, novice %s)" % (d.max_s, top, duration_s, novice))
            if d.within(top * 1000):
                self.fail("the session may run on at %d s, past its cap" % top)
            for ch in range(CHANNELS):
                lim = ceilings[ch]
                if who is not None:
                    lim = min(lim, who.limits[ch])
                    if novice:
                        lim = min(lim, who.limits[ch] * pol.novice_ceiling_pct // 100)
                    if who.sessions > 0:
                        lim = min(lim, who.peak[ch] + max(who.peak[ch] * pol.rise_pct // 100, pol.rise_min_ua))
                if d.ceilings_ua[ch] > lim or d.ceiling(ch) > lim:
                    self.fail("ch%d ceiling %d uA above %d uA (asked %d)" % (ch + 1, d.ceilings_ua[ch], lim,
                                                                              ceilings[ch]))
                if sup.cap_ua(ch) > lim:
                    self.fail("ch%d: the supervisor's cap %d uA is above %d uA" % (ch + 1, sup.cap_ua(ch), lim))
            if sup.session_limit_ms > top * 1000:
                self.fail("the supervisor's session limit %d ms is above %d s" % (sup.session_limit_ms, top))
            logged = self.store.guard_calls[calls:]
            if d.overridden and logged != [(pid, d.reason, True)]:
                self.fail("an overridden session started without its override logged: %r" % logged)
            if not d.overridden and any(o for _c, _r, o in logged):
                self.fail("an override logged for a session that needed none: %r" % logged)
            self.run_session(sup, lim_all=[min(ceilings[ch], sup.cap_ua(ch)) for ch in range(CHANNELS)])
        else:
            if reason is None:
                self.fail("%s refused (%s) though no rule refuses it" % (pid, d.reason))
            elif override and overridable:
                self.fail("%s: the override of %s was not honoured (%r)" % (pid, reason, d))
            if d.ceiling(0) != 0 or d.within(0):
                self.fail("a refusal lets the session run")
            # The controller does not pass this START on (stim.controller._guard_start). Without an override
            # to give, the supervisor's caps are 0 too, so that it would refuse the start by itself.
            if not d.overridable and any(sup.cap_ua(ch) for ch in range(CHANNELS)):
                self.fail("a refusal without override leaves the supervisor caps %r"
                          % [sup.cap_ua(ch) for ch in range(CHANNELS)])
            self.flush(before)
            return
        self.sessions += 1
        ran_s = d.max_s * run_pct // 100
        self.true_now += ran_s
        peaks = [sup.cap_ua(ch) * peak_pct[ch] // 100 for ch in range(CHANNELS)]
        if pid is not None and who is not None:
            end = self.board_now()
            self.clients.record_session(pid, end, peaks)
            who.sessions += 1
            who.last = end
            who.peak = peaks
        self.flush(before)
        self.check_log()


    # -- the wiring (the board's controller does the same: stim.controller) ------------------------
    def wired(self, pid: Optional[str], duration_s: int, ceilings: "tuple[int, ...]") -> "tuple[Any, Any]":
        """A supervisor with a program asking for `ceilings` and `duration_s`, and the guard's shell."""
        sup = sv.Supervisor(MAX_UA, 100_000, 50_000, 3600 * 1000, step_ua=5000)
        sup.set_program(list(ceilings), [True] * CHANNELS, duration_s * 1000, 1000)
        shell = GuardShell(CHANNELS, self.store, None)
        shell.policy, shell.policy_reason, shell._dg = self.pol, None, doseguard
        shell.rtc = Rtc(self)
        shell.clients = self.clients
        shell.client = pid
        shell.preview(sup, Program, 0)
        self.t_ms = 0
        return sup, shell

    def key_in(self, sup: Any) -> None:
        for _ in range(2):
            sup.step(self.t_ms, True, True)
            self.t_ms += ENABLE_MS

    def run_session(self, sup: Any, lim_all: "list[int]") -> None:
        """START, + pressed each step for a few seconds: no level above the bounds, then stop."""
        self.key_in(sup)
        sup.step(self.t_ms, True, True, sv.START_PAUSE)
        if sup.state != sv.RUNNING:
            if any(lim_all):
                self.fail("an allowed session did not start (%r)" % sup.alert)
            return
        for _ in range(40):
            self.t_ms += TICK_MS
            sup.step(self.t_ms, True, True, sv.PLUS)
            for ch in range(CHANNELS):
                if sup.level_ua[ch] > lim_all[ch]:
                    self.fail("ch%d level %d uA above %d uA in the session" % (ch + 1, sup.level_ua[ch], lim_all[ch]))
        sup.step(self.t_ms + TICK_MS, True, True, sv.STOP)


@contextmanager
def mutated(mutations: Optional[dict[str, Any]]) -> Iterator[None]:
    """stim.doseguard with some functions replaced, restored afterwards."""
    saved = {k: getattr(doseguard, k) for k in (mutations or {})}
    try:
        for k, v in (mutations or {}).items():
            setattr(doseguard, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(doseguard, k, v)


def run(pol_index: int, steps: list[Step], mutations: Optional[dict[str, Any]] = None) -> tuple[list[str], int]:
    """Run one sequence; (violations, sessions that ran)."""
    with mutated(mutations):
        w = World(POLICIES[pol_index % len(POLICIES)])
        for s in steps:
            w.apply(s)
            if w.violations:
                break
        return w.violations, w.sessions


def random_step(rng: random.Random) -> Step:
    r = rng.random()
    if r < 0.25:
        return ("advance", rng.choice((HOUR, 6 * HOUR, DAY, 3 * DAY, 4 * DAY, 5 * DAY, 14 * DAY))
                + rng.randrange(-HOUR, HOUR))
    if r < 0.3:
        return ("clock", rng.choice((None, 0, 0, -2 * DAY, rng.randrange(-30 * DAY, 30 * DAY))))
    if r < 0.35:
        return ("cut", rng.randrange(8))
    if r < 0.45:
        return ("edit", rng.randrange(len(PEOPLE)), tuple(rng.randrange(0, 80_001, 500) for _ in range(CHANNELS)))
    if r < 0.55:
        return ("screen", rng.randrange(len(PEOPLE)), rng.random() < 0.85)
    if r < 0.58:
        return ("delete", rng.randrange(len(PEOPLE)))
    return ("session", rng.randrange(len(PEOPLE) + 1), rng.choice((60, 600, 900, 1200, 1800, 3600)),
            tuple(rng.randrange(0, 80_001, 250) for _ in range(CHANNELS)), rng.random() < 0.4,
            tuple(rng.randrange(0, 101) for _ in range(CHANNELS)), rng.randrange(0, 101))


def random_steps(rng: random.Random, n: int = 24) -> list[Step]:
    return [random_step(rng) for _ in range(n)]


def search(seed: int, sequences: int, mutations: Optional[dict[str, Any]] = None,
           stop_at_first: bool = False) -> tuple[int, int, int, str]:
    """Run random sequences; (sequences run, sessions run, sequences with a violation, first report)."""
    rng = random.Random(seed)
    bad = 0
    sessions = 0
    first = ""
    for i in range(sequences):
        pol_index = rng.randrange(len(POLICIES))
        steps = random_steps(rng)
        violations, ran = run(pol_index, steps, mutations)
        sessions += ran
        if violations:
            bad += 1
            if not first:
                first = "policy %d: %s\nsteps: %r" % (pol_index, violations[0], steps)
            if stop_at_first:
                return i + 1, sessions, bad, first
    return sequences, sessions, bad, first
