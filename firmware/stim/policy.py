"""The site policy (/policy.json): the figures the dose guard (stim.doseguard) applies to each person.

A policy file is site configuration, written by hand like the board file and
validated the same way: validate() raises PolicyError, a FieldError whose
message begins with the key ("min_recovery_h: 200 is out of range 24..168").
Every key is optional; a key left out takes its DEFAULTS value, an unknown key
is an error (it catches typos). docs/clients.md gives the sources of the
defaults and says which figures could not be confirmed.

    {"schema": 1, "max_session_s": 1200, "min_recovery_h": 96, "novice_sessions": 10,
     "novice_max_session_s": 600, "novice_ceiling_pct": 50, "rise_pct": 20,
     "rise_min_ua": 2000, "anonymous": true}

A missing file is the defaults, quietly. A file that fails a check is kept
aside by the store (as a bad settings file is) and the board runs on STRICTEST,
every figure at the strict end of its range, which no valid policy is stricter
than in any figure (tests/test_doseguard_props.py shows the guard then allows
nothing a valid policy would not). load() returns the reason, for the panel.

Pure: no clock, no pins; the filesystem is passed in. Runs on MicroPython.
"""

import json

from stim.boardspec import FieldError, type_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

POLICY_FILE = "policy.json"
SCHEMA = 1
FILE_MAX_BYTES = 2048

# key -> (lowest, highest, which end is strict: "lo" or "hi"); integers
RANGES = {
    "max_session_s": (300, 3600, "lo"),
    "min_recovery_h": (24, 168, "hi"),
    "novice_sessions": (0, 20, "hi"),
    "novice_max_session_s": (300, 3600, "lo"),
    "novice_ceiling_pct": (25, 100, "lo"),
    "rise_pct": (0, 100, "lo"),
    "rise_min_ua": (500, 10000, "lo"),
}
BOOLS = ("anonymous",)  # strict end: false

DEFAULTS = {
    "max_session_s": 1200,  # 20 min (docs/clients.md: a common WB-EMS figure; a setting)
    "min_recovery_h": 96,  # 4 days between sessions (DIN 33961-5)
    "novice_sessions": 10,  # the first ten weeks at one session a week (DIN 33961-5: special rules for them)
    "novice_max_session_s": 600,  # not confirmed from a source: a conservative setting
    "novice_ceiling_pct": 50,  # not confirmed from a source: a conservative setting
    "rise_pct": 20,  # not confirmed from a source: a conservative setting
    "rise_min_ua": 2000,  # not confirmed from a source: a conservative setting
    "anonymous": True,  # "no profile" stays possible for a bench (issue 13)
}


class PolicyError(FieldError):
    """A policy file is not valid. str(e) is "<key>: <reason>"."""


class Policy:
    """The figures, as attributes named like the file's keys (min_recovery_s is derived)."""

    def __init__(self, max_session_s: int, min_recovery_h: int, novice_sessions: int, novice_max_session_s: int,
                 novice_ceiling_pct: int, rise_pct: int, rise_min_ua: int, anonymous: bool) -> None:
        self.max_session_s = max_session_s
        self.min_recovery_h = min_recovery_h
        self.min_recovery_s = min_recovery_h * 3600
        self.novice_sessions = novice_sessions
        self.novice_max_session_s = novice_max_session_s
        self.novice_ceiling_pct = novice_ceiling_pct
        self.rise_pct = rise_pct
        self.rise_min_ua = rise_min_ua
        self.anonymous = anonymous

    def fields(self) -> "Dict[str, Any]":
        return {"max_session_s": self.max_session_s, "min_recovery_h": self.min_recovery_h,
                "novice_sessions": self.novice_sessions, "novice_max_session_s": self.novice_max_session_s,
                "novice_ceiling_pct": self.novice_ceiling_pct, "rise_pct": self.rise_pct,
                "rise_min_ua": self.rise_min_ua, "anonymous": self.anonymous}

    def __repr__(self) -> str:
        return "Policy(" + repr(self.fields()) + ")"


