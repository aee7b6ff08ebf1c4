"""The store wired into main.py on the model: sessions are logged, settings survive a power cut,
and a corrupt settings file falls back to defaults with a visible reason."""

import json
from pathlib import Path

from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod
from stim import store as store_mod

MS = 1_000_000
BOARD = BOARDS_DIR / "stim4.json"


def _press(r: BoardRunner, w: World, name: str) -> None:
    w.button(name, True)
    r.run_for(100 * MS)
    w.button(name, False)
    r.run_for(100 * MS)


def _ready(r: BoardRunner) -> World:
    """Key in, e-stop released, and time for the firmware to reach READY."""
    w = World(r.chip, board_mod.load(str(BOARD)))
    w.key(True)
    w.estop(False)
    r.run_for(200 * MS)
    return w


def _records(flash: Path) -> list[dict[str, object]]:
    out = []
    for name in ("log.1", "log.0"):
        p = flash / name
        if p.exists():
            for line in p.read_bytes().splitlines():
                if line.strip():
                    out.append(store_mod.decode_record(line)[1])
    return out


def test_a_session_ended_by_the_key_is_logged_after_the_outputs_stop(tmp_path: Path) -> None:
    brd = board_mod.load(str(BOARD))
    with BoardRunner(BOARD, flash_dir=tmp_path) as r:
        w = _ready(r)
        _press(r, w, "start_pause")
        for _ in range(5):
            _press(r, w, "plus")
        r.run_for(3000 * MS)
        assert not [x for x in _records(tmp_path) if x["k"] == "session"]  # nothing written while running
        w.key(False)
        r.run_for(200 * MS)
    sessions = [x for x in _records(tmp_path) if x["k"] == "session"]
    assert len(sessions) == 1
    s = sessions[0]
    assert s["end"] == "key removed"
    assert s["prog"] == "lower_back"
    ch = s["ch"]
    assert isinstance(ch, list) and len(ch) == len(brd.channels)
    assert ch[0][0] > 0  # the peak level of a used channel
    assert ch[2][0] == 0  # lower_back does not use channel 3
    assert isinstance(s["stim_s"], int) and 2 <= s["stim_s"] <= 5
    resets = [x for x in _records(tmp_path) if x["k"] == "reset"]
    assert resets and resets[0]["cause"] == "power-on"


def test_the_chosen_program_survives_a_power_cut(tmp_path: Path) -> None:
    with BoardRunner(BOARD, flash_dir=tmp_path) as r:
        w = _ready(r)
        _press(r, w, "program")  # lower_back -> tens_conventional
        r.run_for(200 * MS)
        r.power_cut_at(r.now_ns + 1 * MS)
        r.run_for(300 * MS)
        assert r.boots == 2
    saved = json.loads((tmp_path / "settings.json").read_text().split(',"crc"')[0] + "}")
    assert saved["program"] == "tens_conventional"


def test_a_corrupt_settings_file_falls_back_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_bytes(b'{"v":1,"limits_ua":[1,2,3,4],"program":"x","display":{},"crc":12}\n')
    with BoardRunner(BOARD, flash_dir=tmp_path) as r:
        _ready(r)
        r.run_for(100 * MS)
        reasons = [json.loads(x)["reason"] for x in r.console_out if x.startswith('{"status"')]
        assert any("settings" in str(x) for x in reasons), reasons
        assert r.crashes == []
    assert [p.name for p in tmp_path.iterdir() if ".bad-" in p.name]  # kept aside for analysis
