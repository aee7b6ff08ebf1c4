"""The dose guard wired into the board: one test per rule, through pin levels on the model.

firmware/main.py runs unchanged on a stim4 board with a DS3231 (fakehw). Profiles and the site
policy are on its flash before power-on, as a supervisor would have left them. The tests select a
profile, press start, hold the override and read the result as a trainer would: the OLED's text,
the status line the console prints, the amplitude DAC codes; and, after the session, the log and
the profiles on flash.

Each rule: the guard refuses (or lowers), the OLED says why in words, the supervisor's key
override starts the session (for a rule that may be overridden) and the override is logged.
The same tests run against firmware with one rule or one wire removed: the mutants M20..M28 of
host_tools/picostim/safetycase/mutants.toml (tests/test_mutants.py), each of which must fail here.
"""

import json
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from picostim.bench.panel import Rig
from picostim.fakehw import ds3231
from picostim.fakehw.chip import Chip
from picostim.fakehw.clock import Clock
from picostim.fakehw.runner import BOARDS_DIR
from stim import store as store_mod

T = 1_767_225_600  # 2026-01-01, the DS3231's time at power-on
DAY = 86_400
SCREEN_MS = 1000  # a change is on the panel within 200 ms (compose) + 75 passes (stim.hal.oled)
CONT = "tens_conventional"  # continuous on every channel: the DAC shows the level at once


def _board(tmp: Path) -> Path:
    d = json.loads((BOARDS_DIR / "stim4.json").read_text())
    d["rtc"] = {"driver": "ds3231", "bus": "i2c0"}
    for ch in d["channels"]:  # no electrodes on the model: without sense lines no open-electrode stop
        ch.pop("sense_adc", None)
        ch.pop("sense_ma_per_volt", None)
    p = tmp / "stim4-rtc.json"
    p.write_text(json.dumps(d))
    return p


def _profile(pid: str, limit_ma: int, screened: bool = True, sessions: int = 0, last_days: Optional[float] = None,
             peak_ma: int = 0) -> "dict[str, Any]":
    return {"id": pid, "limits_ua": [limit_ma * 1000] * 4, "program": CONT,
            "screened": T - 30 * DAY if screened else None,
            "sessions": sessions, "last": None if last_days is None else int(T - last_days * DAY),
            "peak_ua": [peak_ma * 1000] * 4}


class Board:
    """A rig with profiles and a policy on flash and a DS3231 (valid or not)."""

    def __init__(self, tmp: Path, profiles: "list[dict[str, Any]]", policy: "Optional[dict[str, Any]]" = None,
                 rtc_valid: bool = True) -> None:
        self.flash = tmp / "flash"
        self.flash.mkdir()
        lines = [store_mod.encode_record(1, p) for p in sorted(profiles, key=lambda p: p["id"])]
        (self.flash / "clients.json").write_bytes(b"".join(lines))
        if policy is not None:
            (self.flash / "policy.json").write_text(json.dumps(policy))
        self.ids = sorted(p["id"] for p in profiles)
        chip = Chip(Clock())
        self.rtc = ds3231.attach(chip, 0)
        self.rtc.set_epoch(T)
        if rtc_valid:
            self.rtc.i2c_write(bytes([0x0F, 0x08]))  # OSF cleared: the time is valid
        self.rig = Rig(_board(tmp), chip=chip, flash_dir=self.flash)

    def message(self) -> str:
        """The OLED's message rows (the last two), as one line of words."""
        return " ".join(" ".join(self.rig.screen()[6:]).split())

    def select(self, pid: Optional[str]) -> None:
        """Hold program (profile selection), step with + to pid (None: no profile), pick with start_pause."""
        rig = self.rig
        rig.hold("program", 1200, after_ms=200)
        for _ in range(0 if pid is None else 1 + self.ids.index(pid)):
            rig.press("plus")
        rig.press("start_pause", after_ms=SCREEN_MS)

    def override(self) -> None:
        """The supervisor's override: start_pause and minus held together 2.2 s, key in."""
        w = self.rig.world
        w.button("start_pause", True)
        w.button("minus", True)
        self.rig.run_ms(2200)
        w.button("minus", False)
        w.button("start_pause", False)
        self.rig.run_ms(300)

    def start(self) -> str:
        self.rig.press("start_pause", after_ms=SCREEN_MS)
        return str(self.rig.status()["status"])

    def end_session(self) -> None:
        """Stop from the panel (pause, then key out: the session ends), idle long enough to flush."""
        self.rig.world.key(False)
        self.rig.run_ms(1500)

    def log(self) -> "list[dict[str, Any]]":
        out = []
        for name in ("log.1", "log.0"):
            p = self.flash / name
            if p.exists():
                for line in p.read_bytes().splitlines():
                    out.append(store_mod.decode_record(line)[1])
        return out

    def profile(self, pid: str) -> "dict[str, Any]":
        for line in (self.flash / "clients.json").read_bytes().splitlines():
            d = store_mod.decode_record(line)[1]
            if d["id"] == pid:
                return d
        raise AssertionError(pid + " not on flash")

    def close(self) -> None:
        self.rig.close()


