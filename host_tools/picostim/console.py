"""`picostim console`: talk to a running board's serial console (docs/console.md) over pyserial.

    picostim console --port /dev/ttyACM0 status
    picostim console --port /dev/pts/5 log --csv > sessions.csv

Works the same against a real board and against the simulator's pseudo-terminal (`picostim sim`
prints its path). Every request carries an "id"; lines that are not the reply to it (status lines
the firmware prints on changes, replies to earlier input) are skipped.
"""

import csv
import io
import itertools
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Callable, Optional

import serial

DEFAULT_TIMEOUT_S = 3.0
BAUD = 115200  # ignored by USB CDC, needed by real UARTs and harmless on a pty


class ConsoleError(Exception):
    """What went wrong, in words for the user (no traceback needed)."""


class Client:
    """One open serial port. `request()` sends one command and returns its reply."""

    def __init__(self, port: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                 opener: Optional[Callable[..., Any]] = None) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        try:
            self._ser = (opener or serial.Serial)(port, BAUD, timeout=0.05, write_timeout=timeout_s)
        except (OSError, serial.SerialException) as e:
            raise ConsoleError("cannot open %s: %s" % (port, e)) from None
        self._buf = b""
        try:
            self._ser.reset_input_buffer()  # old output is not a reply to us
            self._ser.write(b"\n")  # end any half line a previous program left in the board's buffer
        except (OSError, serial.SerialException) as e:
            self.close()
            raise ConsoleError("%s: %s" % (port, e)) from None

    def close(self) -> None:
        try:
            self._ser.close()
        except (OSError, serial.SerialException):
            pass

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _readline(self, deadline: float) -> Optional[bytes]:
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = self._buf[:i]
                self._buf = self._buf[i + 1:]
                return line.rstrip(b"\r")
            if time.monotonic() >= deadline:
                return None
            try:
                chunk = self._ser.read(self._ser.in_waiting or 1)
            except (OSError, serial.SerialException) as e:
                raise ConsoleError("%s: read failed: %s" % (self.port, e)) from None
            self._buf += chunk

    def request(self, cmd: str, on_record: Optional[Callable[[dict[str, Any]], None]] = None,
                **fields: Any) -> dict[str, Any]:
        """Send {"cmd": cmd, **fields}; return the final reply (raises ConsoleError unless "ok").

        Records that come before it ({"log": ...}) go to on_record. The timeout counts from the
        request and restarts with every record, so a long export does not time out while it flows.
        """
        rid = next(self._ids)
        req = {"cmd": cmd, **fields, "id": rid}
        data = json.dumps(req, separators=(",", ":")).encode() + b"\n"
        try:
            self._ser.write(data)
            self._ser.flush()
        except (OSError, serial.SerialException) as e:
            raise ConsoleError("%s: write failed: %s" % (self.port, e)) from None
        deadline = time.monotonic() + self.timeout_s
        while True:
            line = self._readline(deadline)
            if line is None:
                raise ConsoleError(
                    "no reply to %r from %s within %.1f s: is the board running main.py? (the console answers"
                    " only while the firmware runs, not at the REPL or in maintenance mode)" % (cmd, self.port,
                                                                                                self.timeout_s))
            try:
                msg = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue  # not a console line (a traceback, REPL text): not ours
            if not isinstance(msg, dict):
                continue
            if "log" in msg and on_record is not None and isinstance(msg["log"], dict):
                on_record(msg["log"])
                deadline = time.monotonic() + self.timeout_s
                continue
            if msg.get("id") != rid or "ok" not in msg:
                continue
            if msg["ok"] is not True:
                raise ConsoleError(str(msg.get("error", "refused")))
            del msg["id"]
            return msg


# -- presenting replies --------------------------------------------------------------------------
def _ma(ua: Any) -> str:
    return "%g mA" % (ua / 1000) if isinstance(ua, int) else "?"


