"""`picostim board check`: picostim.boardcheck.run and the command line."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from picostim import boardcheck

REPO = Path(__file__).resolve().parents[1]
BOARDS = REPO / "boards"


def _stim4() -> dict[str, Any]:
    d: dict[str, Any] = json.loads((BOARDS / "stim4.json").read_text())
    return d


def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _run(paths: list[str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    rc = boardcheck.run(paths, out=lines.append)
    return rc, lines


def test_shipped_boards_pass() -> None:
    rc, lines = _run([str(BOARDS / "stim4.json"), str(BOARDS / "pico_bench.json")])
    assert rc == 0, lines
    assert len(lines) == 2
    assert lines[0].startswith("OK " + str(BOARDS / "stim4.json") + ": PicoStim stim4, 4 channels, ")
    assert "pwm_dac 0..122.85 mA" in lines[0]
    assert "board max 100 mA" in lines[0]
    assert "display ssd1306 128x64" in lines[0]
    assert lines[1].startswith("OK " + str(BOARDS / "pico_bench.json") + ": Pico bench, 2 channels, ")


def test_every_board_in_boards_passes() -> None:
    files = sorted(str(p) for p in BOARDS.glob("*.json"))
    assert len(files) >= 2
    rc, lines = _run(files)
    assert rc == 0, lines


def test_invalid_board_fails_with_key_path(tmp_path: Path) -> None:
    d = _stim4()
    d["channels"][2]["pulse_b"] = 9
    path = _write(tmp_path, "bad.json", json.dumps(d))
    rc, lines = _run([path])
    assert rc == 1
    assert lines == [lines[0]]
    assert lines[0].startswith("FAIL " + path + ": channels[2].pulse_b: GPIO 9 is on PWM slice 4"), lines


def test_bad_json_fails(tmp_path: Path) -> None:
    text = (BOARDS / "stim4.json").read_text().replace('"CH1",', '"CH1"', 1)
    path = _write(tmp_path, "typo.json", text)
    rc, lines = _run([path])
    assert rc == 1
    assert lines[0].startswith("FAIL " + path + ": (json): not valid JSON"), lines


def test_duplicate_key_fails(tmp_path: Path) -> None:
    text = (BOARDS / "stim4.json").read_text().replace('"max_ma": 100}', '"max_ma": 100, "max_ma": 80}', 1)
    path = _write(tmp_path, "dup.json", text)
    rc, lines = _run([path])
    assert rc == 1
    assert (
        lines[0]
        == f'FAIL {path}: (json): key "max_ma" appears twice in one object; only the last one would count'
    )


def test_missing_file_fails(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.json")
    rc, lines = _run([path])
    assert rc == 1
    assert lines[0].startswith("FAIL " + path + ": (file): cannot read"), lines


def test_one_bad_file_fails_the_run_but_all_are_reported(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.json", "[]")
    rc, lines = _run([str(BOARDS / "stim4.json"), bad, str(BOARDS / "pico_bench.json")])
    assert rc == 1
    assert [line.split(" ", 1)[0] for line in lines] == ["OK", "FAIL", "OK"]
    assert lines[1] == "FAIL " + bad + ": (root): expected an object, got list"


def test_no_files_is_a_usage_error() -> None:
    rc, lines = _run([])
    assert rc == 2
    assert lines and lines[0].startswith("FAIL")


# ---------------------------------------------------------------- the command line


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    extra = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO / "host_tools") + (os.pathsep + extra if extra else "")
    return subprocess.run(
        [sys.executable, "-m", "picostim", "board", "check", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_good_boards_exit_0() -> None:
    r = _cli("boards/stim4.json", "boards/pico_bench.json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("OK boards/stim4.json: PicoStim stim4, 4 channels, ")
    assert out[1].startswith("OK boards/pico_bench.json: Pico bench, 2 channels, ")


def test_cli_bad_board_exits_nonzero_with_message(tmp_path: Path) -> None:
    d = _stim4()
    d["inputs"]["estop"]["active_level"] = 1
    path = _write(tmp_path, "bad.json", json.dumps(d))
    r = _cli(path)
    assert r.returncode != 0
    assert "FAIL " + path + ": inputs.estop.failsafe_level: " in r.stdout, r.stdout + r.stderr
    assert "e-stop released" in r.stdout


def test_cli_without_files_exits_nonzero() -> None:
    r = _cli()
    assert r.returncode != 0


def test_dead_time_is_shown_with_who_makes_it(tmp_path: Path) -> None:
    rc, lines = _run([str(BOARDS / "stim4.json")])
    assert rc == 0 and ", dead time 2 us (at least this much between the phases), " in lines[0], lines
    d = _stim4()
    d["limits"]["dead_time_us"] = 0
    bad = _write(tmp_path, "bad.json", json.dumps(d))
    d["limits"]["bridge_dead_time"] = "driver"
    drv = _write(tmp_path, "drv.json", json.dumps(d))
    d["limits"]["dead_time_us"] = 3
    both = _write(tmp_path, "both.json", json.dumps(d))
    rc, lines = _run([bad, drv, both])
    assert rc == 1
    assert lines[0].startswith("FAIL " + bad + ": limits.dead_time_us: 0 is allowed only with"), lines
    assert lines[1].startswith("OK " + drv) and ", dead time 0 us (gate drivers), " in lines[1], lines
    assert ", dead time 3 us (gate drivers, plus at least this much between the phases)" in lines[2], lines
