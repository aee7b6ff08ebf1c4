"""Profiles and the DS3231 wired into main.py on the model (stim.app): the RTC's time dates the log
from boot, time.set reaches the chip, a stopped clock gives no wall time, and profiles put over the
console survive a power cut."""

import json
from pathlib import Path

from picostim.fakehw import ds3231
from picostim.fakehw.chip import Chip
from picostim.fakehw.clock import Clock
from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod

MS = 1_000_000
T = 1_767_225_600


def _board_with_rtc(tmp: Path) -> Path:
    d = json.loads((BOARDS_DIR / "stim4.json").read_text())
    d["rtc"] = {"driver": "ds3231", "bus": "i2c0"}
    p = tmp / "stim4-rtc.json"
    p.write_text(json.dumps(d))
    return p


def _replies(r: BoardRunner) -> list[dict[str, object]]:
    return [json.loads(x) for x in r.console_out if x.startswith('{"ok"')]


def _ask(r: BoardRunner, line: str) -> dict[str, object]:
    n = len(_replies(r))
    r.console_send(line)
    r.run_for(300 * MS)
    got = _replies(r)[n:]
    assert len(got) == 1, got
    return got[0]


def test_a_valid_rtc_dates_the_board_from_boot(tmp_path: Path) -> None:
    chip = Chip(Clock())
    dev = ds3231.attach(chip, 0)
    dev.set_epoch(T)
    dev.i2c_write(bytes([0x0F, 0x08]))  # OSF cleared: the time is valid
    with BoardRunner(_board_with_rtc(tmp_path), chip=chip, flash_dir=tmp_path / "flash") as r:
        r.run_for(300 * MS)
        st = _ask(r, '{"cmd": "status"}')
        wall = st["wall"]
        assert isinstance(wall, int) and T <= wall <= T + 2
        assert r.crashes == []


def test_a_stopped_rtc_gives_no_wall_time_until_time_set(tmp_path: Path) -> None:
    chip = Chip(Clock())
    dev = ds3231.attach(chip, 0)  # first power: OSF set
    with BoardRunner(_board_with_rtc(tmp_path), chip=chip, flash_dir=tmp_path / "flash") as r:
        r.run_for(300 * MS)
        assert _ask(r, '{"cmd": "status"}')["wall"] is None
        assert _ask(r, '{"cmd": "time.set", "epoch_s": %d}' % T) == {"ok": True, "wall": T, "rtc": True}
        assert not dev.osf and T <= dev.epoch() <= T + 1


def test_a_profile_put_with_the_key_survives_a_power_cut(tmp_path: Path) -> None:
    board = BOARDS_DIR / "stim4.json"
    flash = tmp_path / "flash"
    with BoardRunner(board, flash_dir=flash) as r:
        w = World(r.chip, board_mod.load(str(board)))
        w.key(True)
        w.estop(False)
        r.run_for(300 * MS)
        r_put = _ask(r, '{"cmd": "clients.put", "profile": {"id": "C017", "limits_ua": [1000, 2000, 3000, 4000]}}')
        assert r_put["ok"] is True
        r.run_for(300 * MS)  # idle: flushed
    assert (flash / "clients.json").exists()
    with BoardRunner(board, flash_dir=flash) as r:
        r.run_for(300 * MS)
        got = _ask(r, '{"cmd": "clients.get", "client": "C017"}')
        assert got["ok"] is True and got["profile"]["limits_ua"] == [1000, 2000, 3000, 4000]  # type: ignore[index]