def _code(b: Board, ua: int) -> int:
    return int(ua // (b.rig.board.amplitude.ma_per_code * 1000))


def _refused_then_overridden(b: Board, words: str, reason: str, client: Optional[str]) -> None:
    """START is refused with `words` on the OLED; the override starts it; both are logged."""
    rig = b.rig
    t = rig.now
    assert b.start() == "READY"
    assert rig.status()["reason"] == "refused: " + words
    assert b.message() == "refused: " + words
    assert max(rig.max_dac(c, t) for c in range(4)) == 0
    b.override()
    assert b.start() == "RUNNING"
    b.end_session()
    guard = [r for r in b.log() if r.get("k") == "guard"]
    got = [(r["client"], r["reason"], r["override"]) for r in guard]
    assert got == [(client, reason, False), (client, reason, True)]
    sessions = [r for r in b.log() if r.get("k") == "session"]
    assert [r["client"] for r in sessions] == [client]


# -- one test per rule ---------------------------------------------------------------------------
def rule_never_screened(tmp: Path) -> None:
    """Never screened: refused, not overridable; the supervisor's screening gesture clears it."""
    b = Board(tmp, [_profile("C001", 40, screened=False)])
    try:
        b.select("C001")
        assert b.message() == "C001 0 sess. never screened"
        assert b.start() == "READY"
        assert b.rig.status()["reason"] == "refused: never screened"
        b.override()
        assert b.rig.status()["reason"] == "no override: never screened"
        assert b.start() == "READY"
        # The supervisor confirms the screening: profile selection, start_pause held 2 s, key in.
        b.rig.hold("program", 1200, after_ms=200)
        b.rig.hold("start_pause", 2300, after_ms=SCREEN_MS)
        assert b.rig.status()["reason"] == "screened: C001"
        b.rig.press("program", after_ms=2000)  # leave the selection (the alert's 2 s run out)
        assert b.message().startswith("C001 0 sess. allowed")
        assert b.start() == "RUNNING"
        b.end_session()
        assert T <= b.profile("C001")["screened"] <= T + 60
        guard = [(r["client"], r["reason"], r["override"]) for r in b.log() if r.get("k") == "guard"]
        assert guard == [("C001", "never-screened", False)]  # refused (logged once), no override
    finally:
        b.close()


def rule_too_soon(tmp: Path) -> None:
    """Sooner than min_recovery_h (96 h) after the last session: refused, the time left shown; override."""
    b = Board(tmp, [_profile("C002", 40, sessions=12, last_days=1, peak_ma=10)])
    try:
        b.select("C002")
        assert b.message() == "C002 12 sess. too soon 2d 23h"
        _refused_then_overridden(b, "too soon", "too-soon", "C002")
        p = b.profile("C002")
        assert p["sessions"] == 13 and T <= p["last"] <= T + 60
    finally:
        b.close()


def rule_clock_unknown(tmp: Path) -> None:
    """No valid wall time (the DS3231 stopped): the interval is unknown, never long enough; override."""
    b = Board(tmp, [_profile("C002", 40, sessions=12, last_days=30, peak_ma=10)], rtc_valid=False)
    try:
        b.select("C002")
        assert b.message() == "C002 12 sess. clock not set"
        _refused_then_overridden(b, "clock not set", "clock-unknown", "C002")
        assert b.profile("C002")["last"] is None  # ended without a valid clock: undated
    finally:
        b.close()


def rule_no_profile(tmp: Path) -> None:
    """A policy with anonymous false: no profile is refused; the override starts it, logged as anonymous."""
    b = Board(tmp, [_profile("C002", 40)], policy={"schema": 1, "anonymous": False})
    try:
        b.rig.run_ms(2000 + SCREEN_MS)  # the guard loads in an idle READY 2 s after boot (or at START)
        assert b.message() == "no profile. needs a profile"
        _refused_then_overridden(b, "needs a profile", "no-profile", None)
    finally:
        b.close()


def _ceiling(b: Board, pid: str, want_ma: int, screen: str) -> None:
    """pid selected: the OLED shows the guard's ceiling and duration; + never drives above the ceiling."""
    rig = b.rig
    b.select(pid)
    assert rig.screen()[1].strip() == CONT[:16]  # the profile's preferred program
    assert b.message() == screen
    rows = rig.screen()[2:6]  # four channels, one row each: ">1 0.0/ 20 cha 1"
    assert all(r.split()[1] == "0.0/" and r.split()[2] == str(want_ma) for r in rows), rows
    assert b.start() == "RUNNING"
    t = rig.now
    rig.hold("plus", 12_000)  # 2 steps a second: 24 mA asked
    rig.run_ms(3000)
    assert max(rig.max_dac(c, t) for c in range(4)) == _code(b, want_ma * 1000)
    b.end_session()
    assert b.profile(pid)["peak_ua"][0] == want_ma * 1000  # the history: this session's peak


def rule_novice(tmp: Path) -> None:
    """The novice phase: 50 % of the person's limit and at most 10 min."""
    b = Board(tmp, [_profile("C003", 40)])
    try:
        _ceiling(b, "C003", 20, "C003 0 sess. allowed 10:00")
        assert b.rig.screen()[0].endswith("10:00") or b.profile("C003")["sessions"] == 1
        assert [r["client"] for r in b.log() if r.get("k") == "session"] == ["C003"]
    finally:
        b.close()


def rule_rise(tmp: Path) -> None:
    """After the novice phase: at most the last peak plus max(20 %, 2 mA): 10 mA -> 12 mA."""
    b = Board(tmp, [_profile("C004", 60, sessions=12, last_days=5, peak_ma=10)])
    try:
        _ceiling(b, "C004", 12, "C004 12 sess. allowed 20:00")
    finally:
        b.close()


RULES: "dict[str, Callable[..., None]]" = {
    "never_screened": rule_never_screened,
    "too_soon": rule_too_soon,
    "clock_unknown": rule_clock_unknown,
    "no_profile": rule_no_profile,
    "novice": rule_novice,
    "rise": rule_rise,
}


@pytest.mark.parametrize("rule", list(RULES))
def test_each_rule_through_pin_levels(rule: str, tmp_path: Path) -> None:
    RULES[rule](tmp_path)


def test_a_bad_policy_file_makes_the_board_strictest_and_says_why(tmp_path: Path) -> None:
    b = Board(tmp_path, [_profile("C002", 40)], policy={"schema": 1, "min_recovery_h": 200})
    try:
        rig = b.rig
        rig.run_ms(2000)  # the guard loads in an idle READY 2 s after boot (or at the first START)
        assert any(s["reason"] == "bad policy: min_recovery_h; strictest used" for s in rig.statuses())
        rig.run_ms(2500)  # the alert's time is up: the note stays
        assert b.message() == "strict policy: needs a profile"
        assert b.start() == "READY"  # strictest: no anonymous session without an override
        assert (tmp_path / "flash" / "policy.json.bad-1").exists() or any(
            p.name.startswith("policy.json.bad") for p in (tmp_path / "flash").iterdir())
    finally:
        b.close()


def _settings_limits(b: Board) -> "list[int]":
    p = b.flash / "settings.json"
    return list(store_mod.decode_record(p.read_bytes().splitlines()[0])[1]["limits_ua"]) if p.exists() else []


def test_the_supervisor_creates_a_profile_and_sets_its_limits_with_todays_gesture(tmp_path: Path) -> None:
    b = Board(tmp_path, [_profile("C002", 40)])
    try:
        rig = b.rig
        rig.hold("program", 1200, after_ms=200)
        rig.presses("plus", 2)  # no profile, C002, then "new profile" (only with the key in)
        rig.run_ms(SCREEN_MS)
        assert b.message() == "? new profile: start creates"
        rig.press("start_pause", after_ms=SCREEN_MS)
        assert rig.status()["reason"] == "new profile C001"
        rig.run_ms(2000)
        assert b.message() == "C001 0 sess. never screened"  # a new person: screening first
        board_limits = _settings_limits(b)
        assert b.profile("C001")["limits_ua"] == board_limits  # it starts from the board's limits
        rig.hold("channel", 2200, after_ms=200)  # supervisor mode
        rig.presses("minus", 2)  # every channel's limit 10 mA lower: this person's, not the board's
        rig.hold("channel", 2200, after_ms=1000)
        assert b.profile("C001")["limits_ua"] == [board_limits[0] - 10_000] * 4
        assert _settings_limits(b) == board_limits
        # Without the key there is no "new profile" entry: from C001 (selected) the list wraps past
        # C002 to "no profile".
        rig.world.key(False)
        rig.run_ms(200)
        rig.hold("program", 1200, after_ms=200)
        rig.presses("plus", 2)
        rig.run_ms(SCREEN_MS)
        assert b.message() == "? no profile. allowed 20:00"
    finally:
        b.close()