def _wall(epoch: Any) -> str:
    if not isinstance(epoch, int):
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_status(r: dict[str, Any]) -> str:
    lines = ["state     %s%s" % (r.get("state"), "  (fault: %s)" % r["fault"] if r.get("fault") else ""),
             "key       %s   e-stop %s" % ("in" if r.get("key") else "out",
                                         "PRESSED" if r.get("estop") else "released"),
             "program   %s   session %.1f s of %.0f s" % (r.get("program"), r.get("session_ms", 0) / 1000,
                                                         r.get("session_limit_ms", 0) / 1000)]
    for i, (lv, lim, cap) in enumerate(zip(r.get("level_ua", []), r.get("limit_ua", []), r.get("cap_ua", []),
                                           strict=False)):
        lines.append("CH%d       level %-9s limit %-9s cap %s" % (i + 1, _ma(lv), _ma(lim), _ma(cap)))
    if r.get("alert"):
        lines.append("alert     " + str(r["alert"]))
    if r.get("end"):
        lines.append("last end  " + str(r["end"]))
    lines.append("clock     t=%s ms%s" % (r.get("t_ms"), ("  wall " + _wall(r.get("wall"))) if r.get("wall") else
                                          "  (wall clock not set: picostim console time-set)"))
    for w in r.get("warnings", []):
        lines.append("warning   " + str(w))
    return "\n".join(lines)


CSV_COLUMNS = ("n", "kind", "program", "start_ms", "end_ms", "start_utc", "end_utc", "stim_s", "end", "fault",
               "peak_ma", "limit_ma", "detail")


def csv_row(rec: dict[str, Any]) -> list[str]:
    """One log record as a CSV row (CSV_COLUMNS); channels are ';'-separated, CH1 first."""
    kind = str(rec.get("k", ""))
    raw = rec.get("ch")
    ch: list[Any] = raw if isinstance(raw, list) else []
    peaks = ";".join("%g" % (c[0] / 1000) for c in ch if isinstance(c, list) and len(c) == 2)
    limits = ";".join("%g" % (c[1] / 1000) for c in ch if isinstance(c, list) and len(c) == 2)
    if kind == "session":
        start, end = rec.get("t0_ms"), rec.get("t1_ms")
        w0, w1 = rec.get("wall0"), rec.get("wall1")
        detail = "; ".join(str(f) for f in rec.get("faults", []) or [])
    else:
        start, end, w0, w1 = rec.get("t_ms"), None, rec.get("wall"), None
        detail = str(rec.get("cause") or rec.get("msg") or rec.get("count") or "")
    return [_s(rec.get("n")), kind, _s(rec.get("prog")), _s(start), _s(end), _wall(w0), _wall(w1),
            _s(rec.get("stim_s")), _s(rec.get("end")), _s(rec.get("fault")), peaks, limits, detail]


def _s(v: Any) -> str:
    return "" if v is None else str(v)


# -- the command ---------------------------------------------------------------------------------
def run(args: Any, out: IO[str] = sys.stdout, opener: Optional[Callable[..., Any]] = None) -> int:
    """`picostim console` with parsed arguments; returns the exit status."""
    try:
        with Client(args.port, args.timeout, opener) as c:
            return _run(c, args, out)
    except ConsoleError as e:
        print("picostim console: " + str(e), file=sys.stderr)
        return 1


def _run(c: Client, args: Any, out: IO[str]) -> int:
    verb = args.verb
    if verb == "status":
        r = c.request("status")
        out.write((json.dumps(r) if args.json else format_status(r)) + "\n")
    elif verb in ("version", "board", "stop"):
        r = c.request(verb)
        if args.json or verb != "stop":
            out.write(json.dumps(r, indent=None if args.json else 2) + "\n")
        else:
            out.write("stopped a running session\n" if r.get("ended") else "no session was running\n")
    elif verb == "time-set":
        epoch = int(args.epoch if args.epoch is not None else time.time())
        r = c.request("time.set", epoch_s=epoch)
        out.write("board wall clock set to %s\n" % _wall(r.get("wall")))
    elif verb == "limits":
        _limits(c, args, out)
    elif verb == "programs":
        _programs(c, args, out)
    elif verb == "log":
        _log(c, args, out)
    else:
        raise ConsoleError("unknown verb " + repr(verb))
    return 0


