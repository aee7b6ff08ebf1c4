"""Client profiles on the board: per-person limits and history for the dose guard (stim.doseguard).

A profile holds no name and no health data (docs/clients.md, privacy):

    id         a pseudonym: 1..ID_MAX upper-case letters, digits or '-', with at least one digit
               ("C017"), so that a name is not what gets typed in
    limits_ua  the supervisor's ceiling per channel (uA), at most the board's channel maximum
    program    the preferred program's name, or null
    screened   epoch seconds at which the supervisor confirmed the contraindication check, or null
    sessions   sessions completed
    last       epoch seconds at which the last session ended, or null (none yet, or no valid clock then)
    peak_ua    the last session's peak per channel (uA)

Storage: one file, clients.json, one record per profile, each line a
stim.store record ({"v":1,...,"crc":N}) in id order. The whole file is written
by the store (Store.put_file): atomically (tmp, close, rename), only while the
outputs are idle, with the store's handling of a full flash; so after a power
cut the file is the old or the new one. A line that fails its CRC, its version
or its checks at boot loses that profile only: the file is kept aside (as a bad
settings file is), the reason goes to `warning` and the store's warnings, and
the intact profiles are written back at the next idle flush.

Pure: no clock, no pins. Runs on MicroPython.
"""

from stim import store as _store
from stim.boardspec import FieldError, type_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence

CLIENTS_FILE = "clients.json"
PROFILE_VERSION = 1
PROFILES_MAX = 64
ID_MAX = 8
PROGRAM_MAX = 32
EPOCH_MIN = 946684800  # 2000-01-01
EPOCH_MAX = 4102444800  # 2100-01-01
SESSIONS_MAX = 100000
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
_DIGITS = "0123456789"
FIELDS = ("id", "limits_ua", "program", "screened", "sessions", "last", "peak_ua")


class ProfileError(FieldError):
    """A profile that is not valid: str(e) is "<field>: <reason>"."""


def valid_id(s: "Any") -> bool:
    if not isinstance(s, str) or not 0 < len(s) <= ID_MAX:
        return False
    digit = False
    for c in s:
        if c not in _ID_CHARS:
            return False
        if c in _DIGITS:
            digit = True
    return digit


class Profile:
    def __init__(self, id: str, limits_ua: "Sequence[int]", program: "Optional[str]" = None,
                 screened: "Optional[int]" = None, sessions: int = 0, last: "Optional[int]" = None,
                 peak_ua: "Optional[Sequence[int]]" = None) -> None:
        self.id = id
        self.limits_ua: "List[int]" = list(limits_ua)
        self.program = program
        self.screened = screened
        self.sessions = sessions
        self.last = last
        self.peak_ua: "List[int]" = list(peak_ua) if peak_ua is not None else [0] * len(self.limits_ua)

    def copy(self) -> "Profile":
        return Profile(self.id, self.limits_ua, self.program, self.screened, self.sessions, self.last, self.peak_ua)

    def fields(self) -> "Dict[str, Any]":
        return {"id": self.id, "limits_ua": list(self.limits_ua), "program": self.program,
                "screened": self.screened, "sessions": self.sessions, "last": self.last,
                "peak_ua": list(self.peak_ua)}

    def __repr__(self) -> str:
        return "Profile(" + repr(self.fields()) + ")"


def _currents(d: "Dict[str, Any]", key: str, n: int, max_ua: "Optional[Sequence[int]]") -> "List[int]":
    v = d.get(key)
    if not isinstance(v, list) or len(v) != n:
        raise ProfileError(key, "expected a list of " + str(n) + " currents in uA, got " + type_name(v)
                           + ("" if not isinstance(v, list) else " of " + str(len(v))))
    for i in range(n):
        x = v[i]
        if type(x) is not int or x < 0:
            raise ProfileError(key + "[" + str(i) + "]", "expected a current in uA (an integer >= 0), got "
                               + (repr(x) if type(x) is int else type_name(x)))
        if max_ua is not None and x > max_ua[i]:
            raise ProfileError(key + "[" + str(i) + "]", "%d uA is above the board's channel maximum %d uA"
                               % (x, max_ua[i]))
    return list(v)


def _date(d: "Dict[str, Any]", key: str) -> "Optional[int]":
    v = d.get(key)
    if v is None:
        return None
    if type(v) is not int or not EPOCH_MIN <= v <= EPOCH_MAX:
        raise ProfileError(key, "expected epoch seconds %d..%d or null, got %s"
                           % (EPOCH_MIN, EPOCH_MAX, repr(v) if type(v) is int else type_name(v)))
    return v


def profile_from(d: "Any", n: int, max_ua: "Optional[Sequence[int]]" = None) -> Profile:
    """A Profile from a decoded object; ProfileError names the first bad field.

    Every field but id and limits_ua may be left out (defaults: no program, not screened, no
    session yet). max_ua: the board's per-channel maxima; a limit above them is refused.
    """
    if not isinstance(d, dict):
        raise ProfileError("(profile)", "expected an object, got " + type_name(d))
    for k in d:
        if k not in FIELDS:
            raise ProfileError(str(k), "unknown field (fields: " + ", ".join(FIELDS) + ")")
    pid = d.get("id")
    if not isinstance(pid, str) or not valid_id(pid):
        raise ProfileError("id", "a pseudonym of 1.." + str(ID_MAX)
                           + " upper-case letters, digits or -, with a digit (e.g. C017); never a name")
    if "limits_ua" not in d:
        raise ProfileError("limits_ua", "missing")
    limits = _currents(d, "limits_ua", n, max_ua)
    program = d.get("program")
    if program is not None and (not isinstance(program, str) or not 0 < len(program) <= PROGRAM_MAX):
        raise ProfileError("program", "expected a program name of 1.." + str(PROGRAM_MAX) + " characters or null")
    sessions = d.get("sessions", 0)
    if type(sessions) is not int or not 0 <= sessions <= SESSIONS_MAX:
        raise ProfileError("sessions", "expected an integer 0.." + str(SESSIONS_MAX))
    peak = _currents(d, "peak_ua", n, None) if "peak_ua" in d else [0] * n
    return Profile(pid, limits, program, _date(d, "screened"), sessions, _date(d, "last"), peak)


