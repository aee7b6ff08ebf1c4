"""`picostim console` (pyserial) against the simulated board's serial console on a real pty.

The firmware runs unchanged on the model (BoardRunner) in a background pacing thread; the bridge
(picostim.serialbridge) puts its USB serial on a pseudo-terminal; the client opens that path with
pyserial exactly as it would open /dev/ttyACM0.

While the pacer runs, the firmware thread swaps sys.stdout and the working directory, so these
tests give the client an explicit output stream and use absolute paths only.
"""

import io
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
from picostim import cli, serialbridge
from picostim import console as client
from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod

MS = 1_000_000
BOARD = BOARDS_DIR / "stim4.json"


def _args(port: str, verb: str, **kw: Any) -> SimpleNamespace:
    d: dict[str, Any] = {"port": port, "timeout": 3.0, "json": False, "verb": verb, "op": None, "rest": [],
                         "csv": False, "since": None, "epoch": None}
    d.update(kw)
    return SimpleNamespace(**d)


def _run(port: str, verb: str, **kw: Any) -> tuple[int, str]:
    out = io.StringIO()
    rc = client.run(_args(port, verb, **kw), out=out)
    return rc, out.getvalue()


@pytest.fixture
def board() -> Iterator[tuple[BoardRunner, World]]:
    with BoardRunner(BOARD) as r:
        w = World(r.chip, board_mod.load(str(BOARD)))
        w.key(True)
        w.estop(False)
        r.run_for(200 * MS)
        yield r, w


def test_the_cli_parses_console_verbs() -> None:
    a = cli.build_parser().parse_args(["console", "--port", "/dev/x", "limits", "set", "2", "12.5"])
    assert (a.verb, a.op, a.rest, a.port) == ("limits", "set", ["2", "12.5"], "/dev/x")
    a = cli.build_parser().parse_args(["console", "--port", "/dev/x", "log", "--csv"])
    assert a.verb == "log" and a.csv is True


def test_the_client_talks_to_the_simulated_board_over_a_pty(board: tuple[BoardRunner, World],
                                                             tmp_path: Path) -> None:
    r, _w = board
    prog = tmp_path / "mine.json"
    prog.write_text(json.dumps({"name": "mine", "freq_hz": 40, "width_us": 250, "max_ma": 25}))
    with serialbridge.start(r) as bridge, serialbridge.Pacer(r, speed=2.0):
        port = bridge.path
        assert port.startswith("/dev/") and os.path.exists(port)
        rc, out = _run(port, "status")
        assert rc == 0 and "state     READY" in out and "key       in" in out
        rc, out = _run(port, "version", json=True)
        assert rc == 0 and json.loads(out)["firmware"] == "0.1.0"
        rc, out = _run(port, "board", json=True)
        assert rc == 0 and json.loads(out)["name"] == "PicoStim stim4"
        rc, out = _run(port, "programs", op="put", rest=[str(prog)])
        assert rc == 0 and "stored program mine" in out, out
        rc, out = _run(port, "programs", op="get", rest=["mine"], json=True)
        assert rc == 0 and json.loads(out)["freq_hz"] == 40
        rc, out = _run(port, "programs")
        assert rc == 0 and "* lower_back" in out and "mine" in out and "custom" in out
        rc, out = _run(port, "limits", op="set", rest=["2", "12.5"])
        assert rc == 0 and "CH2 limit now 12.5 mA" in out
        rc, out = _run(port, "limits")
        assert rc == 0 and "CH2  limit 12.5 mA" in out
        rc, out = _run(port, "time-set", epoch=1767225600)
        assert rc == 0 and "2026-01-01T00:00:00Z" in out
        rc, out = _run(port, "log", csv=True)
        assert rc == 0
        rows = out.splitlines()
        assert rows[0].startswith("n,kind,program") and any(",reset," in x and "power-on" in x for x in rows[1:])
    assert r.crashes == []


def test_limits_set_without_the_key_is_refused_with_a_reason(board: tuple[BoardRunner, World],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    r, w = board
    w.key(False)
    r.run_for(50 * MS)
    with serialbridge.start(r) as bridge, serialbridge.Pacer(r, speed=2.0):
        rc, out = _run(bridge.path, "limits", op="set", rest=["1", "10"])
    assert rc == 1 and out == ""
    assert "needs the supervisor key" in capsys.readouterr().err


def test_stop_over_the_pty_ends_a_running_session(board: tuple[BoardRunner, World]) -> None:
    r, w = board
    brd = board_mod.load(str(BOARD))
    w.button("start_pause", True)
    r.run_for(100 * MS)
    w.button("start_pause", False)
    for _ in range(5):
        r.run_for(100 * MS)
        w.button("plus", True)
        r.run_for(100 * MS)
        w.button("plus", False)
    r.run_for(2000 * MS)
    oe = brd.outputs.output_enable
    assert r.chip.level(oe.pin) == oe.active_level  # running: the output stage is on
    with serialbridge.start(r) as bridge, serialbridge.Pacer(r, speed=2.0):
        rc, out = _run(bridge.path, "stop")
        t_reply = r.now_ns
    assert rc == 0 and out == "stopped a running session\n"
    assert r.chip.level(oe.pin) != oe.active_level  # off by the time the reply came
    r.run_for(100 * MS)
    statuses = [json.loads(x) for x in r.console_out if x.startswith('{"status"')]
    assert statuses[-1]["status"] == "READY" and statuses[-1]["reason"] == "stopped"
    ch = brd.channels[0]
    edges_after = r.chip.edges(ch.pulse_a, t_reply + 50 * MS, r.now_ns) + r.chip.edges(ch.pulse_b, t_reply + 50 * MS,
                                                                                       r.now_ns)
    assert edges_after == []


def test_a_board_that_does_not_answer_gives_a_clear_timeout(board: tuple[BoardRunner, World],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    r, _w = board
    with serialbridge.start(r) as bridge:  # nothing runs the board: no reply will come
        t0 = time.monotonic()
        rc, _out = _run(bridge.path, "status", timeout=0.5)
        assert time.monotonic() - t0 < 3
    assert rc == 1
    err = capsys.readouterr().err
    assert "no reply to 'status'" in err and "within 0.5 s" in err


def test_a_missing_port_is_reported_not_raised(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, _out = _run(str(tmp_path / "no-such-tty"), "status")
    assert rc == 1 and "cannot open" in capsys.readouterr().err