def _limits(c: Client, args: Any, out: IO[str]) -> None:
    op = args.op or "get"
    if op == "get":
        r = c.request("limits.get")
        if args.json:
            out.write(json.dumps(r) + "\n")
            return
        for i, (lim, mx) in enumerate(zip(r["limit_ua"], r["max_ua"], strict=False)):
            out.write("CH%d  limit %-9s (channel max %s)\n" % (i + 1, _ma(lim), _ma(mx)))
        return
    if op != "set" or len(args.rest) != 2:
        raise ConsoleError("usage: picostim console --port PORT limits set CH MA")
    try:
        ch = int(args.rest[0])
        ua = round(float(args.rest[1]) * 1000)
    except ValueError:
        raise ConsoleError("limits set: CH is a channel number (1..) and MA a current in mA") from None
    r = c.request("limits.set", ch=ch, ua=ua)
    out.write("CH%d limit now %s\n" % (r["ch"], _ma(r["limit_ua"])))


def _programs(c: Client, args: Any, out: IO[str]) -> None:
    op = args.op or "list"
    if op == "list":
        r = c.request("programs.list")
        if args.json:
            out.write(json.dumps(r) + "\n")
            return
        for p in r["programs"]:
            mark = "*" if p["name"] == r.get("selected") else " "
            out.write("%s %-24s %s\n" % (mark, p["name"], "built-in" if p["builtin"] else "custom"))
        return
    if op == "get" and len(args.rest) == 1:
        r = c.request("programs.get", name=args.rest[0])
        out.write(json.dumps(r["program"], indent=None if args.json else 2) + "\n")
        return
    if op == "put" and len(args.rest) == 1:
        path = Path(args.rest[0])
        try:
            prog = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ConsoleError("%s: %s" % (path, e)) from None
        r = c.request("programs.put", program=prog)
        out.write("stored program %s%s\n" % (r["name"], "" if r.get("applied", True) else
                                               " (not applied to the selected program: see status)"))
        return
    raise ConsoleError("usage: picostim console --port PORT programs [list | get NAME | put FILE]")


def _log(c: Client, args: Any, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n") if args.csv else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)

    def record(rec: dict[str, Any]) -> None:
        if writer is not None:
            writer.writerow(csv_row(rec))
        else:
            out.write(json.dumps(rec) + "\n")

    fields: dict[str, Any] = {}
    if args.since is not None:
        fields["since"] = args.since
    r = c.request("log.export", on_record=record, **fields)
    msg = "%d records" % r.get("records", 0)
    if r.get("skipped"):
        msg += ", %d damaged lines skipped" % r["skipped"]
    if r.get("in_ram"):
        msg += ", %d items still in the board's RAM (written once the outputs are idle)" % r["in_ram"]
    print("picostim console: log: " + msg, file=sys.stderr)


def add_parser(sub: Any) -> None:
    """Add `console` to the `picostim` argument parser (cli.py)."""
    p = sub.add_parser("console", help="talk to a running board's serial console (docs/console.md)")
    p.add_argument("--port", required=True, help="serial port: /dev/ttyACM0, COM3, or the simulator's pty")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="wait this long for a reply (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print replies as JSON")
    vs = p.add_subparsers(dest="verb", required=True)
    vs.add_parser("status", help="state, levels, limits, program, faults")
    lg = vs.add_parser("log", help="export the session log (JSON lines, or CSV)")
    lg.add_argument("--csv", action="store_true", help="CSV with a header row instead of JSON lines")
    lg.add_argument("--since", type=int, default=None, metavar="N", help="only records numbered N and later")
    pr = vs.add_parser("programs", help="programs list | get NAME | put FILE")
    pr.add_argument("op", nargs="?", choices=("list", "get", "put"))
    pr.add_argument("rest", nargs="*")
    li = vs.add_parser("limits", help="limits get | set CH MA (set needs the supervisor key in)")
    li.add_argument("op", nargs="?", choices=("get", "set"))
    li.add_argument("rest", nargs="*")
    ts = vs.add_parser("time-set", help="set the board's wall clock (for the log) to now")
    ts.add_argument("--epoch", type=int, default=None, help="seconds since 1970 (default: now)")
    vs.add_parser("stop", help="stop a running session (always allowed)")
    vs.add_parser("version", help="firmware and MicroPython versions")
    vs.add_parser("board", help="the board's name, channels and limits")
    p.set_defaults(func=run)


def csv_text(records: list[dict[str, Any]]) -> str:
    """The CSV `log --csv` writes, for a list of records."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in records:
        w.writerow(csv_row(r))
    return buf.getvalue()
