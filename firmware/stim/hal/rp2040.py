"""RP2040 pins, clock, watchdog and reset cause, as the board file wires them.

Everything else in the firmware is pure and takes levels and times as
arguments; this module turns pins into levels and decisions into pin states.
"""

import json
import time

from machine import WDT, Pin, reset_cause
from machine import WDT_RESET as _WDT_RESET

from stim import ticks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

    from stim.board import Board, Input, Output

BOARD_FILE = "board.json"  # relative to cwd, which is the littlefs root on the board


def force_outputs_safe(path: str) -> bool:
    """boot.py's only job: output-enable inactive and every stim pin low.

    It reads just the pins from the board file, before any validation, so that
    even a board file main.py will reject cannot leave an output stage enabled.
    If the file cannot be read, the pins stay as the reset left them: inputs
    with pull-downs, which the board's gate-driver pull-downs hold off.
    Returns True if it drove the pins.
    """
    try:
        with open(path) as f:
            d = json.load(f)
        oe = d["outputs"]["output_enable"]
        Pin(int(oe["pin"]), Pin.OUT, value=1 - int(oe["active_level"]))
        for ch in d["channels"]:
            Pin(int(ch["pulse_a"]), Pin.OUT, value=0)
            Pin(int(ch["pulse_b"]), Pin.OUT, value=0)
    except Exception:  # noqa: BLE001 - any failure leaves the reset state, which is safe
        return False
    return True


def was_watchdog_reset() -> bool:
    return reset_cause() == _WDT_RESET


# Ticks leave the hal as plain ints (they are ints on the board; the stubs make
# them opaque). The core does its arithmetic with stim.ticks, which matches
# time.ticks_diff/ticks_add exactly.
def ticks_ms() -> int:
    return time.ticks_ms()  # type: ignore[return-value]


def ticks_us() -> int:
    return time.ticks_us()  # type: ignore[return-value]


ticks_diff = ticks.diff
ticks_add = ticks.add


def sleep_ms(ms: int) -> None:
    time.sleep_ms(ms)


class _In:
    """A fail-safe input: `active()` is True only for the declared active level."""

    def __init__(self, spec: "Input") -> None:
        self.pin = Pin(spec.pin, Pin.IN, Pin.PULL_UP if spec.pull == "up" else Pin.PULL_DOWN)
        self.active_level = spec.active_level

    def active(self) -> bool:
        return self.pin.value() == self.active_level


class _Out:
    def __init__(self, spec: "Output") -> None:
        self.active_level = spec.active_level
        self.pin = Pin(spec.pin, Pin.OUT, value=1 - spec.active_level)

    def set(self, on: bool) -> None:
        self.pin.value(self.active_level if on else 1 - self.active_level)


class Hardware:
    """The board's pins, configured safe-first: outputs off before inputs are read."""

    def __init__(self, board: "Board") -> None:
        outs = board.outputs
        self.output_enable = _Out(outs.output_enable)
        stim: "List[Pin]" = []
        for n in board.stim_pins():
            stim.append(Pin(n, Pin.OUT, value=0))
        self.stim_pins = tuple(stim)
        self.status_led = _Out(outs.status_led)
        self.buzzer = _Out(outs.buzzer)
        self.charge_pump: "Optional[_Out]" = None
        if outs.charge_pump is not None:
            self.charge_pump = _Out(outs.charge_pump)
        ins = board.inputs
        self.key = _In(ins.key)
        self.estop = _In(ins.estop)
        self.buttons = tuple(_In(ins.buttons[name]) for name in sorted(ins.buttons))
        self.button_names = tuple(sorted(ins.buttons))

    def outputs_off(self) -> None:
        self.output_enable.set(False)
        for p in self.stim_pins:
            p.value(0)

    def key_present(self) -> bool:
        return self.key.active()

    def estop_released(self) -> bool:
        return self.estop.active()

    def buttons_mask(self) -> int:
        m = 0
        bit = 1
        for b in self.buttons:
            if b.active():
                m |= bit
            bit <<= 1
        return m


def start_watchdog(timeout_ms: int) -> WDT:
    return WDT(timeout=timeout_ms)
