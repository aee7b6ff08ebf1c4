"""Bench: the serial console under a seeded fuzz of random and mutated request lines.

The firmware's console (stim.console) runs with a real controller, supervisor and store on the
RP2040 model (picostim.consolerig). Lines go straight into Console.handle_line() (fast), and a
share of them, including every line over LINE_MAX bytes and every one with a newline inside,
through the byte framing (Port -> Console.step()). Before each line the state is snapshotted
(supervisor, controller, store, recorder); after it the oracle checks:

- no exception escaped the console (a crash);
- the line got exactly one final reply, a JSON object with "ok" true or false (blank lines none);
- a refused line ("ok": false) left the snapshot exactly as it was (a state change on reject);
- the console only ever asked the controller for STOP or SET_LIMIT, a session never started,
  and no set point or level rose (a start or a raise).

The fuzz runs in three phases: key out (SAFE), key in (READY), and a session RUNNING (started
and raised from the panel, as only the panel may), restarted from the panel whenever a fuzzed
"stop" ended it.

Figures: console.fuzz_lines, console.crashes, console.state_changes_on_reject (must be 0),
console.starts_or_raises (must be 0), console.bad_replies (must be 0), console.rejected_lines,
console.fuzz_lines_per_s.
"""

import json
import random
import sys
import time
import traceback
from typing import Any, Callable, Optional

from picostim.boardcheck import _use_firmware
from picostim.consolerig import Rig
from picostim.fakehw import micropython_shim

_use_firmware()
sys.modules.setdefault("micropython", micropython_shim)  # firmware modules import micropython.const
from stim import console as fw_console  # noqa: E402 - firmware/ is importable only after _use_firmware()
from stim import supervisor as sv  # noqa: E402

SEED = 7
LINES = 100_000
FRAMED_SHARE = 0.05  # of the lines, sent through the byte framing rather than handle_line()

PROGRAM = {"name": "fz", "freq_hz": 50, "width_us": 200, "on_s": 4, "off_s": 6, "ramp_up_s": 1,
           "ramp_down_s": 1, "duration_min": 10, "max_ma": 30,
           "channels": [{"label": "a"}, {"label": "b", "used": False}]}


def valid_requests(rng: random.Random) -> list[dict[str, Any]]:
    """One well-formed request of every command, with plausible values."""
    return [
        {"cmd": "status"}, {"cmd": "version"}, {"cmd": "board"}, {"cmd": "stop"},
        {"cmd": "programs.list"}, {"cmd": "programs.get", "name": rng.choice(["lower_back", "fz", "strength"])},
        {"cmd": "programs.put", "program": dict(PROGRAM, name=rng.choice(["fz", "fz2", "p_" + str(rng.randrange(40))]),
                                                freq_hz=rng.randrange(1, 151))},
        {"cmd": "limits.get"},
        {"cmd": "limits.set", "ch": rng.randrange(1, 5), "ua": rng.randrange(0, 100_001)},
        {"cmd": "log.export", "since": rng.randrange(0, 5)},
        {"cmd": "time.set", "epoch_s": rng.randrange(fw_console.EPOCH_MIN, fw_console.EPOCH_MAX)},
        {"cmd": "status", "id": rng.randrange(1000)},
        {"cmd": "diag", "collect": rng.random() < 0.05},  # a collection is slow on CPython: rarely
        {"cmd": "clients.list"},
        {"cmd": "clients.get", "client": "C" + str(rng.randrange(8))},
        {"cmd": "clients.put", "profile": {"id": "C" + str(rng.randrange(8)),
                                           "limits_ua": [rng.randrange(0, 100_001, 500) for _ in range(4)],
                                           "screened": rng.choice([None, 1_767_225_600])}},
        {"cmd": "clients.delete", "client": "C" + str(rng.randrange(8))},
    ]


_ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, -0.0, 1e308, -1e308, 10**30, -(10**30), 2**31, 2**63,
                          "", "0", "1", "status", "\u0000", "\ud7ff\ue000", "\U0001f600" * 3, "\u202e", [], [1],
                          {}, {"cmd": "status"}, "x" * 300]
