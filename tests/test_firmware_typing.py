"""The firmware type check is strict enough to catch wrong machine API use.

Each bad snippet is checked next to a corrected twin, so a pass proves the
error comes from the API misuse and not from the set-up.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MYPY = Path(sys.executable).parent / "mypy"


def _mypy_firmware(tmp_path: Path, source: str, name: str = "snippet") -> subprocess.CompletedProcess[str]:
    # Each snippet gets its own file and cache: mypy's cache keys on mtime and
    # size, so rewriting one file with a same-length twin could reuse stale results.
    d = tmp_path / name
    d.mkdir()
    f = d / (name + ".py")
    f.write_text(source)
    return subprocess.run(
        [str(MYPY), "--config-file", "mypy-firmware.ini", "--cache-dir", str(d / "cache"), str(f)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )


@pytest.mark.parametrize(
    ("bad", "good", "needle"),
    [
        ("PWM(Pin(0), frequency=100)", "PWM(Pin(0), freq=100)", "frequency"),
        ("PWM(Pin(0), frequency=5)", "PWM(Pin(0), freq=5)", "frequency"),
        ("WDT(timeout=100).stop()", "WDT(timeout=100).feed()", "stop"),
    ],
)
def test_mypy_rejects_wrong_machine_api(tmp_path: Path, bad: str, good: str, needle: str) -> None:
    header = "from machine import PWM, WDT, Pin\n"
    r_bad = _mypy_firmware(tmp_path, header + bad + "\n", "bad")
    assert r_bad.returncode != 0, r_bad.stdout
    assert needle in r_bad.stdout
    r_good = _mypy_firmware(tmp_path, header + good + "\n", "good")
    assert r_good.returncode == 0, r_good.stdout


def test_mypy_firmware_sees_micropython_stdlib_not_cpythons(tmp_path: Path) -> None:
    # time.ticks_ms exists only in MicroPython's stdlib stubs.
    r = _mypy_firmware(tmp_path, "import time\nx: int = time.ticks_diff(time.ticks_ms(), 0)\n", "good")
    assert r.returncode == 0, r.stdout
    r = _mypy_firmware(tmp_path, "import time\ntime.perf_counter_ns()\n", "bad")
    assert r.returncode != 0