class Clients:
    """The profiles of one board, loaded at boot from the store's filesystem.

    `profiles`: id -> Profile. `warning`: why something was not loaded, or None.
    Changes are handed to the store, which writes them at its next idle flush.
    """

    capacity = PROFILES_MAX

    def __init__(self, store: "Any", n: int, max_ua: "Optional[Sequence[int]]" = None) -> None:
        self.store = store
        self.n = n
        self.max_ua = list(max_ua) if max_ua is not None else None
        self.profiles: "Dict[str, Profile]" = {}
        self.warning: "Optional[str]" = None
        self._load()

    # -- boot --------------------------------------------------------------------------------
    def _load(self) -> None:
        st = self.store
        try:
            names = st.fs.listdir()
        except Exception:  # noqa: BLE001 - the store already said the flash is unreadable
            return
        if CLIENTS_FILE not in names:
            return
        problems: "List[str]" = []
        lowered: "List[str]" = []

        def take(d: "Dict[str, Any]") -> None:
            try:
                p = profile_from(d, self.n)
                if p.id in self.profiles:
                    raise ProfileError("id", p.id + " appears twice")
                if len(self.profiles) >= PROFILES_MAX:
                    raise ProfileError("(file)", "more than " + str(PROFILES_MAX) + " profiles")
            except ValueError as e:
                if len(problems) < 2:
                    problems.append(str(e))
                else:
                    problems.append("")
                return
            mx = self.max_ua
            if mx is not None:
                for i in range(self.n):
                    if p.limits_ua[i] > mx[i]:
                        p.limits_ua[i] = mx[i]
                        if p.id not in lowered:
                            lowered.append(p.id)
            self.profiles[p.id] = p

        try:
            _size, _nl, bad = st.each_record(CLIENTS_FILE, take, PROFILE_VERSION)
        except Exception as e:  # noqa: BLE001 - an unreadable file: kept aside, no profiles
            self._reject(_store._why(e), "no profiles loaded")
            return
        lost = bad + len(problems)
        if lost:
            detail = "; ".join(x for x in problems if x)
            self._reject(str(lost) + " corrupt profile" + ("s" if lost > 1 else "") + " skipped"
                         + (" (" + detail + ")" if detail else ""),
                         str(len(self.profiles)) + " loaded")
            self._save()  # the intact profiles, written back at the next idle flush
        if lowered:
            msg = "clients: limits of " + ", ".join(lowered) + " above the board's maximum; lowered"
            self.warning = msg
            st.warn(msg)

    def _reject(self, why: str, consequence: str) -> None:
        kept = self.store.keep_aside(CLIENTS_FILE)
        msg = CLIENTS_FILE + ": " + why + "; " + consequence + ("; kept as " + kept if kept else "")
        self.warning = msg
        self.store.warn(msg)

    # -- reading -----------------------------------------------------------------------------
    def ids(self) -> "List[str]":
        out = list(self.profiles)
        out.sort()
        return out

    def get(self, pid: str) -> "Optional[Profile]":
        p = self.profiles.get(pid)
        return p.copy() if p is not None else None

    # -- changes (each saved at the next idle flush) ----------------------------------------------
    def put(self, d: "Any") -> Profile:
        """Add or replace a profile from a decoded object. ProfileError (naming the field) changes nothing."""
        p = profile_from(d, self.n, self.max_ua)
        if p.id not in self.profiles and len(self.profiles) >= PROFILES_MAX:
            raise ProfileError("id", "already " + str(PROFILES_MAX) + " profiles; delete one first")
        self.profiles[p.id] = p
        self._save()
        return p.copy()

    def delete(self, pid: str) -> bool:
        if pid not in self.profiles:
            return False
        del self.profiles[pid]
        self._save()
        return True

    def confirm_screening(self, pid: str, wall_s: int) -> bool:
        """The supervisor confirmed the contraindication check of pid at wall_s."""
        p = self.profiles.get(pid)
        if p is None or type(wall_s) is not int or not EPOCH_MIN <= wall_s <= EPOCH_MAX:
            return False
        p.screened = wall_s
        self._save()
        return True

    def record_session(self, pid: str, end_wall_s: "Optional[int]", peaks_ua: "Sequence[int]") -> bool:
        """A session of pid ended at end_wall_s (None: no valid clock) with these peaks per channel."""
        p = self.profiles.get(pid)
        if p is None or len(peaks_ua) != self.n:
            return False
        if p.sessions < SESSIONS_MAX:
            p.sessions += 1
        p.last = end_wall_s if end_wall_s is not None and EPOCH_MIN <= end_wall_s <= EPOCH_MAX else None
        for i in range(self.n):
            p.peak_ua[i] = peaks_ua[i] if peaks_ua[i] > 0 else 0
        self._save()
        return True

    # -- writing -----------------------------------------------------------------------------
    def encode(self) -> bytes:
        """The whole file: one record per profile, in id order."""
        parts = []
        for pid in self.ids():
            parts.append(_store.encode_record(PROFILE_VERSION, self.profiles[pid].fields()))
        return b"".join(parts)

    def _save(self) -> None:
        self.store.put_file(CLIENTS_FILE, self.encode() if self.profiles else None)
