"""Parse and validate a PicoStim board file (boards/*.json, /board.json on the device).

A board file says which GPIO does what: the stimulation channels and their
PWM slices, the amplitude driver, inputs with their fail-safe wiring, outputs,
I2C buses, the display and the board's hard limits. docs/board-file.md
documents every key.

validate() checks everything it can before any pin is touched and raises
BoardError, a ValueError whose message always begins with the key path, for
example "channels[2].pulse_b: GPIO 7 is on PWM slice 3, but ...". It is the
only place that trusts a board file; the rest of the firmware takes a Board.

Pure: no machine import, no clock. Runs on MicroPython and on CPython, so no
dataclasses, enum or typing at runtime. Numbers from the file stay as the file
gives them (int, or float where a key allows one). No assert: mpy-cross -O
strips it, so every check is if/raise.
"""

import json

from stim.boardspec import (
    BUTTONS,
    DEAD_TIME_DEFAULT_US,
    Amplitude,
    Board,
    BoardError,
    Channel,
    Display,
    FieldError,
    I2CBus,
    Input,
    Inputs,
    Limits,
    Output,
    Outputs,
    Rtc,
    pwm_channel,
    pwm_slice,
    type_name,
)

# Re-exported: the board check, the host tools and the tests use them from here.
__all__ = [
    "BUTTONS",
    "DEAD_TIME_DEFAULT_US",
    "Amplitude",
    "Board",
    "BoardError",
    "Channel",
    "Display",
    "FieldError",
    "I2CBus",
    "Input",
    "Inputs",
    "Limits",
    "Output",
    "Outputs",
    "Rtc",
    "pwm_channel",
    "pwm_slice",
    "type_name",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

SCHEMA = 1
GPIO_MAX = 29  # RP2040: GPIO 0..29
ADC_PINS = (26, 27, 28, 29)  # ADC0..ADC3
ADC_VREF_V = 3.3  # what the ADC reads at full scale on a Pico-style 3.3 V reference
# RP2040 I2C pin functions (datasheet 2.19.2), indexed by I2C block id.
I2C_SDA = ((0, 4, 8, 12, 16, 20, 24, 28), (2, 6, 10, 14, 18, 22, 26))
I2C_SCL = ((1, 5, 9, 13, 17, 21, 25, 29), (3, 7, 11, 15, 19, 23, 27))
LED_STATES = ("safe", "ready", "running", "paused", "fault")  # outputs.status_led.patterns keys
LED_STEPS_MAX = 8  # on/off durations in one LED pattern
LED_STEP_MS = (10, 10000)  # each duration: at least one tick, at most 10 s
AMP_DRIVERS = ("pwm_dac", "mcp4728")
PULLS = ("up", "down")
MAX_CHANNELS = 8  # one PWM slice per channel
NAME_MAX = 16  # channel names are shown on a 128 px display
PWM_MIN_HZ = 8  # below this machine_pwm.c raises "freq too small" at 125 MHz
# The system clock: MicroPython's rp2 port starts at 125 MHz and PicoStim never changes it. A board
# file may state it (cpu_hz) but not choose another: the firmware checks machine.freq() against it
# at boot, takes every pulse setting from the measured clock, and the RP2040 model (fakehw) and the
# pulse tests run at this clock only. (Issue 12: a file saying 200 MHz, which nothing set, would
# have made every phase 1.6x wider and broken the RMS cap.)
CPU_HZ = 125000000
# outputs.charge_pump.hold_ms when the file does not say: how long the output stage keeps its
# supply after the last toggle (the pump's reservoir). Longer is the cautious guess: the safety
# checker counts the stage as powered for that long.
PUMP_HOLD_MS = 20
# The tick turns an ADC reading into current as read_u16() x (nA per count); up to this scale the
# product stays below 2**30, a small int on the RP2040, so reading the sense lines allocates nothing.
SENSE_MA_PER_V_MAX = 300
_REL_TOL = 1e-6  # for mA comparisons: the board's floats are single precision


DEAD_TIME_MAX_US = 1000
BRIDGE_DEAD_TIME = ("firmware", "driver")  # who makes the dead time; the first is the default


# ---------------------------------------------------------------- helpers


def _p(base: str, key: str) -> str:
    return base + "." + key if base else key


def _fmt(x: float) -> str:
    return "%g" % x


def _obj(v: "Any", path: str, required: "Tuple[str, ...]", optional: "Tuple[str, ...]" = ()) -> "Dict[str, Any]":
    """v as an object with exactly these keys: unknown keys first (catches typos), then missing ones."""
    if not isinstance(v, dict):
        raise BoardError(path or "(root)", "expected an object, got " + type_name(v))
    for k in sorted(v):
        if k not in required and k not in optional:
            allowed = ", ".join(sorted(required + optional))
            raise BoardError(_p(path, str(k)), "unknown key (allowed here: " + allowed + ")")
    for k in required:
        if k not in v:
            raise BoardError(_p(path, k), "missing required key")
    return v


def _int(d: "Dict[str, Any]", key: str, path: str, lo: int, hi: int) -> int:
    v = d[key]
    p = _p(path, key)
    if type(v) is bool or not isinstance(v, int):
        raise BoardError(p, "expected an integer, got " + type_name(v))
    if v < lo or v > hi:
        raise BoardError(p, "%d is out of range %d..%d" % (v, lo, hi))
    return v


def _num(d: "Dict[str, Any]", key: str, path: str) -> float:
    """A number > 0 (int or float)."""
    v = d[key]
    p = _p(path, key)
    if type(v) is bool or not isinstance(v, (int, float)):
        raise BoardError(p, "expected a number, got " + type_name(v))
    if not v > 0:
        raise BoardError(p, "must be greater than 0, got " + _fmt(v))
    return v


def _str(d: "Dict[str, Any]", key: str, path: str, maxlen: int) -> str:
    v = d[key]
    p = _p(path, key)
    if not isinstance(v, str):
        raise BoardError(p, "expected a string, got " + type_name(v))
    if not v.strip():
        raise BoardError(p, "must not be empty")
    if len(v) > maxlen:
        raise BoardError(p, "longer than %d characters" % maxlen)
    return v


def _choice(d: "Dict[str, Any]", key: str, path: str, choices: "Tuple[str, ...]") -> str:
    v = d[key]
    p = _p(path, key)
    if not isinstance(v, str):
        raise BoardError(p, "expected a string, got " + type_name(v))
    if v not in choices:
        raise BoardError(p, repr(v) + " is not one of: " + ", ".join(choices))
    return v


class _Ctx:
    """Who uses which GPIO, PWM slice and PWM output, so that nothing is claimed twice."""

    def __init__(self, cpu_hz: int) -> None:
        self.cpu_hz = cpu_hz
        self.pins: "Dict[int, str]" = {}
        # slice -> (key path of the first user, role "stim"/"dac"/"buzzer", frequency in Hz or 0)
        self.slices: "Dict[int, Tuple[str, str, int]]" = {}
        self.outs: "Dict[int, str]" = {}

    def pin(self, v: "Any", p: str) -> int:
        if type(v) is bool or not isinstance(v, int):
            raise BoardError(p, "expected a GPIO number, got " + type_name(v))
        if v < 0 or v > GPIO_MAX:
            raise BoardError(p, "GPIO %d does not exist (RP2040 has GPIO 0..%d)" % (v, GPIO_MAX))
        other = self.pins.get(v)
        if other is not None:
            raise BoardError(p, "GPIO %d is already used by %s" % (v, other))
        self.pins[v] = p
        return v

    def pin_key(self, d: "Dict[str, Any]", key: str, path: str) -> int:
        return self.pin(d[key], _p(path, key))

    def pwm(self, pin: int, p: str, role: str, hz: int) -> None:
        """Claim pin as a PWM output. A stim channel owns its slice alone; others share only a frequency."""
        s = pwm_slice(pin)
        prev = self.slices.get(s)
        if prev is not None:
            owner, prole, phz = prev
            if prole == "stim" and role == "stim":
                raise BoardError(
                    p,
                    "GPIO %d is on PWM slice %d, already used by %s; each channel needs a slice of its own"
                    % (pin, s, owner),
                )
            if prole == "stim" or role == "stim":
                stim_owner = owner if prole == "stim" else p
                raise BoardError(
                    p,
                    "GPIO %d is on PWM slice %d, which also carries %s; the two channels of a slice share"
                    " one frequency, so nothing else may use PWM on a stim channel's slice" % (pin, s, stim_owner),
                )
            if phz != hz:
                raise BoardError(
                    p,
                    "GPIO %d is on PWM slice %d, which already runs at %d Hz for %s;"
                    " a slice has one frequency" % (pin, s, phz, owner),
                )
        out = pin & 15  # GPIO n and n+16 are the same PWM output
        other = self.outs.get(out)
        if other is not None:
            raise BoardError(
                p,
                "GPIO %d is the same PWM output (slice %d channel %s) as %s" % (pin, s, "AB"[pwm_channel(pin)], other),
            )
        if prev is None:
            self.slices[s] = (p, role, hz)
        self.outs[out] = p


# ---------------------------------------------------------------- sections


def _channel(v: "Any", i: int, ctx: _Ctx) -> Channel:
    path = "channels[%d]" % i
    d = _obj(v, path, ("name", "pulse_a", "pulse_b", "amp", "max_ma"), ("sense_adc", "sense_ma_per_volt"))
    name = _str(d, "name", path, NAME_MAX)
    a = ctx.pin_key(d, "pulse_a", path)
    if pwm_channel(a) != 0:
        raise BoardError(
            path + ".pulse_a",
            "GPIO %d is PWM channel B of slice %d; the positive phase must be on"
            " channel A (an even GPIO)" % (a, pwm_slice(a)),
        )
    b = ctx.pin_key(d, "pulse_b", path)
    if pwm_channel(b) != 1:
        raise BoardError(
            path + ".pulse_b",
            "GPIO %d is PWM channel A of slice %d; the negative phase must be on"
            " channel B (an odd GPIO)" % (b, pwm_slice(b)),
        )
    if pwm_slice(b) != pwm_slice(a):
        raise BoardError(
            path + ".pulse_b",
            "GPIO %d is on PWM slice %d, but pulse_a GPIO %d is on slice %d; both phases"
            " must come from one slice (GPIO %d or %d)" % (b, pwm_slice(b), a, pwm_slice(a), a ^ 1, (a ^ 1) ^ 16),
        )
    ctx.pwm(a, path + ".pulse_a", "stim", 0)
    ctx.outs[b & 15] = path + ".pulse_b"  # the slice is this channel's alone already
    amp = _int(d, "amp", path, 0, 255)  # checked against the driver in _cross_check
    sense: "Optional[int]" = None
    sense_mpv: "Optional[float]" = None
    if d.get("sense_adc") is not None:
        sense = ctx.pin_key(d, "sense_adc", path)
        if sense not in ADC_PINS:
            raise BoardError(
                path + ".sense_adc",
                "GPIO %d has no ADC input; the RP2040 ADC pins are GPIO 26, 27, 28, 29" % sense,
            )
        if "sense_ma_per_volt" not in d:
            raise BoardError(path + ".sense_ma_per_volt", "missing required key (sense_adc is set)")
        sense_mpv = _num(d, "sense_ma_per_volt", path)
        if _over(sense_mpv, SENSE_MA_PER_V_MAX):
            raise BoardError(
                path + ".sense_ma_per_volt",
                "at most %d mA/V (the tick's reading must stay a small int), got %s"
                % (SENSE_MA_PER_V_MAX, _fmt(sense_mpv)),
            )
    elif "sense_ma_per_volt" in d:
        raise BoardError(path + ".sense_ma_per_volt", "given without sense_adc")
    max_ma = _num(d, "max_ma", path)
    return Channel(i, name, a, b, amp, sense, sense_mpv, max_ma)


def _amplitude(v: "Any", ctx: _Ctx) -> Amplitude:
    path = "amplitude"
    if not isinstance(v, dict):
        raise BoardError(path, "expected an object, got " + type_name(v))
    if "driver" not in v:
        raise BoardError(path + ".driver", "missing required key")
    driver = _choice(v, "driver", path, AMP_DRIVERS)
    if driver == "pwm_dac":
        d = _obj(v, path, ("driver", "pins", "pwm_hz", "code_max", "ma_per_code"))
        code_max = _int(d, "code_max", path, 1, 65535)
        pwm_hz = _int(d, "pwm_hz", path, PWM_MIN_HZ, ctx.cpu_hz // 2)
        counts = ctx.cpu_hz // pwm_hz
        if counts < code_max + 1:
            raise BoardError(
                path + ".code_max",
                "%d needs %d PWM counts per period, but %d Hz / %d Hz gives only %d"
                % (code_max, code_max + 1, ctx.cpu_hz, pwm_hz, counts),
            )
        pins_v = d["pins"]
        if not isinstance(pins_v, list):
            raise BoardError(path + ".pins", "expected a list of GPIOs, got " + type_name(pins_v))
        if not 1 <= len(pins_v) <= MAX_CHANNELS:
            raise BoardError(path + ".pins", "needs 1 to %d GPIOs" % MAX_CHANNELS)
        pins: "List[int]" = []
        for j, pv in enumerate(pins_v):
            pp = "%s.pins[%d]" % (path, j)
            pin = ctx.pin(pv, pp)
            ctx.pwm(pin, pp, "dac", pwm_hz)
            pins.append(pin)
        ma_per_code = _num(d, "ma_per_code", path)
        return Amplitude(driver, code_max, ma_per_code, pins=tuple(pins), pwm_hz=pwm_hz)
    d = _obj(v, path, ("driver", "bus", "address", "code_max", "ma_per_code"))
    bus = _str(d, "bus", path, 32)
    address = _int(d, "address", path, 0x60, 0x67)
    code_max = _int(d, "code_max", path, 1, 4095)
    ma_per_code = _num(d, "ma_per_code", path)
    return Amplitude(driver, code_max, ma_per_code, bus=bus, address=address)


def _i2c(v: "Any", ctx: _Ctx) -> "Dict[str, I2CBus]":
    if not isinstance(v, dict):
        raise BoardError("i2c", "expected an object (bus name -> bus), got " + type_name(v))
    buses: "Dict[str, I2CBus]" = {}
    ids: "Dict[int, str]" = {}
    for name in sorted(v):
        path = "i2c." + name
        d = _obj(v[name], path, ("id", "sda", "scl", "freq"))
        bid = _int(d, "id", path, 0, 1)
        if bid in ids:
            raise BoardError(path + ".id", "I2C%d is already used by i2c.%s" % (bid, ids[bid]))
        ids[bid] = name
        sda = ctx.pin_key(d, "sda", path)
        if sda not in I2C_SDA[bid]:
            raise BoardError(
                path + ".sda",
                "GPIO %d cannot be I2C%d SDA (I2C%d SDA pins: %s)"
                % (sda, bid, bid, ", ".join(str(n) for n in I2C_SDA[bid])),
            )
        scl = ctx.pin_key(d, "scl", path)
        if scl not in I2C_SCL[bid]:
            raise BoardError(
                path + ".scl",
                "GPIO %d cannot be I2C%d SCL (I2C%d SCL pins: %s)"
                % (scl, bid, bid, ", ".join(str(n) for n in I2C_SCL[bid])),
            )
        freq = _int(d, "freq", path, 1000, 1000000)
        buses[name] = I2CBus(name, bid, sda, scl, freq)
    return buses


_BROKEN_WIRE = {
    "key": "a broken wire would read as key present",
    "estop": "a broken wire would read as e-stop released (run allowed)",
}


def _input(v: "Any", path: str, name: str, ctx: _Ctx) -> Input:
    d = _obj(v, path, ("pin", "pull", "active_level"), ("failsafe_level",))
    pin = ctx.pin_key(d, "pin", path)
    pull = _choice(d, "pull", path, PULLS)
    active = _int(d, "active_level", path, 0, 1)
    pulled = 1 if pull == "up" else 0
    if "failsafe_level" not in d:
        raise BoardError(
            path + ".failsafe_level",
            "missing required key: declare the level a broken wire reads (%d with pull %s)" % (pulled, pull),
        )
    failsafe = _int(d, "failsafe_level", path, 0, 1)
    if failsafe != pulled:
        raise BoardError(
            path + ".failsafe_level",
            "is %d, but pull %s makes a broken wire read %d" % (failsafe, pull, pulled),
        )
    if failsafe == active:
        why = _BROKEN_WIRE.get(name, "a broken wire would read as the button held down")
        raise BoardError(
            path + ".failsafe_level",
            "equals active_level %d: %s; wire it so that an open circuit reads inactive" % (active, why),
        )
    return Input(name, pin, pull, active, failsafe)


def _inputs(v: "Any", ctx: _Ctx) -> Inputs:
    d = _obj(v, "inputs", ("key", "estop", "buttons"))
    key = _input(d["key"], "inputs.key", "key", ctx)
    estop = _input(d["estop"], "inputs.estop", "estop", ctx)
    bd = _obj(d["buttons"], "inputs.buttons", BUTTONS)
    buttons: "Dict[str, Input]" = {}
    for n in BUTTONS:
        buttons[n] = _input(bd[n], "inputs.buttons." + n, n, ctx)
    return Inputs(key, estop, buttons)


def _led_patterns(v: "Any", path: str) -> "Dict[str, Tuple[int, ...]]":
    """status_led.patterns: state -> "on", "off" or [on ms, off ms, ...] (an even count, from on)."""
    d = _obj(v, path, (), LED_STATES)
    out: "Dict[str, Tuple[int, ...]]" = {}
    lo, hi = LED_STEP_MS
    for k in LED_STATES:
        if k not in d:
            continue
        p = _p(path, k)
        x = d[k]
        if x == "on":
            out[k] = (1000, 0)
        elif x == "off":
            out[k] = (0, 1000)
        elif isinstance(x, list):
            if len(x) < 2 or len(x) > LED_STEPS_MAX or len(x) % 2:
                raise BoardError(
                    p, "needs an even number (2..%d) of on/off durations in ms, got %d" % (LED_STEPS_MAX, len(x))
                )
            steps: "List[int]" = []
            for j, ms in enumerate(x):
                if type(ms) is bool or not isinstance(ms, int):
                    raise BoardError("%s[%d]" % (p, j), "expected an integer (ms), got " + type_name(ms))
                if ms < lo or ms > hi:
                    raise BoardError("%s[%d]" % (p, j), "%d ms is out of range %d..%d" % (ms, lo, hi))
                steps.append(ms)
            out[k] = tuple(steps)
        else:
            raise BoardError(p, 'expected "on", "off" or a list of on/off durations in ms, got ' + type_name(x))
    return out


def _output(v: "Any", path: str, name: str, ctx: _Ctx, pwm_ok: bool, led: bool = False, pump: bool = False) -> Output:
    opt: "Tuple[str, ...]" = ("pwm_hz",) if pwm_ok else ()
    if led:
        opt = ("patterns",)
    if pump:
        opt = ("hold_ms",)
    d = _obj(v, path, ("pin", "active_level"), opt)
    pin = ctx.pin_key(d, "pin", path)
    active = _int(d, "active_level", path, 0, 1)
    hz: "Optional[int]" = None
    if d.get("pwm_hz") is not None:
        hz = _int(d, "pwm_hz", path, 20, 20000)
        ctx.pwm(pin, path + ".pin", name, hz)
    patterns: "Optional[Dict[str, Tuple[int, ...]]]" = None
    if d.get("patterns") is not None:
        patterns = _led_patterns(d["patterns"], path + ".patterns")
    hold: "Optional[int]" = None
    if pump:
        hold = _int(d, "hold_ms", path, 1, 1000) if d.get("hold_ms") is not None else PUMP_HOLD_MS
    return Output(name, pin, active, hz, patterns, hold)


def _outputs(v: "Any", ctx: _Ctx) -> Outputs:
    d = _obj(v, "outputs", ("output_enable", "status_led", "buzzer"), ("charge_pump",))
    oe = _output(d["output_enable"], "outputs.output_enable", "output_enable", ctx, False)
    led = _output(d["status_led"], "outputs.status_led", "status_led", ctx, False, led=True)
    buzzer = _output(d["buzzer"], "outputs.buzzer", "buzzer", ctx, True)
    cp: "Optional[Output]" = None
    if d.get("charge_pump") is not None:
        cp = _output(d["charge_pump"], "outputs.charge_pump", "charge_pump", ctx, False, pump=True)
    return Outputs(oe, led, buzzer, cp)


def _display(v: "Any") -> Display:
    path = "display"
    d = _obj(v, path, ("driver", "bus", "address", "width", "height"))
    driver = _choice(d, "driver", path, ("ssd1306",))
    bus = _str(d, "bus", path, 32)
    address = _int(d, "address", path, 0x3C, 0x3D)
    width = _int(d, "width", path, 128, 128)
    height = _int(d, "height", path, 32, 64)
    if height not in (32, 64):
        raise BoardError(path + ".height", "%d is not 32 or 64" % height)
    return Display(driver, bus, address, width, height)


DS3231_ADDRESS = 0x68  # fixed in the chip (datasheet: slave address 1101000)


def _rtc(v: "Any") -> Rtc:
    path = "rtc"
    d = _obj(v, path, ("driver", "bus"), ("address",))
    driver = _choice(d, "driver", path, ("ds3231",))
    bus = _str(d, "bus", path, 32)
    address = _int(d, "address", path, DS3231_ADDRESS, DS3231_ADDRESS) if "address" in d else DS3231_ADDRESS
    return Rtc(driver, bus, address)


def _limits(v: "Any") -> Limits:
    path = "limits"
    d = _obj(
        v, path, ("board_max_ma", "ramp_ma_per_s", "guard_us", "max_session_s"), ("dead_time_us", "bridge_dead_time")
    )
    who = BRIDGE_DEAD_TIME[0]
    if d.get("bridge_dead_time") is not None:
        who = _choice(d, "bridge_dead_time", path, BRIDGE_DEAD_TIME)
    dead = DEAD_TIME_DEFAULT_US
    if d.get("dead_time_us") is not None:
        dead = _int(d, "dead_time_us", path, 0, DEAD_TIME_MAX_US)
        if dead == 0 and who != "driver":
            raise BoardError(
                _p(path, "dead_time_us"),
                '0 is allowed only with "bridge_dead_time": "driver"'
                " (the gate drivers insert the dead time themselves); otherwise 1..%d us, so that"
                " the H-bridge never shoots through" % DEAD_TIME_MAX_US,
            )
    return Limits(
        _num(d, "board_max_ma", path),
        _num(d, "ramp_ma_per_s", path),
        _int(d, "guard_us", path, 1, 10000),
        _int(d, "max_session_s", path, 1, 86400),
        dead,
        who,
    )


def _bus(buses: "Dict[str, I2CBus]", name: str, p: str) -> None:
    if name not in buses:
        known = ", ".join(sorted(buses)) or "none"
        raise BoardError(p, "%s is not a bus in i2c (known: %s)" % (repr(name), known))


def _over(x: float, limit: float) -> bool:
    return x > limit * (1 + _REL_TOL)


def _cross_check(
    channels: "Tuple[Channel, ...]",
    amp: Amplitude,
    buses: "Dict[str, I2CBus]",
    display: "Optional[Display]",
    limits: Limits,
    rtc: "Optional[Rtc]" = None,
) -> None:
    # Amplitude channel mapping.
    owner: "Dict[int, str]" = {}
    n_amp = len(amp.pins) if amp.driver == "pwm_dac" else 4
    what = "amplitude.pins" if amp.driver == "pwm_dac" else "MCP4728 channels"
    for ch in channels:
        p = "channels[%d].amp" % ch.index
        if ch.amp >= n_amp:
            raise BoardError(p, "%d is not an index into %s (0..%d)" % (ch.amp, what, n_amp - 1))
        if ch.amp in owner:
            raise BoardError(p, "%d is already the amplitude of %s" % (ch.amp, owner[ch.amp]))
        owner[ch.amp] = "channels[%d]" % ch.index
        if amp.driver == "pwm_dac":
            ch.amp_pin = amp.pins[ch.amp]
    if amp.driver == "pwm_dac":
        for j, pin in enumerate(amp.pins):
            if j not in owner:
                raise BoardError("amplitude.pins[%d]" % j, "GPIO %d is not the amp of any channel" % pin)
    # I2C references.
    if amp.bus is not None:
        _bus(buses, amp.bus, "amplitude.bus")
    if display is not None:
        _bus(buses, display.bus, "display.bus")
        if display.bus == amp.bus and display.address == amp.address:
            raise BoardError("display.address", "0x%02x is also the amplitude DAC's address" % display.address)
    if rtc is not None:
        _bus(buses, rtc.bus, "rtc.bus")
        if rtc.bus == amp.bus and rtc.address == amp.address:
            raise BoardError("rtc.address", "0x%02x is also the amplitude DAC's address" % rtc.address)
        if display is not None and rtc.bus == display.bus and rtc.address == display.address:
            raise BoardError("rtc.address", "0x%02x is also the display's address" % rtc.address)
    # Currents.
    fs = amp.full_scale_ma
    deliver = "the amplitude driver can deliver (code_max %d x %s mA = %s mA)" % (
        amp.code_max,
        _fmt(amp.ma_per_code),
        _fmt(fs),
    )
    if _over(limits.board_max_ma, fs):
        raise BoardError("limits.board_max_ma", "%s mA is more than %s" % (_fmt(limits.board_max_ma), deliver))
    for ch in channels:
        p = "channels[%d]" % ch.index
        if _over(ch.max_ma, fs):
            raise BoardError(p + ".max_ma", "%s mA is more than %s" % (_fmt(ch.max_ma), deliver))
        if _over(ch.max_ma, limits.board_max_ma):
            raise BoardError(
                p + ".max_ma",
                "%s mA is above limits.board_max_ma %s mA" % (_fmt(ch.max_ma), _fmt(limits.board_max_ma)),
            )
        if ch.sense_ma_per_volt is not None and _over(ch.max_ma, ch.sense_ma_per_volt * ADC_VREF_V):
            raise BoardError(
                p + ".sense_ma_per_volt",
                "the ADC reads at most %s mA (%s V), below max_ma %s mA:"
                " an over-current would go unseen"
                % (_fmt(ch.sense_ma_per_volt * ADC_VREF_V), _fmt(ADC_VREF_V), _fmt(ch.max_ma)),
            )


# ---------------------------------------------------------------- API


def validate(d: "Any") -> Board:
    """Check a decoded board file and build a Board; raise BoardError on the first problem."""
    root = _obj(
        d,
        "",
        ("schema", "name", "hardware_safety", "channels", "amplitude", "inputs", "outputs", "limits"),
        ("description", "cpu_hz", "i2c", "display", "rtc"),
    )
    schema = _int(root, "schema", "", SCHEMA, SCHEMA)
    name = _str(root, "name", "", 40)
    description = _str(root, "description", "", 400) if "description" in root else ""
    cpu_hz = CPU_HZ
    if "cpu_hz" in root:
        cpu_hz = _int(root, "cpu_hz", "", 1, 200000000)
        if cpu_hz != CPU_HZ:
            raise BoardError(
                "cpu_hz",
                "%d Hz: PicoStim runs the RP2040 at MicroPython's %d Hz and never"
                " changes it (pulse timing and the RMS cap are verified there); remove"
                " cpu_hz or set it to %d" % (cpu_hz, CPU_HZ, CPU_HZ),
            )
    hardware_safety = _str(root, "hardware_safety", "", 2000)
    ctx = _Ctx(cpu_hz)
    chv = root["channels"]
    if not isinstance(chv, list):
        raise BoardError("channels", "expected a list, got " + type_name(chv))
    if not 1 <= len(chv) <= MAX_CHANNELS:
        raise BoardError("channels", "needs 1 to %d channels, got %d" % (MAX_CHANNELS, len(chv)))
    channels = tuple(_channel(v, i, ctx) for i, v in enumerate(chv))
    seen: "Dict[str, int]" = {}
    for ch in channels:
        if ch.name in seen:
            raise BoardError(
                "channels[%d].name" % ch.index,
                "%s is also the name of channels[%d]" % (repr(ch.name), seen[ch.name]),
            )
        seen[ch.name] = ch.index
    amplitude = _amplitude(root["amplitude"], ctx)
    buses = _i2c(root["i2c"], ctx) if "i2c" in root else {}
    inputs = _inputs(root["inputs"], ctx)
    outputs = _outputs(root["outputs"], ctx)
    display = _display(root["display"]) if root.get("display") is not None else None
    limits = _limits(root["limits"])
    rtc = _rtc(root["rtc"]) if root.get("rtc") is not None else None
    _cross_check(channels, amplitude, buses, display, limits, rtc)
    return Board(
        schema,
        name,
        description,
        cpu_hz,
        hardware_safety,
        channels,
        amplitude,
        buses,
        inputs,
        outputs,
        display,
        limits,
        rtc,
    )


def parse(text: str) -> Board:
    """Decode JSON text and validate it."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise BoardError("(json)", "not valid JSON: " + str(e)) from None
    return validate(d)


def load(path: str) -> Board:
    """Read, decode and validate a board file."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise BoardError("(file)", "cannot read " + path + ": " + str(e)) from None
    return parse(text)
