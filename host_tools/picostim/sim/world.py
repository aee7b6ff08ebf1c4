"""The world around the simulated board: the key switch, e-stop, buttons, wires.

A switch closes its input to the level the board file calls active; open
(switch open, or a broken wire) leaves the pin to its pull, which the board
file requires to be the fail-safe level.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stim.board import Board, Input

    from picostim.fakehw.chip import Chip


class World:
    def __init__(self, chip: "Chip", board: "Board") -> None:
        self.chip = chip
        self.board = board

    def _set(self, spec: "Input", active: bool) -> None:
        self.chip.drive(spec.pin, spec.active_level if active else None)

    def key(self, present: bool) -> None:
        self._set(self.board.inputs.key, present)

    def estop(self, pressed: bool) -> None:
        self._set(self.board.inputs.estop, not pressed)

    def button(self, name: str, down: bool) -> None:
        if name not in self.board.inputs.buttons:
            raise ValueError("unknown button " + repr(name) + "; the board has " + ", ".join(self.board.inputs.buttons))
        self._set(self.board.inputs.buttons[name], down)

    def cut_wire(self, pin: int) -> None:
        """A broken wire: the pin floats to its pull."""
        self.chip.drive(pin, None)

    def key_present(self) -> bool:
        return self.chip.gpio[self.board.inputs.key.pin].external == self.board.inputs.key.active_level

    def estop_pressed(self) -> bool:
        return self.chip.gpio[self.board.inputs.estop.pin].external != self.board.inputs.estop.active_level
