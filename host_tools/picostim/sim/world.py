"""The world around the simulated board: the key switch, e-stop, buttons, wires,
the current on the sense lines, and the I2C devices the board file declares.

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

    def sense_ma(self, ch: int, ma: float) -> None:
        """Put on channel ch's sense ADC pin the voltage its sense stage gives for ma (sense_ma_per_volt)."""
        spec = self.board.channels[ch]
        if spec.sense_adc is None or spec.sense_ma_per_volt is None:
            raise ValueError("channel " + spec.name + " has no sense line")
        self.chip.adc_volts[spec.sense_adc] = ma / spec.sense_ma_per_volt

    def wire_devices(self) -> None:
        """Put the I2C devices the board file declares on the model's buses (once; they outlive resets)."""
        amp = self.board.amplitude
        if amp.driver == "mcp4728" and amp.bus is not None and amp.address is not None:
            bus = self.board.i2c[amp.bus]
            if (bus.id, amp.address) not in self.chip.i2c_devices:
                from picostim.fakehw import mcp4728

                mcp4728.attach(self.chip, bus.id, amp.address)
        disp = self.board.display
        if disp is not None and disp.driver == "ssd1306":
            bus = self.board.i2c[disp.bus]
            if (bus.id, disp.address) not in self.chip.i2c_devices:
                from picostim.fakehw import ssd1306

                ssd1306.attach(self.chip, bus.id, disp.address)
        rtc = self.board.rtc
        if rtc is not None and rtc.driver == "ds3231":
            bus = self.board.i2c[rtc.bus]
            if (bus.id, rtc.address) not in self.chip.i2c_devices:
                from picostim.fakehw import ds3231

                ds3231.attach(self.chip, bus.id, rtc.address)

    def cut_wire(self, pin: int) -> None:
        """A broken wire: the pin floats to its pull."""
        self.chip.drive(pin, None)

    def key_present(self) -> bool:
        return self.chip.gpio[self.board.inputs.key.pin].external == self.board.inputs.key.active_level

    def estop_pressed(self) -> bool:
        return self.chip.gpio[self.board.inputs.estop.pin].external != self.board.inputs.estop.active_level
