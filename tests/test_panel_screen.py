"""The OLED in every state, as the SSD1306 model shows it, and the status LED the board file declares.

firmware/main.py runs unchanged on the model of the stim4 board, worked
through pin levels only. The panel is read back from the SSD1306 model:
decoded to text cell by cell with the framebuf font, and drawn to a PNG.
"""

import itertools
import json
import struct
import zlib
from pathlib import Path

from picostim.bench.panel import MS, Rig
from picostim.fakehw.runner import BOARDS_DIR

SCREEN_MS = 900  # a compose (every 200 ms) and up to eight pages of eight 10 ms ticks each


def _png_lit(png: bytes, scale: int) -> int:
    """Lit pixels in a PNG the model wrote (8-bit grey, one filter byte per line)."""
    w, h = struct.unpack(">II", png[16:24])
    i = png.index(b"IDAT")
    (n,) = struct.unpack(">I", png[i - 4:i])
    raw = zlib.decompress(png[i + 4:i + 4 + n])
    assert len(raw) == h * (w + 1)
    return raw.count(b"\xff") // (scale * scale)


def _whole(iv: "list[tuple[int, int]]", t0: int, t1: int) -> "list[tuple[int, int]]":
    """The intervals that lie wholly inside (t0, t1): none cut by the window."""
    return [(a, b) for a, b in iv if t0 < a and b < t1]


def test_the_oled_shows_each_state_in_words(tmp_path: Path) -> None:
    shots: dict[str, list[str]] = {}
    with Rig(key=False) as rig:
        rig.run_ms(SCREEN_MS)
        shots["SAFE"] = rig.screen()
        rig.world.key(True)
        rig.run_ms(SCREEN_MS)
        shots["READY"] = rig.screen()
        rig.press("start_pause")
        rig.presses("plus", 4)
        rig.run_ms(3000)
        shots["RUNNING"] = rig.screen()
        rig.press("start_pause")
        rig.run_ms(1500)
        shots["PAUSED"] = rig.screen()
        rig.world.estop(True)
        rig.run_ms(SCREEN_MS)
        shots["FAULT"] = rig.screen()
        d = rig.runner.display
        assert d is not None
        png = d.png(scale=3)
        (tmp_path / "fault.png").write_bytes(png)
        assert _png_lit(png, 3) == sum(sum(row) for row in d.pixels()) > 0
    for state, lines in shots.items():
        assert len(lines) == 8 and all(len(x) == 16 for x in lines), lines
        assert lines[0].split()[0] == state, lines  # the title bar names the state
        assert "?" not in "".join(lines), lines  # every cell is a glyph of the font
    assert shots["SAFE"][0] == "SAFE       20:00" and shots["SAFE"][1].strip() == "lower_back"
    assert shots["SAFE"][6:] == ["Insert the      ", "supervisor key. "]
    assert shots["READY"][2:6] == [">1 lower back L ", "    0.0 / 80 mA ", ">2 lower back R ", "    0.0 / 80 mA "]
    assert shots["READY"][6].strip() == "Press start."
    running = shots["RUNNING"]
    assert running[0].startswith("RUNNING    19:5")  # counting down from 20:00
    assert running[2] == ">1 lower back L " and running[4] == ">2 lower back R "
    assert running[3].strip() == "4.0 / 80 mA"  # 4 presses of 1 mA, ramped at 5 mA/s
    assert shots["PAUSED"][3].strip() == "0.0 / 80 mA"
    assert shots["PAUSED"][6:] == ["Paused: start   ", "resumes.        "]
    assert shots["FAULT"][0] == "FAULT           "
    assert shots["FAULT"][2:4] == ["E-stop pressed: ", "all outputs off."]
    assert shots["FAULT"][6:] == ["Release e-stop, ", "key off and on. "]


def test_a_button_stuck_at_boot_is_a_fault_in_words() -> None:
    with Rig(settle_ms=0) as rig:
        rig.world.button("plus", True)  # held before the board boots
        rig.run_ms(SCREEN_MS)
        assert rig.status()["status"] == "FAULT"
        assert rig.screen()[2:4] == ["Button stuck:   ", "plus            "]
        rig.world.button("plus", False)
        rig.run_ms(200)
        rig.world.key(False)
        rig.run_ms(100)
        rig.world.key(True)
        rig.run_ms(SCREEN_MS)
        assert rig.screen()[0].startswith("READY")  # let go and key turned: cleared


def test_status_led_plays_the_default_rhythm_of_each_state() -> None:
    with Rig(key=False) as rig:
        t = rig.now
        rig.run_ms(2000)
        assert rig.led_intervals(t) == []  # SAFE: off
        rig.world.key(True)
        rig.run_ms(200)
        t = rig.now
        rig.run_ms(1000)
        assert rig.led_intervals(t) == [(t, rig.now)]  # READY: on
        rig.press("start_pause")
        t = rig.now
        rig.run_ms(3000)
        on = [(b - a) / MS for a, b in _whole(rig.led_intervals(t), t, rig.now)]
        assert len(on) >= 2 and all(abs(x - 500) <= 10 for x in on)  # RUNNING: 1 Hz, 50 %
        rig.press("start_pause")
        rig.run_ms(1500)
        assert rig.status()["status"] == "PAUSED"
        t = rig.now
        rig.run_ms(4500)
        whole = _whole(rig.led_intervals(t), t, rig.now)
        assert len(whole) >= 2 and all(abs((b - a) / MS - 150) <= 10 for a, b in whole)  # PAUSED: a flash
        assert all(abs((c - a) / MS - 2000) <= 10 for (a, _b), (c, _d) in itertools.pairwise(whole))  # every 2 s
        rig.world.estop(True)
        rig.run_ms(200)  # the rhythms keep the clock's phase: the first flash of a state can be cut short
        t = rig.now
        rig.run_ms(1000)
        whole = _whole(rig.led_intervals(t), t, rig.now)
        assert len(whole) >= 4 and all(abs((b - a) / MS - 100) <= 10 for a, b in whole)  # FAULT: 5 Hz


def test_status_led_follows_the_patterns_the_board_file_declares(tmp_path: Path) -> None:
    d = json.loads((BOARDS_DIR / "stim4.json").read_text())
    d["outputs"]["status_led"]["patterns"] = {"ready": [100, 100, 100, 700], "safe": "on"}
    board = tmp_path / "led.json"
    board.write_text(json.dumps(d))
    with Rig(board, key=False) as rig:
        t = rig.now
        rig.run_ms(1000)
        assert rig.led_intervals(t) == [(t, rig.now)]  # SAFE declared "on"
        rig.world.key(True)
        rig.run_ms(200)
        t = rig.now
        rig.run_ms(2000)
        whole = _whole(rig.led_intervals(t), t, rig.now)
        assert len(whole) >= 3 and {round((b - a) / MS, -1) for a, b in whole} == {100.0}  # 100 ms flashes
        starts = [a for a, _b in whole]
        gaps = sorted({round((b - a) / MS, -1) for a, b in itertools.pairwise(starts)})
        assert gaps == [200.0, 800.0]
