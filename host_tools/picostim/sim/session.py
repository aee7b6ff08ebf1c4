"""One simulated board and its world: the runner, the switches and wires, and scenario actions.

The headless runner (headless.py) and the terminal front panel (terminal.py)
both drive the board through a SimSession, so a key press from the keyboard
and a `press` line of a scenario do exactly the same thing to the model.
Actions run as events of the model's clock, at their exact virtual time.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from picostim.fakehw.runner import BoardRunner

from . import scenario, stall
from .scenario import NS_PER_S, Action
from .world import World

if TYPE_CHECKING:
    from stim.board import Board

FIRMWARE_DIR = Path(__file__).resolve().parents[3] / "firmware"


def load_board(path: str) -> "Board":
    """Parse and validate a board file with the firmware's own rules (raises OSError or ValueError)."""
    fw = str(FIRMWARE_DIR)
    if fw not in sys.path:
        sys.path.insert(0, fw)
    from stim import board as board_mod

    return board_mod.load(path)


class SimSession:
    def __init__(self, board_file: str, board: "Optional[Board]" = None,
                 flash_dir: "Optional[str]" = None) -> None:
        self.board_file = board_file
        self.board = board if board is not None else load_board(board_file)
        self.runner = BoardRunner(board_file, flash_dir=flash_dir)
        self.chip = self.runner.chip
        self.world = World(self.chip, self.board)
        self.world.wire_devices()
        # Before power-on: key out, e-stop released, buttons up (open switches), sense at 0 V.
        self.world.key(False)
        self.world.estop(False)
        self.log: list[tuple[int, str]] = []  # (t_ns, what the world did), for the screen and the report

    # -- time ------------------------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        return self.runner.now_ns

    def run_until(self, t_ns: int) -> None:
        self.runner.run_until(t_ns)

    def close(self) -> None:
        stall.release(self.chip)
        self.runner.close()

    # -- the console -------------------------------------------------------------------------
    def console_writer(self) -> "Optional[Callable[[str], None]]":
        """How to send one line to the firmware's serial console, or None if the runner cannot."""
        send = getattr(self.runner, "console_send", None)
        return send if callable(send) else None

    # -- actions -----------------------------------------------------------------------------
    def schedule(self, actions: "list[Action]") -> None:
        """Make each action happen at its time (press/hold also schedule their release)."""
        for a in actions:
            self.runner.at(a.t_ns, self._later(a))

    def _later(self, a: Action) -> "Callable[[], None]":
        return lambda: self.apply(a)

    def apply(self, a: Action) -> None:
        """Do one action now (called as a clock event, or from the keyboard between runs)."""
        w = self.world
        self.log.append((self.now_ns, a.text or a.kind))
        if a.kind == "key":
            w.key(bool(a.args[0]))
        elif a.kind == "estop":
            w.estop(bool(a.args[0]))
        elif a.kind in ("press", "hold"):
            name = str(a.args[0])
            w.button(name, True)
            self.runner.at(self.now_ns + int(a.args[1]), lambda: w.button(name, False))
        elif a.kind == "sense":
            w.sense_ma(int(a.args[0]), float(a.args[1]))
        elif a.kind == "hang":
            stall.hang(self.chip)
        elif a.kind == "console":
            send = self.console_writer()
            if send is None:
                raise RuntimeError("the board runner has no console input")
            send(str(a.args[0]))
        elif a.kind == "power":
            self.runner.power_cut_at(self.now_ns)
        elif a.kind == "advance":
            rtc = self.board.rtc
            dev = self.chip.i2c_devices.get((self.board.i2c[rtc.bus].id, rtc.address)) if rtc is not None else None
            if dev is not None:
                dev.power_off(int(a.args[0]))  # on its battery the clock runs on while the board is off
            self.runner.power_cut_at(self.now_ns)
        elif a.kind == "profile":
            self._select_profile(str(a.args[0]) or None)
        elif a.kind == "host":
            if a.args[0]:
                self.runner.usb.resume_reading()
            else:
                self.runner.usb.stop_reading()
        else:
            raise ValueError("unknown scenario action " + repr(a.kind))

    # -- the profile selection gesture (docs/clients.md), as a trainer does it: by the screen ------
    def _select_profile(self, pid: "Optional[str]") -> None:
        w = self.world
        t = self.now_ns
        w.button("program", True)  # held: profile selection
        self.runner.at(t + round(scenario.PROFILE_HOLD_S * NS_PER_S), lambda: w.button("program", False))
        self.runner.at(t + round((scenario.PROFILE_HOLD_S + scenario.PROFILE_LOOK_S) * NS_PER_S),
                       lambda: self._look_for(pid, 0))

    def _shown(self, pid: "Optional[str]") -> bool:
        d = self.runner.display
        words = " ".join(d.text()).split() if d is not None else []
        want = ["?", pid] if pid is not None else ["?", "no", "profile."]
        return any(words[i:i + len(want)] == want for i in range(len(words)))

    def _look_for(self, pid: "Optional[str]", n: int) -> None:
        w = self.world
        press = round(scenario.PRESS_S * NS_PER_S)
        if self._shown(pid) or n >= scenario.PROFILE_STEPS_MAX:
            # Found: start_pause picks it. Not found after every entry: program leaves, nothing changes.
            name = "start_pause" if n < scenario.PROFILE_STEPS_MAX else "program"
            self.log.append((self.now_ns, "profile %s %s" % (pid or "none", "picked" if name == "start_pause"
                                                                else "not found")))
            w.button(name, True)
            self.runner.at(self.now_ns + press, lambda: w.button(name, False))
            return
        w.button("plus", True)
        self.runner.at(self.now_ns + press, lambda: w.button("plus", False))
        self.runner.at(self.now_ns + round(scenario.PROFILE_LOOK_S * NS_PER_S), lambda: self._look_for(pid, n + 1))