_TOKENS = ["{", "}", "[", "]", ",", ":", '"', "\\", "\\u", "\\ud800", "null", "true", "1e999", "-", "NaN",
           "Infinity", "\x00", "\r", "\t", " ", "\xff", "\u00e9", "\U0001f4a5"]


def _json(d: Any, rng: random.Random) -> bytes:
    ascii_only = rng.random() < 0.5
    return json.dumps(d, ensure_ascii=ascii_only, separators=(",", ":") if rng.random() < 0.5 else None).encode()


def mutate(d: dict[str, Any], rng: random.Random) -> bytes:
    """One mutation of a valid request: a type swap, a huge number, nesting, a key change, or a byte-level edit."""
    d = json.loads(json.dumps(d))
    kind = rng.randrange(12)
    keys = list(d)
    if kind == 0 and keys:  # type swap
        d[rng.choice(keys)] = rng.choice(_ODD_VALUES)
    elif kind == 1:  # huge / odd numbers in every numeric field
        for k in keys:
            if isinstance(d[k], int) and k != "cmd":
                d[k] = rng.choice([10 ** rng.randrange(1, 300), -(10 ** rng.randrange(1, 300)), 1e300, 0.1, -1])
        d[rng.choice(["ch", "ua", "epoch_s", "since", "id"])] = rng.choice([2**64, -(2**64), 1e-300])
    elif kind == 2:  # nesting
        depth = rng.randrange(1, 400)
        k = rng.choice(keys)
        v: Any = d[k]
        for _ in range(depth):
            v = [v] if rng.random() < 0.5 else {"a": v}
        d[k] = v
    elif kind == 3:  # unknown, missing or renamed keys
        op = rng.randrange(3)
        if op == 0:
            d[rng.choice(["x", "CMD", "cmd ", "program", "ch", "\u0000", "id"])] = rng.choice(_ODD_VALUES)
        elif op == 1 and len(keys) > 1:
            del d[rng.choice(keys[1:] or keys)]
        else:
            d.pop("cmd", None)
    elif kind == 4:  # the command name
        c = str(d.get("cmd", ""))
        d["cmd"] = rng.choice([c.upper(), c + " ", " " + c, c[:-1], c + "x", c.replace(".", "_"), "start", "plus",
                               "programs.start", "limits.raise", "run", "repl", "\u0000" + c, c * 2])
    elif kind == 5 and "program" in d:  # a program field out of range or mistyped
        p = d["program"]
        p[rng.choice(["freq_hz", "width_us", "max_ma", "on_s", "burst", "channels", "name", "duration_min",
                      "extra"])] = rng.choice([*_ODD_VALUES, 10**6, -5, 0, 151, 19, 1001])
    raw = _json(d, rng)
    if kind == 6 and raw:  # bit flips
        b = bytearray(raw)
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        raw = bytes(b)
    elif kind == 7 and raw:  # truncation
        raw = raw[:rng.randrange(len(raw))]
    elif kind == 8:  # NULs and control bytes spliced in
        i = rng.randrange(len(raw) + 1)
        raw = raw[:i] + rng.choice([b"\x00", b"\x00\x00\x00", b"\x03", b"\x04", b"\x1b[A", b"\r"]) + raw[i:]
    elif kind == 9:  # token soup spliced in
        i = rng.randrange(len(raw) + 1)
        soup = "".join(rng.choice(_TOKENS) for _ in range(rng.randrange(1, 12)))
        raw = raw[:i] + soup.encode("utf-8", "surrogatepass") + raw[i:]
    elif kind == 10:  # two requests on one line, or a request and junk
        raw = raw + rng.choice([b"", b" ", b"x", b"}"]) + _json(rng.choice(valid_requests(rng)), rng)
    elif kind == 11:  # invalid UTF-8
        i = rng.randrange(len(raw) + 1)
        raw = raw[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]) + raw[i:]
    return raw