def _build(d: "Dict[str, Any]") -> Policy:
    return Policy(d["max_session_s"], d["min_recovery_h"], d["novice_sessions"], d["novice_max_session_s"],
                  d["novice_ceiling_pct"], d["rise_pct"], d["rise_min_ua"], d["anonymous"])


def strictest_fields() -> "Dict[str, Any]":
    d: "Dict[str, Any]" = {}
    for k, (lo, hi, strict) in RANGES.items():
        d[k] = lo if strict == "lo" else hi
    for k in BOOLS:
        d[k] = False
    return d


def defaults() -> Policy:
    return _build(DEFAULTS)


STRICTEST = _build(strictest_fields())


def validate(v: "Any") -> Policy:
    """Check a decoded policy file and build a Policy; PolicyError names the first bad key."""
    if not isinstance(v, dict):
        raise PolicyError("(root)", "expected an object, got " + type_name(v))
    allowed = ("schema", "description") + tuple(RANGES) + BOOLS
    for k in sorted(v):
        if k not in allowed:
            raise PolicyError(str(k), "unknown key (allowed: " + ", ".join(sorted(allowed)) + ")")
    if "schema" not in v:
        raise PolicyError("schema", "missing required key (1)")
    if type(v["schema"]) is not int or v["schema"] != SCHEMA:
        raise PolicyError("schema", "expected " + str(SCHEMA) + ", got " + repr(v["schema"]))
    if "description" in v and (not isinstance(v["description"], str) or len(v["description"]) > 400):
        raise PolicyError("description", "expected a string of at most 400 characters")
    d = dict(DEFAULTS)
    for k, (lo, hi, _strict) in RANGES.items():
        if k not in v:
            continue
        x = v[k]
        if type(x) is not int:
            raise PolicyError(k, "expected an integer, got " + type_name(x))
        if x < lo or x > hi:
            raise PolicyError(k, "%d is out of range %d..%d" % (x, lo, hi))
        d[k] = x
    for k in BOOLS:
        if k in v:
            if type(v[k]) is not bool:
                raise PolicyError(k, "expected true or false, got " + type_name(v[k]))
            d[k] = v[k]
    if d["novice_max_session_s"] > d["max_session_s"]:
        raise PolicyError("novice_max_session_s", "%d s is longer than max_session_s %d s"
                          % (d["novice_max_session_s"], d["max_session_s"]))
    return _build(d)


def parse(text: str) -> Policy:
    try:
        d = json.loads(text)
    except ValueError as e:
        raise PolicyError("(json)", "not valid JSON: " + str(e)) from None
    return validate(d)


def load(fs: "Any", store: "Any" = None) -> "Tuple[Policy, Optional[str]]":
    """(policy, None) from fs's policy.json, or the defaults if there is none.

    A file that cannot be read or fails a check gives (STRICTEST, reason); the
    store (a stim.store.Store, if given) keeps the file aside and logs the reason.
    """
    try:
        names = fs.listdir()
    except Exception as e:  # noqa: BLE001 - no filesystem: we cannot know the site's policy
        return STRICTEST, "policy: flash unreadable (" + str(e) + "); strictest policy used"
    if POLICY_FILE not in names:
        return defaults(), None
    try:
        size = fs.stat(POLICY_FILE)[6]
        if size > FILE_MAX_BYTES:
            raise PolicyError("(file)", "too large (" + str(size) + " bytes)")
        f = fs.open(POLICY_FILE, "rb")
        try:
            data = f.read()
        finally:
            f.close()
        p = parse(str(data, "utf-8"))
    except Exception as e:  # noqa: BLE001 - a bad policy never stops the board; it makes it strictest
        why = POLICY_FILE + ": " + str(e) + "; strictest policy used"
        if store is not None:
            kept = store.keep_aside(POLICY_FILE)
            if kept:
                why += "; kept as " + kept
            store.warn(why)
        return STRICTEST, why
    return p, None
