"""The dose guard on the board: the policy, the selected profile, the wall time and the guard's caps.

stim.doseguard decides; this shell feeds it and keeps what the panel shows. The
controller calls it only on events (the first READY, a profile gesture, a
program or limit change, START, the override gesture), never in a running
tick, so nothing here needs to be allocation-free:

- load(): the site policy (stim.policy: a bad file means STRICTEST and a
  reason, shown on the OLED) and the guard's module, at the first READY,
  not at boot (boot time on silicon: docs/clients.md).
- The profiles (stim.clients) load at their first use: the first selection
  gesture (or console request; both share one Clients).
- wall(): the wall time read right before a decision: the DS3231 if the board
  has one (None when its time is not valid), else the time the console set.
- preview(): the decision for the selected person and program, applied to the
  supervisor as its guard caps (Supervisor.set_guard only lowers): what an
  allowed START, or an override, would give; all zero if nothing would be
  allowed. `note` says it in words for the OLED.
- start(): the decision at START with fresh wall time. A refusal and an
  override are logged (Store.log_guard) with the client id and reason code.

docs/clients.md has the gestures and the texts.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional

NEW = "+new"  # the selection entry that creates a profile (key in)
NEW_PREFIX = "C"

# Refusal codes in words, for the OLED (16 columns, two rows of message).
WORDS = (
    ("never-screened", "never screened"),
    ("too-soon", "too soon"),
    ("clock-unknown", "clock not set"),
    ("clock-behind", "clock behind"),
    ("last-unknown", "last undated"),
    ("no-profile", "needs a profile"),
    ("bad-request", "bad request"),
)


def words(reason: "Optional[str]") -> str:
    for code, w in WORDS:
        if code == reason:
            return w
    return reason or ""


def span(secs: int) -> str:
    """A time left, short: "2d 4h", "5h 10m", "9m"."""
    if secs < 0:
        secs = 0
    d = secs // 86400
    h = secs % 86400 // 3600
    m = (secs % 3600 + 59) // 60
    if d:
        return "%dd %dh" % (d, h)
    if h:
        return "%dh %dm" % (h, m)
    return "%dm" % m


def mmss(secs: int) -> str:
    return "%d:%02d" % (secs // 60, secs % 60)


def policy_key(reason: str) -> str:
    """The key a policy reason names ("policy.json: rise_pct: 200 is ..." -> "rise_pct")."""
    parts = reason.split(": ")
    return parts[1] if len(parts) > 2 else "unreadable"


class GuardShell:
    def __init__(self, n: int, store: "Any" = None, recorder: "Any" = None) -> None:
        self.n = n
        self.store = store
        self.recorder = recorder
        self.rtc: "Any" = None  # the board's DS3231 driver (stim.hal.ds3231), set by stim.app
        self.load_clients: "Optional[Callable[[], Any]]" = None  # stim.app: loads the profiles
        self.clients: "Any" = None
        self.policy: "Any" = None
        self.policy_reason: "Optional[str]" = None
        self._dg: "Any" = None  # stim.doseguard, imported by load()
        self.client: "Optional[str]" = None  # the selected profile's id; None: no profile (anonymous)
        self.decision: "Any" = None  # the last preview
        self.armed: "Optional[str]" = None  # an override the supervisor gave, for this reason, until START
        self.note: "Optional[str]" = None  # the OLED's words for the selection and the guard's decision
        self.choices: "List[Optional[str]]" = []  # in selection: None (no profile), the ids, maybe NEW
        self.cursor = 0
        self._logged: "Any" = None  # (client, reason) of the last refusal logged

    @property
    def loaded(self) -> bool:
        return self.policy is not None

    def load(self) -> "Optional[str]":
        """The policy and the guard's module; returns the policy's problem (None if it is fine)."""
        from stim import doseguard, policy  # noqa: PLC0415 - not at boot: docs/clients.md

        self._dg = doseguard
        if self.store is None:
            self.policy, self.policy_reason = policy.defaults(), None
        else:
            self.policy, self.policy_reason = policy.load(self.store.fs, self.store)
        return self.policy_reason

    def get_clients(self) -> "Any":
        """The profiles, loaded at their first use (None without a store)."""
        if self.clients is None and self.load_clients is not None:
            load = self.load_clients
            self.load_clients = None
            self.clients = load()
        return self.clients

    def profile(self, pid: "Optional[str]") -> "Any":
        cl = self.clients
        return cl.get(pid) if pid is not None and cl is not None else None

    # -- time ------------------------------------------------------------------------------------
    def wall(self, now_ms: int) -> "Optional[int]":
        """Wall time now: the RTC read now (None: not valid or not answering), else the console's."""
        rec = self.recorder
        if self.rtc is not None:
            try:
                t: "Optional[int]" = self.rtc.read()
            except Exception:  # noqa: BLE001 - a clock that does not answer is no wall time
                return None
            if t is not None and rec is not None:
                rec.set_wall(t, now_ms)  # the log's dates follow the chip
            return t
        return rec.wall(now_ms) if rec is not None else None

    # -- decisions -------------------------------------------------------------------------------
    def _request(self, sup: "Any", program: "Any") -> "Any":
        ceil = [0] * self.n
        for c in range(self.n):
            ceil[c] = sup.base_cap_ua(c)
        return self._dg.Request(program.name if program is not None else "", sup.base_session_ms() // 1000, ceil)

    def judge(self, sup: "Any", program: "Any", pid: "Optional[str]", now_s: "Optional[int]",
              override: bool) -> "Any":
        return self._dg.decide(self.policy, self.profile(pid), self._request(sup, program), now_s, override)

    def preview(self, sup: "Any", program: "Any", now_ms: int) -> None:
        """The decision for the selected person now; its caps (an override's, if one would be
        needed) go to the supervisor, all zero if nothing would be allowed; `note` says it."""
        if not self.loaded:
            return
        now_s = self.wall(now_ms)
        dec = self.judge(sup, program, self.client, now_s, False)
        self.decision = dec
        if dec.allowed:
            sup.set_guard(dec.ceilings_ua, dec.max_ms)
        else:
            ovr = self.judge(sup, program, self.client, now_s, True)
            if ovr.allowed:
                sup.set_guard(ovr.ceilings_ua, ovr.max_ms)
            else:
                sup.set_guard([0] * self.n, 0)
        if self.armed is not None and (dec.allowed or dec.reason != self.armed):
            self.armed = None  # the refusal it was given for is gone
        self.note = self.describe(self.client, dec, now_s, False)

    def describe(self, pid: "Optional[str]", dec: "Any", now_s: "Optional[int]", choosing: bool) -> "Optional[str]":
        """The OLED's words: who (id and sessions, or no profile) and what the guard allows."""
        head = "? " if choosing else ""
        p = self.profile(pid)
        if pid == NEW:
            return head + "new profile: start creates"
        if p is None:
            who = head + "no profile."
            if self.policy_reason is not None and not choosing:
                who = "strict policy:"  # the file's problem: the alert at the first READY, the log
        else:
            who = head + p.id + " " + str(p.sessions) + " sess."
        if dec is None:
            return who
        if dec.allowed:
            if p is None and not choosing and self.policy_reason is None:
                return None  # no profile, nothing to say: the panel's "Press start."
            return who + " allowed " + mmss(dec.max_s)
        if self.armed is not None and dec.reason == self.armed:
            return who + " override: press start"
        why = words(dec.reason)
        if dec.reason == "too-soon" and p is not None and p.last is not None and now_s is not None:
            why += " " + span(self.policy.min_recovery_s - (now_s - p.last))
        return who + " " + why

    def start(self, sup: "Any", program: "Any", now_ms: int) -> "Optional[str]":
        """The decision at START, with the wall time read now. None: allowed (caps applied, an override
        used is logged); else the refusal in words for the alert (logged)."""
        if not self.loaded:
            self.load()
        now_s = self.wall(now_ms)
        dec = self.judge(sup, program, self.client, now_s, self.armed is not None)
        if dec.allowed and dec.overridden and dec.reason != self.armed:
            dec = self.judge(sup, program, self.client, now_s, False)  # an override for another refusal
        self.decision = dec
        st = self.store
        if not dec.allowed:
            self.armed = None
            self.preview(sup, program, now_ms)
            if st is not None and self._logged != (self.client, dec.reason):
                self._logged = (self.client, dec.reason)  # a refusal once, not at every press
                st.log_guard(self.client, dec.reason or "", False, now_ms, now_s)
            return "refused: " + words(dec.reason)
        self._logged = None
        sup.set_guard(dec.ceilings_ua, dec.max_ms)
        if dec.overridden and st is not None:
            st.log_guard(self.client, dec.reason or "", True, now_ms, now_s)
        self.armed = None
        return None

    def arm_override(self, sup: "Any", program: "Any", now_ms: int) -> str:
        """The supervisor's override gesture (key in): arms an override of the refusal now due, if it
        may be overridden. Returns the words for the alert."""
        if not self.loaded:
            self.load()
        now_s = self.wall(now_ms)
        dec = self.judge(sup, program, self.client, now_s, False)
        if dec.allowed:
            return "override: nothing refused"
        if not dec.overridable:
            return "no override: " + words(dec.reason)
        self.armed = dec.reason
        self.preview(sup, program, now_ms)
        return "override: " + words(dec.reason)

    # -- selection -------------------------------------------------------------------------------
    def open_choices(self, key: bool) -> None:
        cl = self.get_clients()
        ch: "List[Optional[str]]" = [None]
        if cl is not None:
            ch.extend(cl.ids())
            if key and len(cl.profiles) < cl.capacity:
                ch.append(NEW)
        self.choices = ch
        self.cursor = ch.index(self.client) if self.client in ch else 0

    def step_choice(self, d: int) -> None:
        if self.choices:
            self.cursor = (self.cursor + d) % len(self.choices)

    def chosen(self) -> "Optional[str]":
        return self.choices[self.cursor] if 0 <= self.cursor < len(self.choices) else None

    def choice_note(self, sup: "Any", program: "Any", now_ms: int) -> None:
        """The note while choosing: the entry under the cursor and what the guard would say."""
        pid = self.chosen()
        dec = None
        now_s = None
        if pid != NEW and self.loaded:
            now_s = self.wall(now_ms)
            dec = self.judge(sup, program, pid, now_s, False)
        self.note = self.describe(pid, dec, now_s, True)

    def save_limits(self, pid: str, limits_ua: "Any") -> None:
        """The supervisor set limits while pid is selected: they are that person's limits now."""
        cl = self.clients
        p = cl.get(pid) if cl is not None else None
        if p is None or list(p.limits_ua) == list(limits_ua):
            return
        d = p.fields()
        d["limits_ua"] = list(limits_ua)
        cl.put(d)

    def new_id(self) -> str:
        cl = self.clients
        i = 1
        while True:
            pid = NEW_PREFIX + "%03d" % i
            if cl is None or pid not in cl.profiles:
                return pid
            i += 1
