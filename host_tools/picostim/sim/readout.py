"""What the simulated board shows to the outside, read from the model (never from firmware objects).

- `traced_pins(board)`: every pin worth a waveform, with a name: the stim pins,
  output-enable, status LED, buzzer, charge pump, and the inputs.
- `amplitude_ma(chip, board, ch)`: the current the amplitude DAC is set to for
  channel ch, from the PWM compare register of its DAC pin (pwm_dac) or the
  MCP4728's output register (mcp4728); 0 when the pin is parked (kill path).
- `pulses(chip, board, ch, t0, t1)`: how many pulse edges channel ch made.
- `status_lines(lines)`: the firmware's JSON status lines among what it printed.
"""

import json
from typing import TYPE_CHECKING, Any, Callable, Optional

from picostim.fakehw.chip import FUNC_PWM
from picostim.fakehw.pwm import CC, SLICE_STRIDE, gpio_to_slice

if TYPE_CHECKING:
    from stim.board import Board

    from picostim.fakehw.chip import Chip


def traced_pins(board: "Board") -> "list[tuple[str, str, int]]":
    """(scope, name, gpio) for every pin a waveform viewer should show, outputs first."""
    out: list[tuple[str, str, int]] = []
    for ch in board.channels:
        out.append((ch.name, "pulse_a", ch.pulse_a))
        out.append((ch.name, "pulse_b", ch.pulse_b))
    outs = board.outputs
    for o in outs.all():
        out.append(("outputs", o.name, o.pin))
    ins = board.inputs
    for i in ins.all():
        out.append(("inputs", i.name, i.pin))
    return out


def amplitude_code(chip: "Chip", board: "Board", ch: int) -> int:
    """The DAC code channel ch's amplitude driver outputs now."""
    amp = board.amplitude
    spec = board.channels[ch]
    if amp.driver == "mcp4728":
        bus = board.i2c.get(amp.bus or "")
        dev: Any = chip.i2c_devices.get((bus.id, amp.address or 0)) if bus is not None else None
        if dev is None:
            return 0
        reg = dev.outputs[spec.amp]
        return 0 if reg.pd else int(reg.code)
    pin = spec.amp_pin if spec.amp_pin is not None else amp.pins[spec.amp]
    if chip.gpio[pin].funcsel != FUNC_PWM:
        return 0  # parked as GPIO (the kill path), or not set up yet
    cc = chip.pwm.read_reg(gpio_to_slice(pin) * SLICE_STRIDE + CC)
    return (cc >> 16) & 0xFFFF if pin & 1 else cc & 0xFFFF


def amplitude_ma(chip: "Chip", board: "Board", ch: int) -> float:
    code = min(amplitude_code(chip, board, ch), board.amplitude.code_max)
    return code * board.amplitude.ma_per_code


def pulses(chip: "Chip", board: "Board", ch: int, t0: int, t1: int) -> int:
    """Edges on channel ch's two stim pins in [t0, t1)."""
    spec = board.channels[ch]
    return len(chip.edges(spec.pulse_a, t0, t1)) + len(chip.edges(spec.pulse_b, t0, t1))


def active(chip: "Chip", pin: int, active_level: int) -> bool:
    return chip.level(pin) == active_level


def status_lines(lines: "list[str]") -> "list[dict[str, Any]]":
    """The JSON objects with a "status" key among the printed lines, in order."""
    out: list[dict[str, Any]] = []
    for line in lines:
        d = parse_json_line(line)
        if d is not None and "status" in d:
            out.append(d)
    return out


def parse_json_line(line: str) -> "Optional[dict[str, Any]]":
    s = line.strip()
    if not s.startswith("{"):
        return None
    try:
        d = json.loads(s)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


# -- the OLED ---------------------------------------------------------------------------------
_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # (row, col) -> dot bit


def braille(width: int, height: int, pixel: "Callable[[int, int], int]") -> "list[str]":
    """A monochrome picture as Unicode braille, 2 x 4 pixels per character (128 x 64 -> 64 x 16)."""
    rows: list[str] = []
    for y0 in range(0, height, 4):
        chars = []
        for x0 in range(0, width, 2):
            bits = 0
            for dy in range(4):
                y = y0 + dy
                if y >= height:
                    break
                for dx in range(2):
                    x = x0 + dx
                    if x < width and pixel(x, y):
                        bits |= _BRAILLE_BITS[dy][dx]
            chars.append(chr(0x2800 + bits))
        rows.append("".join(chars))
    return rows


def gddram_pixel(ram: "bytes | bytearray", width: int) -> "Callable[[int, int], int]":
    """Pixel reader for SSD1306 display RAM: byte (y // 8) * width + x, bit y % 8."""
    def pixel(x: int, y: int) -> int:
        return (ram[(y >> 3) * width + x] >> (y & 7)) & 1
    return pixel


def display_device(chip: "Chip", board: "Board") -> Any:
    """The display on the model's I2C bus where the board file puts it, or None."""
    disp = board.display
    if disp is None:
        return None
    bus = board.i2c.get(disp.bus)
    return chip.i2c_devices.get((bus.id, disp.address)) if bus is not None else None


def oled_lines(chip: "Chip", board: "Board", pixels: bool = False) -> "Optional[list[str]]":
    """The board's OLED as text rows, None if the board has no display.

    Read from the display device on the model's I2C bus: by default as the
    text a person reads on it (the model's 8x8 font cells, `text()`), with
    pixels=True as the picture itself in braille dots (2 x 4 pixels a character).
    """
    disp = board.display
    if disp is None:
        return None
    dev = display_device(chip, board)
    if dev is None:
        return ["(no display on I2C %s address 0x%02x in the model)" % (disp.bus, disp.address)]
    text = getattr(dev, "text", None)
    if not pixels and callable(text):
        rows = [str(r) for r in text()]
        width = max((len(r) for r in rows), default=0)
        return ["+" + "-" * width + "+"] + ["|" + r.ljust(width) + "|" for r in rows] + ["+" + "-" * width + "+"]
    pixel = getattr(dev, "pixel", None)
    if not callable(pixel):
        ram = getattr(dev, "gddram", None)
        if not isinstance(ram, (bytes, bytearray)) or len(ram) < disp.width * disp.height // 8:
            return ["(the display model shows no picture)"]
        pixel = gddram_pixel(ram, disp.width)
    return braille(disp.width, disp.height, pixel)
