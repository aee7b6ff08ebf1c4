"""boot.py's parking (stim.hal.rp2040.force_outputs_safe) on the RP2040 model.

Between a reset and main.py (which takes about a second to import on the board) every pin is an
input with a pull-down. On a board whose output-enable is active low that pull-down would enable
the output stage, so boot.py's first statements drive output-enable to its idle level and every
stim pin low. The board file here is stim4 with output-enable active low: without the parking
the pad reads 0, which is "enabled".
"""

import importlib
import json
from pathlib import Path
from typing import Any

from picostim import fakehw
from picostim.fakehw.runner import BOARDS_DIR


def _rp2040() -> Any:
    """The hal module as boot.py imports it, on a fresh model chip (it needs `machine`)."""
    fakehw.install()
    return importlib.import_module("stim.hal.rp2040")  # by name: host mypy does not check the hal


def test_boot_parks_output_enable_and_every_stim_pin_before_main(tmp_path: Path) -> None:
    d = json.loads((BOARDS_DIR / "stim4.json").read_text())
    d["outputs"]["output_enable"]["active_level"] = 0
    board = tmp_path / "board.json"
    board.write_text(json.dumps(d))
    rp2040 = _rp2040()
    chip = fakehw.current()
    oe = d["outputs"]["output_enable"]["pin"]
    stim = [p for ch in d["channels"] for p in (ch["pulse_a"], ch["pulse_b"])]
    assert chip.level(oe) == 0  # the reset's pull-down: enabled, on this board
    assert rp2040.force_outputs_safe(str(board)) is True
    assert chip.level(oe) == 1, "output-enable not parked at its idle level"
    for n in [oe, *stim]:
        assert chip.sio_oe & (1 << n), "GPIO %d is not driven" % n  # driven, not left to a pull
    assert [chip.level(n) for n in stim] == [0] * len(stim)


def test_an_unreadable_board_file_leaves_the_reset_state(tmp_path: Path) -> None:
    rp2040 = _rp2040()
    chip = fakehw.current()
    assert rp2040.force_outputs_safe(str(tmp_path / "missing.json")) is False
    assert chip.sio_oe == 0  # nothing driven: the gate drivers' pull-downs hold the stage off
