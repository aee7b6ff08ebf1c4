"""What the running firmware keeps of a board file: the Board and its parts, and the few names
the rest of the firmware shares with the board check (BUTTONS, FieldError, type_name, pwm_slice).

stim.board parses and validates a board file into these objects. It is needed only at boot (and
by the host tools): stim.app drops it once the board is loaded, and with it ~13 KB of the heap
(silicon.heap_live_bytes_max, issue 12). So this module must never import stim.board.

Pure: no machine import, no clock; runs on MicroPython and on CPython.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

BUTTONS = ("start_pause", "plus", "minus", "channel", "program")
DEAD_TIME_DEFAULT_US = 2  # limits.dead_time_us when the file says nothing


def pwm_slice(pin: int) -> int:
    """PWM slice of a GPIO: GPIO n and n+16 share a slice."""
    return (pin >> 1) & 7


def pwm_channel(pin: int) -> int:
    """PWM channel of a GPIO: 0 is A (even GPIO), 1 is B (odd GPIO)."""
    return pin & 1


class FieldError(ValueError):
    """A value that is not valid. str(e) is "<key path>: <reason>"; also e.path and e.reason.

    The base of BoardError, stim.programs.ProgramError and stim.pulse.PulseError.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path + ": " + reason)
        self.path = path
        self.reason = reason


class BoardError(FieldError):
    """A board file is not valid. str(e) is "<key path>: <reason>"."""


class Input:
    """A digital input. `level` is the raw pin level, 0 or 1."""

    def __init__(self, name: str, pin: int, pull: str, active_level: int, failsafe_level: int) -> None:
        self.name = name
        self.pin = pin
        self.pull = pull
        self.active_level = active_level
        self.failsafe_level = failsafe_level

    def is_active(self, level: int) -> bool:
        """True if the raw level means key present / e-stop released / button pressed."""
        return level == self.active_level


class Output:
    """A digital output (buzzer: PWM when pwm_hz is set; status LED: optional blink patterns)."""

    def __init__(
        self,
        name: str,
        pin: int,
        active_level: int,
        pwm_hz: "Optional[int]" = None,
        patterns: "Optional[Dict[str, Tuple[int, ...]]]" = None,
        hold_ms: "Optional[int]" = None,
    ) -> None:
        self.name = name
        self.pin = pin
        self.active_level = active_level
        self.idle_level = 1 - active_level
        self.pwm_hz = pwm_hz
        # status_led only: state name (LED_STATES) -> (on ms, off ms, on ms, ...); "on" is (1000, 0),
        # "off" (0, 1000). States the board leaves out keep stim.feedback's defaults.
        self.patterns = patterns
        # charge_pump only: how long the output stage keeps its supply after the last toggle
        self.hold_ms = hold_ms


class Channel:
    """One stimulation channel: a biphasic pulse pair on one PWM slice."""

    def __init__(
        self,
        index: int,
        name: str,
        pulse_a: int,
        pulse_b: int,
        amp: int,
        sense_adc: "Optional[int]",
        sense_ma_per_volt: "Optional[float]",
        max_ma: float,
    ) -> None:
        self.index = index
        self.name = name
        self.pulse_a = pulse_a  # positive phase, PWM channel A
        self.pulse_b = pulse_b  # negative phase, PWM channel B of the same slice
        self.slice = pwm_slice(pulse_a)
        self.amp = amp  # mcp4728: DAC channel 0..3; pwm_dac: index into amplitude.pins
        self.amp_pin: "Optional[int]" = None  # pwm_dac: the DAC GPIO; set by validate()
        self.sense_adc = sense_adc  # ADC GPIO (26..29) or None
        self.sense_ma_per_volt = sense_ma_per_volt
        self.max_ma = max_ma


class Amplitude:
    """Amplitude driver. Output current is code * ma_per_code, code in 0..code_max."""

    def __init__(
        self,
        driver: str,
        code_max: int,
        ma_per_code: float,
        pins: "Tuple[int, ...]" = (),
        pwm_hz: "Optional[int]" = None,
        bus: "Optional[str]" = None,
        address: "Optional[int]" = None,
    ) -> None:
        self.driver = driver
        self.code_max = code_max
        self.ma_per_code = ma_per_code
        self.full_scale_ma = code_max * ma_per_code
        self.pins = pins  # pwm_dac only
        self.pwm_hz = pwm_hz  # pwm_dac only
        self.bus = bus  # mcp4728 only
        self.address = address  # mcp4728 only


