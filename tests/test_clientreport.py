"""`picostim clients export` and `picostim report` against the simulated board on a pty, and from a log file."""

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

from picostim import cli, clientreport, serialbridge
from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod
from stim import store

MS = 1_000_000
BOARD = BOARDS_DIR / "stim4.json"
T = 1_767_225_600


def _session(n: int, client: "str | None", peak: int, limit: int) -> dict[str, object]:
    return {"n": n, "k": "session", "prog": "lower_back", "t0_ms": 0, "t1_ms": 1, "wall0": T, "wall1": T + 600,
            "ch": [[peak, limit], [peak // 2, limit]], "stim_s": 600, "end": "completed", "fault": None,
            "faults": [], "nfaults": 0, "client": client}


def _guard(n: int, client: str, override: bool) -> dict[str, object]:
    return {"n": n, "k": "guard", "client": client, "reason": "too-soon", "override": override, "t_ms": 0,
            "wall": T}


def test_the_cli_parses_the_new_verbs() -> None:
    a = cli.build_parser().parse_args(["clients", "export", "--port", "/dev/x"])
    assert a.func is clientreport.run_export and a.output is None
    a = cli.build_parser().parse_args(["report", "--log", "f.jsonl", "--client", "C1", "-o", "r.png"])
    assert a.func is clientreport.run_report and a.log == "f.jsonl" and a.port is None


def test_a_report_from_an_exported_log_file_marks_refusals_and_overrides(tmp_path: Path) -> None:
    recs = [_session(0, "C1", 5_000, 10_000), _guard(1, "C1", False), _guard(2, "C1", True),
            _session(3, "C1", 7_000, 10_000), _session(4, "C2", 9_000, 9_000), _session(5, None, 1, 1)]
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps({"log": r} if i % 2 else r) for i, r in enumerate(recs)) + "\n")
    events = clientreport.client_events(clientreport.read_log_file(log), "C1")
    assert [e["n"] for e in events] == [0, 1, 2, 3]
    out = tmp_path / "r.png"
    rc = clientreport.run_report(SimpleNamespace(log=str(log), port=None, client="C1", output=str(out), timeout=1))
    assert rc == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5_000
    rc = clientreport.run_report(SimpleNamespace(log=str(log), port=None, client="C9", output=str(out), timeout=1))
    assert rc == 1
    log.write_text("not json\n")
    rc = clientreport.run_report(SimpleNamespace(log=str(log), port=None, client="C1", output=str(out), timeout=1))
    assert rc == 1


def test_export_and_report_talk_to_the_simulated_board(tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    # a log from earlier sessions of C3 (the session records the store writes, client id included)
    (flash / "log.0").write_bytes(b"".join(store.encode_record(store.LOG_VERSION, r) for r in (
        _session(0, "C3", 4_000, 8_000), _guard(1, "C3", True), _session(2, "C3", 6_000, 8_000))))
    with BoardRunner(BOARD, flash_dir=flash) as r:
        w = World(r.chip, board_mod.load(str(BOARD)))
        w.key(True)
        w.estop(False)
        r.run_for(200 * MS)
        with serialbridge.start(r) as bridge, serialbridge.Pacer(r, speed=2.0):
            from picostim.console import Client

            with Client(bridge.path) as c:
                for pid, lim in (("C2", 2_000), ("C1", 1_000)):
                    c.request("clients.put", profile={"id": pid, "limits_ua": [lim, lim, lim, lim], "screened": T})
                out = io.StringIO()
                assert clientreport.export(c, out) == 2
            rows = list(csv.reader(io.StringIO(out.getvalue())))
            assert rows[0] == list(clientreport.EXPORT_COLUMNS)
            assert rows[1] == ["C1", "0", "2026-01-01T00:00:00Z", "", "", "1;1;1;1", "0;0;0;0"]
            assert rows[2][0] == "C2"
            dest = tmp_path / "clients.csv"
            assert clientreport.run_export(SimpleNamespace(port=bridge.path, timeout=3.0, output=str(dest))) == 0
            assert dest.read_text().splitlines()[1].startswith("C1,")
            # the board's log has no session of C1 yet: the report says so and fails
            png = tmp_path / "r.png"
            rc = clientreport.run_report(SimpleNamespace(log=None, port=bridge.path, client="C1", output=str(png),
                                                         timeout=3.0))
            assert rc == 1 and not png.exists()
            rc = clientreport.run_report(SimpleNamespace(log=None, port=bridge.path, client="C3", output=str(png),
                                                         timeout=3.0))
            assert rc == 0 and png.read_bytes()[:4] == b"\x89PNG"
