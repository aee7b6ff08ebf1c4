"""`picostim clients export` and `picostim report`: client profiles as CSV, a client's progress as a PNG.

    picostim clients export --port /dev/ttyACM0 [-o clients.csv]
    picostim report --port /dev/ttyACM0 --client C017 -o report.png
    picostim report --log log.jsonl --client C017 -o report.png

`clients export` reads every profile over the console (clients.list, then
clients.get each) and writes one CSV row per profile (EXPORT_COLUMNS; currents
in mA, channels ';'-separated, dates as UTC).

`report` draws, per channel, the peak of each of the client's sessions and the
limit it ran under, in session order, and marks where the dose guard refused a
session (x) or the supervisor overrode a refusal (^). The records come from the
board's log (log.export over --port) or, without a board, from a log exported
before with `picostim console --port P log > log.jsonl` (JSON lines, one
record each). Session records carry "client"; guard records (stim.store
log_guard) carry "client", "reason" and "override".
"""

import csv
import json
import math
import sys
from pathlib import Path
from typing import IO, Any, Optional

from picostim.console import Client, ConsoleError, _wall

EXPORT_COLUMNS = ("id", "sessions", "screened_utc", "last_utc", "program", "limit_ma", "last_peak_ma")


def _ma_list(v: Any) -> str:
    return ";".join("%g" % (x / 1000) for x in v) if isinstance(v, list) else ""


def export_row(p: dict[str, Any]) -> list[str]:
    return [str(p.get("id", "")), str(p.get("sessions", "")), _wall(p.get("screened")), _wall(p.get("last")),
            "" if p.get("program") is None else str(p["program"]), _ma_list(p.get("limits_ua")),
            _ma_list(p.get("peak_ua"))]


def export(c: Client, out: IO[str]) -> int:
    """Write the CSV of every profile on the board; return how many."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(EXPORT_COLUMNS)
    ids = [e["id"] for e in c.request("clients.list")["clients"]]
    for pid in ids:
        w.writerow(export_row(c.request("clients.get", client=pid)["profile"]))
    return len(ids)


# -- the report --------------------------------------------------------------------------------
def read_log_file(path: Path) -> list[dict[str, Any]]:
    """Records from an exported log: JSON lines, either records or {"log": record} lines."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except ValueError:
            raise ValueError("%s:%d: not a JSON line (export the log with `picostim console --port P log`)"
                             % (path, i)) from None
        if isinstance(d, dict) and isinstance(d.get("log"), dict):
            d = d["log"]
        if isinstance(d, dict) and "k" in d:
            out.append(d)
    return out


def client_events(records: list[dict[str, Any]], client: str) -> list[dict[str, Any]]:
    """The client's sessions and guard decisions, in log order."""
    return [r for r in records if r.get("client") == client and r.get("k") in ("session", "guard")]


def draw(events: list[dict[str, Any]], client: str, output: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = [e for e in events if e["k"] == "session"]
    nch = max((len(s.get("ch") or []) for s in sessions), default=1) or 1
    fig, axes = plt.subplots(nch, 1, figsize=(8, 2.2 * nch + 1), sharex=True, squeeze=False)
    # x: the session's index; a guard decision sits half a step before the session it preceded
    xs: list[float] = []
    refused: list[float] = []
    overridden: list[float] = []
    k = 0
    for e in events:
        if e["k"] == "session":
            k += 1
            xs.append(float(k))
        elif e.get("override"):
            overridden.append(k + 0.5)
        else:
            refused.append(k + 0.5)
    for ch in range(nch):
        ax = axes[ch][0]
        peaks = [s["ch"][ch][0] / 1000 if ch < len(s.get("ch") or []) else float("nan") for s in sessions]
        limits = [s["ch"][ch][1] / 1000 if ch < len(s.get("ch") or []) else float("nan") for s in sessions]
        ax.plot(xs, limits, drawstyle="steps-mid", color="0.5", label="limit")
        ax.plot(xs, peaks, marker="o", color="C0", label="peak")
        top = max([x for x in peaks + limits if not math.isnan(x)] or [1.0])
        if refused:
            ax.plot(refused, [top * 1.05] * len(refused), "x", color="C3", label="guard refused")
        if overridden:
            ax.plot(overridden, [top * 1.05] * len(overridden), "^", color="C1", label="override")
        ax.set_ylabel("CH%d mA" % (ch + 1))
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(loc="upper left", fontsize="small", ncol=4)
    axes[0][0].set_title("client %s: %d sessions, %d refusals, %d overrides" % (client, len(sessions), len(refused),
                                                                               len(overridden)))
    axes[-1][0].set_xlabel("session")
    fig.tight_layout()
    fig.savefig(output, format="png")
    plt.close(fig)


def report(records: list[dict[str, Any]], client: str, output: str) -> int:
    events = client_events(records, client)
    if not events:
        raise ValueError("no sessions or guard decisions of client %s in the log" % client)
    draw(events, client, output)
    return sum(1 for e in events if e["k"] == "session")


# -- the commands --------------------------------------------------------------------------------
def run_export(args: Any, opener: Optional[Any] = None) -> int:
    try:
        with Client(args.port, args.timeout, opener) as c:
            if args.output:
                with open(args.output, "w", newline="", encoding="utf-8") as f:
                    n = export(c, f)
            else:
                n = export(c, sys.stdout)
    except (ConsoleError, OSError) as e:
        print("picostim clients export: " + str(e), file=sys.stderr)
        return 1
    print("picostim clients export: %d profiles" % n, file=sys.stderr)
    return 0


def run_report(args: Any, opener: Optional[Any] = None) -> int:
    try:
        if args.log:
            records = read_log_file(Path(args.log))
        else:
            records = []
            with Client(args.port, args.timeout, opener) as c:
                c.request("log.export", on_record=records.append)
        n = report(records, args.client, args.output)
    except (ConsoleError, OSError, ValueError) as e:
        print("picostim report: " + str(e), file=sys.stderr)
        return 1
    print("picostim report: %d sessions of %s -> %s" % (n, args.client, args.output), file=sys.stderr)
    return 0


def add_parsers(sub: Any) -> None:
    """`clients export` and `report` for the `picostim` argument parser (cli.py)."""
    from picostim.console import DEFAULT_TIMEOUT_S

    cl = sub.add_parser("clients", help="client profiles on a board (docs/clients.md)")
    cs = cl.add_subparsers(dest="clients_command", required=True)
    ex = cs.add_parser("export", help="every profile as CSV")
    ex.add_argument("--port", required=True, help="the board's serial port (or the simulator's pty)")
    ex.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS")
    ex.add_argument("-o", "--output", default=None, metavar="FILE.csv", help="default: standard output")
    ex.set_defaults(func=run_export)

    rp = sub.add_parser("report", help="a client's peaks and limits over the sessions, guard refusals and overrides,"
                                       " as a PNG")
    src = rp.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", help="read the log from the board")
    src.add_argument("--log", metavar="FILE", help="a log exported before (picostim console --port P log > FILE)")
    rp.add_argument("--client", required=True, metavar="ID")
    rp.add_argument("-o", "--output", required=True, metavar="FILE.png")
    rp.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS")
    rp.set_defaults(func=run_report)