class I2CBus:
    def __init__(self, name: str, id: int, sda: int, scl: int, freq: int) -> None:
        self.name = name
        self.id = id
        self.sda = sda
        self.scl = scl
        self.freq = freq


class Display:
    def __init__(self, driver: str, bus: str, address: int, width: int, height: int) -> None:
        self.driver = driver
        self.bus = bus
        self.address = address
        self.width = width
        self.height = height


class Rtc:
    """A battery-backed real-time clock on an I2C bus (the wall time of the dose guard)."""

    def __init__(self, driver: str, bus: str, address: int) -> None:
        self.driver = driver
        self.bus = bus
        self.address = address


class Inputs:
    def __init__(self, key: Input, estop: Input, buttons: "Dict[str, Input]") -> None:
        self.key = key
        self.estop = estop
        self.buttons = buttons  # name -> Input, names as in BUTTONS

    def all(self) -> "Tuple[Input, ...]":
        """key, estop, then the buttons in BUTTONS order."""
        return (self.key, self.estop) + tuple(self.buttons[n] for n in BUTTONS)


class Outputs:
    def __init__(
        self, output_enable: Output, status_led: Output, buzzer: Output, charge_pump: "Optional[Output]"
    ) -> None:
        self.output_enable = output_enable
        self.status_led = status_led
        self.buzzer = buzzer
        self.charge_pump = charge_pump  # dynamic enable, toggled by the tick; None if absent

    def all(self) -> "Tuple[Output, ...]":
        if self.charge_pump is None:
            return (self.output_enable, self.status_led, self.buzzer)
        return (self.output_enable, self.status_led, self.buzzer, self.charge_pump)


class Limits:
    def __init__(
        self,
        board_max_ma: float,
        ramp_ma_per_s: float,
        guard_us: int,
        max_session_s: int,
        dead_time_us: int = DEAD_TIME_DEFAULT_US,
        bridge_dead_time: str = "firmware",
    ) -> None:
        self.board_max_ma = board_max_ma
        self.ramp_ma_per_s = ramp_ma_per_s
        self.guard_us = guard_us
        self.max_session_s = max_session_s
        # The least time between one phase ending and the other starting (an H-bridge's two legs
        # must never conduct together); bridge_dead_time "driver": the gate drivers insert their own.
        self.dead_time_us = dead_time_us
        self.bridge_dead_time = bridge_dead_time


class Board:
    def __init__(
        self,
        schema: int,
        name: str,
        description: str,
        cpu_hz: int,
        hardware_safety: str,
        channels: "Tuple[Channel, ...]",
        amplitude: Amplitude,
        i2c: "Dict[str, I2CBus]",
        inputs: Inputs,
        outputs: Outputs,
        display: "Optional[Display]",
        limits: Limits,
        rtc: "Optional[Rtc]" = None,
    ) -> None:
        self.schema = schema
        self.name = name
        self.description = description
        self.cpu_hz = cpu_hz
        self.hardware_safety = hardware_safety
        self.channels = channels
        self.amplitude = amplitude
        self.i2c = i2c
        self.inputs = inputs
        self.outputs = outputs
        self.display = display
        self.limits = limits
        self.rtc = rtc

    def stim_pins(self) -> "Tuple[int, ...]":
        """Every pulse pin (pulse_a, pulse_b of each channel): what the kill path drives low."""
        pins: "List[int]" = []
        for ch in self.channels:
            pins.append(ch.pulse_a)
            pins.append(ch.pulse_b)
        return tuple(pins)

    def stim_slices(self) -> "Tuple[int, ...]":
        return tuple(ch.slice for ch in self.channels)

    def input_pins(self) -> "Tuple[int, ...]":
        """key, estop, then the buttons in BUTTONS order."""
        return tuple(i.pin for i in self.inputs.all())

    def output_pins(self) -> "Tuple[int, ...]":
        return tuple(o.pin for o in self.outputs.all())

    def pwm_slices_used(self) -> "Tuple[int, ...]":
        """Sorted PWM slices in use by anything: stim channels, PWM DAC pins, a PWM buzzer."""
        used = [ch.slice for ch in self.channels]
        if self.amplitude.driver == "pwm_dac":
            used.extend(pwm_slice(p) for p in self.amplitude.pins)
        if self.outputs.buzzer.pwm_hz is not None:
            used.append(pwm_slice(self.outputs.buzzer.pin))
        return tuple(sorted(set(used)))


def type_name(v: "Any") -> str:
    """The JSON name of v's type, for error messages (board files, programs, console)."""
    if v is None:
        return "null"
    if type(v) is bool:
        return "true/false"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__
