"""The board file's parser (stim.board) is needed only at boot: the firmware drops it once the board
is loaded, and nothing it runs later imports it again (on the RP2040 it held ~17 KB of the heap
for good; what the firmware keeps of a board is in stim.boardspec, issue 12).

On the model: the real firmware boots, runs a session and answers console requests, and the
parser's module is gone from sys.modules and from the stim package all the while.
"""

import sys

from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod

MS = 1_000_000
BOARD = BOARDS_DIR / "stim4.json"


def _parser_loaded() -> bool:
    pkg = sys.modules.get("stim")
    return "stim.board" in sys.modules or (pkg is not None and hasattr(pkg, "board"))


def test_the_firmware_drops_the_board_parser_after_boot_and_never_loads_it_again() -> None:
    seen_loaded: list[str] = []
    with BoardRunner(BOARD) as r:
        w = World(r.chip, board_mod.load(str(BOARD)))
        w.key(True)
        w.estop(False)
        r.run_for(1000 * MS)
        assert r.crashes == [] and any('"READY"' in x for x in r.console_out), r.console_out[-3:]
        if _parser_loaded():
            seen_loaded.append("after boot")
        w.button("start_pause", True)
        r.run_for(100 * MS)
        w.button("start_pause", False)
        w.button("plus", True)
        r.run_for(500 * MS)
        w.button("plus", False)
        for cmd in ('{"cmd": "status"}', '{"cmd": "programs"}', '{"cmd": "board"}', '{"cmd": "stop"}'):
            r.console_send(cmd + "\n")
            r.run_for(200 * MS)
            if _parser_loaded():
                seen_loaded.append(cmd)
        assert r.crashes == []
        assert any('"RUNNING"' in x for x in r.console_out)
    assert seen_loaded == []