def random_line(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.10:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    if r < 0.15:  # random printable text
        return "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 120))).encode()
    if r < 0.20:  # random JSON values
        return _json(rng.choice(_ODD_VALUES), rng)
    if r < 0.30:  # valid requests as they are
        return _json(rng.choice(valid_requests(rng)), rng)
    if r < 0.31:  # oversize
        pad = b"y" * rng.randrange(fw_console.LINE_MAX - 20, 3 * fw_console.LINE_MAX)
        return b'{"cmd":"status","pad":"' + pad + b'"}'
    return mutate(rng.choice(valid_requests(rng)), rng)


class Fuzz:
    """The console of one Rig under fuzz, with the oracle's counters."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.rig = Rig()
        self.lines = 0
        self.crashes = 0
        self.rejected = 0
        self.state_changes_on_reject = 0
        self.starts_or_raises = 0
        self.bad_replies = 0
        self.examples: list[str] = []  # the first few failures, for the report
        self.intents: list[int] = []
        ctl = self.rig.ctl
        real = ctl.request

        def spy(intent: int, ch: int = sv.ALL, arg: int = 0) -> bool:
            self.intents.append(intent)
            return bool(real(intent, ch, arg))

        ctl.request = spy  # type: ignore[method-assign]  # the oracle sees every intent the console asks for

    # -- the state the oracle compares ----------------------------------------------------------
    def snapshot(self) -> tuple[Any, ...]:
        ctl = self.rig.ctl
        sup = ctl.sup
        rec = ctl.recorder
        st = rec.store if rec is not None else None
        return (sup.state, sup.fault, sup.alert, sup.end_reason, tuple(sup.limit_ua), tuple(sup.level_ua),
                tuple(sup.setpoint_ua), tuple(sup.program_cap_ua), sup.session_ms, sup.sessions,
                ctl.program_index, ctl.program.name if ctl.program is not None else None,
                tuple(id(p) for p in ctl.programs), ctl._q_len, ctl.error,
                rec.wall_base if rec is not None else None, rec._wall_at_ms if rec is not None else None,
                tuple(sorted(st.programs)) if st is not None else (), st.pending() if st is not None else 0,
                json.dumps(st.settings.fields(), sort_keys=True) if st is not None else "",
                st.warn_count if st is not None else 0, tuple(sorted(self.rig.fs.files().items())),
                self.rig.clients.encode() if self.rig.clients is not None else b"")

    def _fail(self, what: str, line: bytes) -> None:
        if len(self.examples) < 5:
            self.examples.append("%s: %r" % (what, line[:200]))

    # -- phases ----------------------------------------------------------------------------------
    def phase(self, name: str) -> None:
        rig = self.rig
        if name == "safe":
            rig.key(False)
            rig.tick(5)
        elif name == "ready":
            rig.key(True)
            rig.estop(False)
            rig.tick(10)
        elif name == "running":
            self.start_session()

    def start_session(self) -> None:
        """Only the panel starts a session and raises its level."""
        rig = self.rig
        rig.key(True)
        rig.estop(False)
        rig.tick(10)
        ctl = rig.ctl
        if ctl.sup.state == sv.FAULT:
            rig.key(False)
            rig.tick(5)
            rig.key(True)
            rig.tick(10)
        for i in range(len(ctl.programs)):  # a program that uses a channel with room above 0
            if ctl.programs[i].name == "lower_back":
                ctl.select_program(i)
        for c in range(ctl.n):
            ctl.sup.limit_ua[c] = max(ctl.sup.limit_ua[c], 20_000)  # a test fixture: give the panel room to raise
        rig.press("start_pause")
        for _ in range(3):
            rig.press("plus")
        rig.tick(50)

    # -- one line -----------------------------------------------------------------------------------
    def one(self, line: bytes, framed: bool) -> None:
        rig = self.rig
        ctl = rig.ctl
        sup = ctl.sup
        self.lines += 1
        before = self.snapshot()
        was_running = sup.state == sv.RUNNING
        sp_before = list(sup.setpoint_ua)
        lv_before = list(sup.level_ua)
        n_intents = len(self.intents)
        try:
            replies = self._framed(line) if framed else self._direct(line)
        except Exception:  # noqa: BLE001 - counted: nothing may escape the console
            self.crashes += 1
            self._fail("crash " + traceback.format_exc(limit=3), line)
            return
        finals = [r for r in replies if isinstance(r, dict) and "ok" in r]
        expected = sum(1 for seg in line.split(b"\n") if seg.strip() or len(seg) > fw_console.LINE_MAX)
        if len(finals) != expected or any(not isinstance(r, dict) for r in replies) \
                or any(r["ok"] is False and not r.get("error") for r in finals):
            self.bad_replies += 1
            self._fail("%d final replies, %d expected" % (len(finals), expected), line)
        if any(r["ok"] is False for r in finals) and len(finals) == 1:
            self.rejected += 1
            if self.snapshot() != before:
                self.state_changes_on_reject += 1
                self._fail("state changed on a rejected line", line)
        bad_intent = any(i not in (sv.STOP, sv.SET_LIMIT) for i in self.intents[n_intents:])
        started = sup.state == sv.RUNNING and not was_running
        raised = any(sup.setpoint_ua[c] > sp_before[c] for c in range(ctl.n)) or any(
            sup.level_ua[c] > max(lv_before[c], sp_before[c]) for c in range(ctl.n))
        if bad_intent or started or raised:
            self.starts_or_raises += 1
            self._fail("start or raise", line)

    def _direct(self, line: bytes) -> list[Any]:
        con = self.rig.con
        r = con.handle_line(line)
        if r is not None:
            self.rig.port.lines()  # the reply is also queued for the port: drop it, r is it
            con._out.clear()
            return [r]
        if not con.busy:
            return []  # a blank line
        return self._drain()

    def _framed(self, line: bytes) -> list[Any]:
        self.rig.port.feed(line + b"\n")
        return self._drain()

    def _drain(self) -> list[Any]:
        """Step the console (ticking the controller only when a limits.set waits for it) until idle."""
        rig = self.rig
        con = rig.con
        clock = rig.chip.clock
        for _ in range(5000):
            if con._lim_ch >= 0:
                clock.advance(10_000_000)
                rig.ctl.tick(clock.ticks_ms())
            con.step(clock.ticks_ms())
            if not con.busy and rig.port.pending() == 0 and con._rx_pos >= con._rx_len:
                break
        out = []
        for raw in rig.port.lines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append(raw)  # not JSON: a bad reply
        return out

    def run(self, n: int, progress: Callable[[str], None] = lambda _s: None) -> None:
        phases = ("safe", "ready", "running")
        per = max(1, n // len(phases))
        done = 0
        for k, name in enumerate(phases):
            self.phase(name)
            count = per if k < len(phases) - 1 else n - done
            for i in range(count):
                if name == "running" and i % 500 == 0 and self.rig.ctl.sup.state != sv.RUNNING:
                    self.start_session()
                line = random_line(self.rng)
                framed = self.rng.random() < FRAMED_SHARE or len(line) > fw_console.LINE_MAX or b"\n" in line
                self.one(line, framed)
                done += 1
                if done % 20_000 == 0:
                    progress("%d lines, %d crashes, %d state changes on reject, %d starts or raises"
                             % (done, self.crashes, self.state_changes_on_reject, self.starts_or_raises))

    def figures(self) -> dict[str, int]:
        return {"console.fuzz_lines": self.lines, "console.crashes": self.crashes,
                "console.state_changes_on_reject": self.state_changes_on_reject,
                "console.starts_or_raises": self.starts_or_raises, "console.bad_replies": self.bad_replies,
                "console.rejected_lines": self.rejected}


def measure(progress: Callable[[str], None], lines: int = LINES, seed: Optional[int] = None) -> dict[str, Any]:
    f = Fuzz(SEED if seed is None else seed)
    t0 = time.monotonic()
    f.run(lines, progress)
    dt = time.monotonic() - t0
    for ex in f.examples:
        progress("example: " + ex)
    figs: dict[str, Any] = dict(f.figures())
    figs["console.fuzz_lines_per_s"] = round(lines / dt) if dt > 0 else 0
    return figs
