"""Board-file validation rules (firmware/stim/board.py).

Runs under pytest and on the MicroPython unix port (no pytest import). Each
rejection test mutates a fresh copy of boards/stim4.json and checks that the
message begins with the key path of the offending key.
"""

import json
import os

from _util import expect_raises
from stim.board import BUTTONS, SENSE_MA_PER_V_MAX, BoardError, load, parse, validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Tuple

    from stim.board import Board


def _boards_dir() -> str:
    f = __file__
    i = f.rfind("/")
    here = f[:i] if i >= 0 else "."
    for cand in (here + "/../../boards", "../../boards", "boards"):
        try:
            os.stat(cand + "/stim4.json")
            return cand
        except OSError:
            pass
    raise AssertionError("boards/ not found from " + f)


_TEXT: "Dict[str, str]" = {}


def _path(name: str) -> str:
    return _boards_dir() + "/" + name


def _text(name: str) -> str:
    if name not in _TEXT:
        with open(_path(name)) as f:
            _TEXT[name] = f.read()
    return _TEXT[name]


def _stim4() -> "Dict[str, Any]":
    """A fresh, mutable copy of the stim4 board (MicroPython has no copy.deepcopy)."""
    d: Dict[str, Any] = json.loads(_text("stim4.json"))
    return d


def _raises(exc_type: "Any", fn: "Callable[..., object]", *args: "Any") -> "Any":
    """expect_raises, typed for mypy (_util itself stays untyped: it runs on MicroPython)."""
    return expect_raises(exc_type, fn, *args)  # type: ignore[no-untyped-call]


def _rejects(d: "Any", path: str, *words: str) -> str:
    e = _raises(BoardError, validate, d)
    msg = str(e)
    assert msg.startswith(path + ":"), msg
    assert e.path == path, msg
    for w in words:
        assert w in msg, msg
    return msg


def _valid(d: "Any") -> "Board":
    b: Board = validate(d)
    return b


def _set(d: "Dict[str, Any]", where: "Tuple[Any, ...]", value: "Any") -> None:
    """d[where[0]][where[1]]... = value."""
    node: Any = d
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value


# ---------------------------------------------------------------- the shipped boards


def test_stim4_is_valid() -> None:
    b = load(_path("stim4.json"))
    assert b.schema == 1
    assert len(b.channels) == 4
    assert [c.index for c in b.channels] == [0, 1, 2, 3]
    for c in b.channels:
        assert c.pulse_a % 2 == 0
        assert c.pulse_b == c.pulse_a + 1
        assert c.slice == (c.pulse_a >> 1) & 7
        assert c.max_ma <= b.limits.board_max_ma
    assert [c.sense_adc for c in b.channels] == [26, 27, 28, None]
    assert b.channels[3].sense_ma_per_volt is None
    assert b.amplitude.driver == "pwm_dac"
    assert [c.amp_pin for c in b.channels] == list(b.amplitude.pins)
    assert b.amplitude.full_scale_ma >= b.limits.board_max_ma
    assert b.inputs.key.active_level == 0 and b.inputs.key.failsafe_level == 1
    assert b.inputs.estop.active_level == 0 and b.inputs.estop.failsafe_level == 1
    assert sorted(b.inputs.buttons) == sorted(BUTTONS)
    assert b.outputs.charge_pump is not None
    assert b.outputs.buzzer.pwm_hz is not None
    assert b.display is not None and b.display.bus in b.i2c
    assert b.display.width == 128 and b.display.height == 64
    assert b.limits.ramp_ma_per_s == 5 and b.limits.guard_us == 20 and b.limits.max_session_s == 3600
    assert "series" in b.hardware_safety and "pull-down" in b.hardware_safety


def test_pico_bench_is_valid() -> None:
    b = load(_path("pico_bench.json"))
    assert len(b.channels) == 2
    assert b.outputs.status_led.pin == 25
    assert b.outputs.charge_pump is None
    assert b.display is None and b.i2c == {}
    for i in b.inputs.all():
        assert i.pull == "up" and i.failsafe_level == 1 and i.active_level == 0
    assert b.amplitude.full_scale_ma >= b.limits.board_max_ma


def test_board_helpers() -> None:
    b = load(_path("stim4.json"))
    assert b.stim_pins() == (2, 3, 4, 5, 6, 7, 8, 9)
    assert b.stim_slices() == (1, 2, 3, 4)
    assert b.input_pins() == (18, 19, 20, 21, 22, 23, 24)
    assert b.output_pins() == (15, 25, 14, 29)
    assert b.pwm_slices_used() == (1, 2, 3, 4, 5, 6, 7)
    assert b.inputs.key.is_active(0) and not b.inputs.key.is_active(1)
    assert b.outputs.output_enable.idle_level == 0


def test_parse_text_and_defaults() -> None:
    d = _stim4()
    del d["cpu_hz"]
    del d["description"]
    b = parse(json.dumps(d))
    assert b.cpu_hz == 125000000
    assert b.description == ""
    assert b.name == "PicoStim stim4"


def test_board_error_is_a_value_error() -> None:
    e = _raises(ValueError, validate, [])
    assert isinstance(e, BoardError)
    assert str(e).startswith("(root):")


# ---------------------------------------------------------------- file and JSON


def test_bad_json() -> None:
    e = _raises(BoardError, parse, '{"schema": 1,')
    assert str(e).startswith("(json):"), str(e)
    assert "not valid JSON" in str(e)
    # Truncated text. (MicroPython's json tolerates a missing comma, so a typo test would not be
    # portable; `picostim board check` on the host uses CPython's strict parser.)
    e = _raises(BoardError, parse, _text("stim4.json")[:-40])
    assert str(e).startswith("(json):")
    e = _raises(BoardError, parse, "")
    assert str(e).startswith("(json):")


def test_load_missing_file() -> None:
    e = _raises(BoardError, load, _path("no-such-board.json"))
    assert str(e).startswith("(file):"), str(e)


# ---------------------------------------------------------------- structure


def test_missing_required_key() -> None:
    for key in ("schema", "name", "hardware_safety", "channels", "amplitude", "inputs", "outputs", "limits"):
        d = _stim4()
        del d[key]
        _rejects(d, key, "missing")
    d = _stim4()
    del d["channels"][2]["max_ma"]
    _rejects(d, "channels[2].max_ma", "missing")
    d = _stim4()
    del d["amplitude"]["driver"]
    _rejects(d, "amplitude.driver", "missing")
    d = _stim4()
    del d["amplitude"]["ma_per_code"]
    _rejects(d, "amplitude.ma_per_code", "missing")
    d = _stim4()
    del d["inputs"]["buttons"]["program"]
    _rejects(d, "inputs.buttons.program", "missing")
    d = _stim4()
    del d["outputs"]["output_enable"]["active_level"]
    _rejects(d, "outputs.output_enable.active_level", "missing")
    d = _stim4()
    del d["limits"]["guard_us"]
    _rejects(d, "limits.guard_us", "missing")
    d = _stim4()
    del d["i2c"]["i2c0"]["freq"]
    _rejects(d, "i2c.i2c0.freq", "missing")
    d = _stim4()
    del d["display"]["height"]
    _rejects(d, "display.height", "missing")


def test_unknown_keys_at_every_level() -> None:
    cases: Tuple[Tuple[Any, ...], ...] = (
        (("colour",), "colour"),
        (("channels", 1, "pulse_c"), "channels[1].pulse_c"),
        (("amplitude", "bus"), "amplitude.bus"),  # a pwm_dac has no bus
        (("i2c", "i2c0", "speed"), "i2c.i2c0.speed"),
        (("inputs", "door"), "inputs.door"),
        (("inputs", "key", "debounce"), "inputs.key.debounce"),
        (("inputs", "buttons", "reset"), "inputs.buttons.reset"),
        (("outputs", "relay"), "outputs.relay"),
        (("outputs", "status_led", "pwm_hz"), "outputs.status_led.pwm_hz"),  # only the buzzer may be PWM
        (("outputs", "charge_pump", "pwm_hz"), "outputs.charge_pump.pwm_hz"),
        (("display", "rotate"), "display.rotate"),
        (("limits", "rms_ma"), "limits.rms_ma"),
    )
    for where, path in cases:
        d = _stim4()
        _set(d, where, 1)
        _rejects(d, path, "unknown key")


def test_wrong_types() -> None:
    cases: Tuple[Tuple[Any, ...], ...] = (
        (("channels", 0, "pulse_a"), "2", "channels[0].pulse_a"),
        (("channels", 0, "pulse_a"), True, "channels[0].pulse_a"),
        (("channels", 0, "pulse_a"), 2.0, "channels[0].pulse_a"),
        (("channels", 1, "max_ma"), "100", "channels[1].max_ma"),
        (("channels", 1, "max_ma"), False, "channels[1].max_ma"),
        (("channels", 2, "name"), 3, "channels[2].name"),
        (("channels", 2, "name"), "", "channels[2].name"),
        (("channels",), {}, "channels"),
        (("channels", 3), [8, 9], "channels[3]"),
        (("name",), None, "name"),
        (("hardware_safety",), "", "hardware_safety"),
        (("amplitude",), [], "amplitude"),
        (("amplitude", "driver"), "ad5693", "amplitude.driver"),
        (("amplitude", "pins"), "10,11,12,13", "amplitude.pins"),
        (("amplitude", "code_max"), 4095.0, "amplitude.code_max"),
        (("inputs", "key", "pull"), "none", "inputs.key.pull"),
        (("inputs", "key", "active_level"), 2, "inputs.key.active_level"),
        (("inputs", "buttons"), [], "inputs.buttons"),
        (("outputs", "buzzer", "pwm_hz"), "2700", "outputs.buzzer.pwm_hz"),
        (("i2c",), [], "i2c"),
        (("i2c", "i2c0", "freq"), 400000.5, "i2c.i2c0.freq"),
        (("limits", "guard_us"), 20.5, "limits.guard_us"),
        (("limits", "ramp_ma_per_s"), 0, "limits.ramp_ma_per_s"),
        (("limits", "max_session_s"), 0, "limits.max_session_s"),
        (("cpu_hz",), 1000, "cpu_hz"),
    )
    for where, value, path in cases:
        d = _stim4()
        _set(d, where, value)
        _rejects(d, path)


def test_schema_version() -> None:
    d = _stim4()
    d["schema"] = 2
    _rejects(d, "schema")


def test_channel_count_and_names() -> None:
    d = _stim4()
    d["channels"] = []
    _rejects(d, "channels", "1 to 8")
    d = _stim4()
    d["channels"][2]["name"] = "CH1"
    _rejects(d, "channels[2].name", "channels[0]")
    d = _stim4()
    d["channels"][2]["name"] = "a channel name that is too long"
    _rejects(d, "channels[2].name")


# ---------------------------------------------------------------- pins


def test_pin_out_of_range() -> None:
    d = _stim4()
    d["inputs"]["buttons"]["plus"]["pin"] = 30
    _rejects(d, "inputs.buttons.plus.pin", "GPIO 30")
    d = _stim4()
    d["channels"][0]["pulse_a"] = -2
    _rejects(d, "channels[0].pulse_a")
    d = _stim4()
    d["amplitude"]["pins"][1] = 40
    _rejects(d, "amplitude.pins[1]", "GPIO 40")


def test_pin_used_twice() -> None:
    cases: Tuple[Tuple[Any, ...], ...] = (
        (("inputs", "buttons", "plus", "pin"), 2, "inputs.buttons.plus.pin", "channels[0].pulse_a"),
        (("inputs", "estop", "pin"), 18, "inputs.estop.pin", "inputs.key.pin"),
        (("outputs", "status_led", "pin"), 12, "outputs.status_led.pin", "amplitude.pins[2]"),
        (("outputs", "charge_pump", "pin"), 17, "outputs.charge_pump.pin", "i2c.i2c0.scl"),
        (("channels", 3, "sense_adc"), 26, "channels[3].sense_adc", "channels[0].sense_adc"),
        (("i2c", "i2c0", "sda"), 28, "i2c.i2c0.sda", "channels[2].sense_adc"),
        (("inputs", "key", "pin"), 29, "outputs.charge_pump.pin", "inputs.key.pin"),
    )
    for where, value, path, other in cases:
        d = _stim4()
        _set(d, where, value)
        _rejects(d, path, "already used by " + other)


# ---------------------------------------------------------------- PWM slices


def test_two_channels_on_one_slice() -> None:
    # GPIO 18/19 are slice 1, like channel 0's GPIO 2/3 (n and n+16 share a slice).
    d = _stim4()
    d["channels"][1]["pulse_a"] = 18
    d["channels"][1]["pulse_b"] = 19
    _rejects(d, "channels[1].pulse_a", "slice 1", "channels[0]")


def test_pulse_a_must_be_channel_a() -> None:
    d = _stim4()
    d["channels"][0]["pulse_a"] = 3
    d["channels"][0]["pulse_b"] = 2
    _rejects(d, "channels[0].pulse_a", "channel B", "even")


def test_pulse_b_must_be_channel_b() -> None:
    d = _stim4()
    d["channels"][3]["pulse_b"] = 0
    _rejects(d, "channels[3].pulse_b", "channel A", "odd")


def test_pulse_pair_must_share_a_slice() -> None:
    d = _stim4()
    d["channels"][3]["pulse_b"] = 1
    _rejects(d, "channels[3].pulse_b", "slice 0", "slice 4")


def test_pulse_b_may_be_n_plus_16() -> None:
    d = _stim4()
    d["inputs"]["estop"]["pin"] = 1
    d["channels"][0]["pulse_b"] = 19  # GPIO 2 is slice 1 A, GPIO 19 is slice 1 B
    b = _valid(d)
    assert b.channels[0].slice == 1
    assert b.stim_pins()[:2] == (2, 19)


def test_dac_pin_on_a_stim_slice() -> None:
    d = _stim4()
    d["amplitude"]["pins"][0] = 0
    d["channels"][0]["pulse_a"] = 16  # GPIO 0 and 16/17 are all slice 0
    d["channels"][0]["pulse_b"] = 17
    d["i2c"]["i2c0"]["sda"] = 20
    d["i2c"]["i2c0"]["scl"] = 21
    d["inputs"]["buttons"]["start_pause"]["pin"] = 10
    d["inputs"]["buttons"]["plus"]["pin"] = 1
    _rejects(d, "amplitude.pins[0]", "slice 0", "channels[0]")


def test_buzzer_on_a_stim_slice() -> None:
    d = _stim4()
    d["inputs"]["buttons"]["minus"]["pin"] = 0
    d["outputs"]["buzzer"]["pin"] = 22  # slice 3, channel 2 (GPIO 6/7)
    d["outputs"]["status_led"]["pin"] = 14
    _rejects(d, "outputs.buzzer.pin", "slice 3", "channels[2]")


def test_buzzer_on_a_dac_slice_at_another_frequency() -> None:
    d = _stim4()
    del d["channels"][1]["sense_adc"]
    del d["channels"][1]["sense_ma_per_volt"]
    d["outputs"]["buzzer"]["pin"] = 27  # slice 5, the DAC slice of GPIO 10/11
    _rejects(d, "outputs.buzzer.pin", "slice 5", "30000 Hz")


def test_plain_buzzer_may_sit_on_any_slice() -> None:
    d = _stim4()
    d["inputs"]["buttons"]["minus"]["pin"] = 0
    d["outputs"]["buzzer"]["pin"] = 22  # GPIO function, not PWM: slice 3 is not touched
    del d["outputs"]["buzzer"]["pwm_hz"]
    b = _valid(d)
    assert b.outputs.buzzer.pwm_hz is None
    assert b.pwm_slices_used() == (1, 2, 3, 4, 5, 6)


def test_two_dac_pins_on_one_pwm_output() -> None:
    d = _stim4()
    del d["channels"][0]["sense_adc"]
    del d["channels"][0]["sense_ma_per_volt"]
    d["amplitude"]["pins"][3] = 26  # slice 5 channel A, like GPIO 10
    _rejects(d, "amplitude.pins[3]", "same PWM output", "amplitude.pins[0]")


# ---------------------------------------------------------------- ADC and sense


def test_sense_on_a_non_adc_pin() -> None:
    d = _stim4()
    d["channels"][3]["sense_adc"] = 0
    d["channels"][3]["sense_ma_per_volt"] = 50
    _rejects(d, "channels[3].sense_adc", "no ADC", "26")


def test_sense_scale_goes_with_sense_pin() -> None:
    d = _stim4()
    del d["channels"][0]["sense_ma_per_volt"]
    _rejects(d, "channels[0].sense_ma_per_volt", "missing")
    d = _stim4()
    d["channels"][3]["sense_ma_per_volt"] = 50
    _rejects(d, "channels[3].sense_ma_per_volt", "without sense_adc")
    d = _stim4()
    d["channels"][3]["sense_adc"] = None  # null means no sense, as absent
    assert _valid(d).channels[3].sense_adc is None


def test_sense_scale_is_bounded_so_a_reading_stays_a_small_int() -> None:
    d = _stim4()
    d["channels"][0]["sense_ma_per_volt"] = SENSE_MA_PER_V_MAX
    mpv = _valid(d).channels[0].sense_ma_per_volt
    assert mpv is not None
    # What stim.hal.rp2040 computes: a full-scale reading times nA per count, below 2**30.
    assert 65535 * int(mpv * 3_300_000 // 65535) < 1 << 30
    d["channels"][0]["sense_ma_per_volt"] = SENSE_MA_PER_V_MAX + 1
    _rejects(d, "channels[0].sense_ma_per_volt", "at most 300", "301")


def test_sense_range_must_cover_max() -> None:
    d = _stim4()
    d["channels"][1]["sense_ma_per_volt"] = 20  # 66 mA at 3.3 V < 100 mA
    _rejects(d, "channels[1].sense_ma_per_volt", "unseen")


# ---------------------------------------------------------------- fail-safe inputs


def test_input_without_failsafe_level() -> None:
    for name in ("key", "estop"):
        d = _stim4()
        del d["inputs"][name]["failsafe_level"]
        _rejects(d, "inputs." + name + ".failsafe_level", "missing", "broken wire")
    d = _stim4()
    del d["inputs"]["buttons"]["channel"]["failsafe_level"]
    _rejects(d, "inputs.buttons.channel.failsafe_level", "missing")


def test_failsafe_level_must_be_what_the_pull_gives() -> None:
    d = _stim4()
    d["inputs"]["key"]["pull"] = "down"
    _rejects(d, "inputs.key.failsafe_level", "pull down", "read 0")
    d = _stim4()
    d["inputs"]["buttons"]["plus"]["failsafe_level"] = 0
    _rejects(d, "inputs.buttons.plus.failsafe_level", "pull up", "read 1")


def test_key_broken_wire_must_read_key_absent() -> None:
    d = _stim4()
    d["inputs"]["key"]["active_level"] = 1
    _rejects(d, "inputs.key.failsafe_level", "key present")


def test_estop_broken_wire_must_read_pressed() -> None:
    d = _stim4()
    d["inputs"]["estop"]["active_level"] = 1
    _rejects(d, "inputs.estop.failsafe_level", "e-stop released")


def test_button_broken_wire_must_not_read_pressed() -> None:
    d = _stim4()
    d["inputs"]["buttons"]["plus"]["active_level"] = 1
    _rejects(d, "inputs.buttons.plus.failsafe_level", "held down")


def test_pull_down_active_high_inputs_are_valid() -> None:
    d = _stim4()
    for i in [d["inputs"]["key"], d["inputs"]["estop"]] + [d["inputs"]["buttons"][n] for n in BUTTONS]:
        i["pull"] = "down"
        i["active_level"] = 1
        i["failsafe_level"] = 0
    b = _valid(d)
    assert b.inputs.estop.is_active(1)


# ---------------------------------------------------------------- amplitude and limits


def test_board_max_above_full_scale() -> None:
    d = _stim4()
    d["limits"]["board_max_ma"] = 150  # full scale is 4095 x 0.03 = 122.85 mA
    _rejects(d, "limits.board_max_ma", "122.85")


def test_channel_max_above_full_scale() -> None:
    d = _stim4()
    d["amplitude"]["ma_per_code"] = 0.02  # 81.9 mA full scale
    d["limits"]["board_max_ma"] = 80
    for c in d["channels"]:
        c["max_ma"] = 80
    d["channels"][2]["max_ma"] = 90
    _rejects(d, "channels[2].max_ma", "81.9")


def test_channel_max_above_board_max() -> None:
    d = _stim4()
    d["channels"][1]["max_ma"] = 110
    _rejects(d, "channels[1].max_ma", "board_max_ma")


def test_pwm_dac_resolution() -> None:
    d = _stim4()
    d["amplitude"]["pwm_hz"] = 100000  # 1250 counts < 4096
    _rejects(d, "amplitude.code_max", "1250")


def test_pwm_dac_amp_mapping() -> None:
    d = _stim4()
    d["channels"][3]["amp"] = 4
    _rejects(d, "channels[3].amp", "amplitude.pins")
    d = _stim4()
    d["channels"][3]["amp"] = 0
    _rejects(d, "channels[3].amp", "channels[0]")
    d = _stim4()
    d["amplitude"]["pins"].append(0)
    _rejects(d, "amplitude.pins[4]", "not the amp")


def _mcp4728(d: "Dict[str, Any]") -> "Dict[str, Any]":
    d["amplitude"] = {
        "driver": "mcp4728",
        "bus": "i2c0",
        "address": 0x60,
        "code_max": 4095,
        "ma_per_code": 0.03,
    }
    return d


def test_mcp4728_board() -> None:
    b = _valid(_mcp4728(_stim4()))
    assert b.amplitude.driver == "mcp4728" and b.amplitude.pins == ()
    assert b.amplitude.bus == "i2c0" and b.amplitude.address == 0x60
    assert [c.amp for c in b.channels] == [0, 1, 2, 3]
    assert b.channels[0].amp_pin is None
    assert b.pwm_slices_used() == (1, 2, 3, 4, 7)
    d = _mcp4728(_stim4())
    d["channels"][0]["amp"] = 4
    _rejects(d, "channels[0].amp", "MCP4728")
    d = _mcp4728(_stim4())
    d["amplitude"]["address"] = 0x3C
    _rejects(d, "amplitude.address")
    d = _mcp4728(_stim4())
    d["amplitude"]["code_max"] = 65535
    _rejects(d, "amplitude.code_max")
    d = _mcp4728(_stim4())
    d["amplitude"]["pins"] = [10]
    _rejects(d, "amplitude.pins", "unknown key")


def test_unknown_bus() -> None:
    d = _mcp4728(_stim4())
    d["amplitude"]["bus"] = "i2c1"
    _rejects(d, "amplitude.bus", "i2c0")
    d = _stim4()
    d["display"]["bus"] = "i2c1"
    _rejects(d, "display.bus", "i2c0")
    d = _stim4()
    del d["i2c"]
    _rejects(d, "display.bus", "none")


# ---------------------------------------------------------------- I2C and display


def test_i2c_pins_must_match_the_block() -> None:
    d = _stim4()
    d["i2c"]["i2c0"]["sda"] = 17
    d["i2c"]["i2c0"]["scl"] = 16
    _rejects(d, "i2c.i2c0.sda", "I2C0 SDA")
    d = _stim4()
    d["i2c"]["i2c0"]["id"] = 1
    _rejects(d, "i2c.i2c0.sda", "I2C1 SDA")
    d = _stim4()
    d["i2c"]["i2c0"]["scl"] = 1
    d["i2c"]["i2c0"]["sda"] = 0
    assert _valid(d).i2c["i2c0"].sda == 0
    d = _stim4()
    d["i2c"]["i2c0"]["scl"] = 0
    _rejects(d, "i2c.i2c0.scl", "I2C0 SCL")


def test_i2c_block_used_once() -> None:
    d = _stim4()
    d["i2c"]["z"] = {"id": 0, "sda": 0, "scl": 1, "freq": 100000}
    _rejects(d, "i2c.z.id", "i2c.i2c0")


def test_display_geometry_and_address() -> None:
    d = _stim4()
    d["display"]["width"] = 96
    _rejects(d, "display.width")
    d = _stim4()
    d["display"]["height"] = 48
    _rejects(d, "display.height")
    d = _stim4()
    d["display"]["address"] = 0x60
    _rejects(d, "display.address")
    d = _stim4()
    d["display"]["driver"] = "sh1106"
    _rejects(d, "display.driver")
    d = _stim4()
    d["display"]["height"] = 32
    assert _valid(d).display is not None
    d = _stim4()
    del d["display"]
    assert _valid(d).display is None


def test_charge_pump_is_optional() -> None:
    d = _stim4()
    del d["outputs"]["charge_pump"]
    b = _valid(d)
    assert b.outputs.charge_pump is None
    assert b.output_pins() == (15, 25, 14)


def test_status_led_patterns_are_optional_and_checked() -> None:
    assert _valid(_stim4()).outputs.status_led.patterns is None
    d = _stim4()
    d["outputs"]["status_led"]["patterns"] = {"running": [200, 800], "ready": "on", "safe": "off"}
    p = _valid(d).outputs.status_led.patterns
    assert p == {"running": (200, 800), "ready": (1000, 0), "safe": (0, 1000)}
    cases: Tuple[Tuple[Any, str, str], ...] = (
        ({"idle": "on"}, "outputs.status_led.patterns.idle", "unknown key"),
        ({"fault": [100]}, "outputs.status_led.patterns.fault", "even number"),
        ({"fault": [100, 100, 100]}, "outputs.status_led.patterns.fault", "even number"),
        ({"fault": [100] * 10}, "outputs.status_led.patterns.fault", "even number"),
        ({"paused": [100, 5]}, "outputs.status_led.patterns.paused[1]", "out of range 10..10000"),
        ({"paused": [100, 1.5]}, "outputs.status_led.patterns.paused[1]", "integer"),
        ({"paused": "blink"}, "outputs.status_led.patterns.paused", "on/off durations"),
        ([100, 100], "outputs.status_led.patterns", "object"),
    )
    for value, path, word in cases:
        d = _stim4()
        d["outputs"]["status_led"]["patterns"] = value
        _rejects(d, path, word)
    d = _stim4()
    d["outputs"]["buzzer"]["patterns"] = {"ready": "on"}  # the LED's key only
    _rejects(d, "outputs.buzzer.patterns", "unknown key")


# -- dead time (issue 15) ----------------------------------------------------------------------
def test_dead_time_defaults_to_2_us_made_by_the_firmware() -> None:
    b = validate(_stim4())  # stim4.json says nothing about it
    assert (b.limits.dead_time_us, b.limits.bridge_dead_time) == (2, "firmware")
    d = _stim4()
    d["limits"]["dead_time_us"] = None  # null means "not given"
    d["limits"]["bridge_dead_time"] = None
    b = validate(d)
    assert (b.limits.dead_time_us, b.limits.bridge_dead_time) == (2, "firmware")
    d = _stim4()
    d["limits"]["dead_time_us"] = 5
    assert validate(d).limits.dead_time_us == 5
    d["limits"]["dead_time_us"] = 1000
    assert validate(d).limits.dead_time_us == 1000


def test_dead_time_zero_only_when_the_gate_drivers_insert_it() -> None:
    d = _stim4()
    d["limits"]["dead_time_us"] = 0
    msg = _rejects(d, "limits.dead_time_us", "bridge_dead_time", "driver")
    assert "shoots through" in msg, msg
    d["limits"]["bridge_dead_time"] = "firmware"  # said explicitly: still refused
    _rejects(d, "limits.dead_time_us", "driver")
    d["limits"]["bridge_dead_time"] = "driver"
    b = validate(d)
    assert (b.limits.dead_time_us, b.limits.bridge_dead_time) == (0, "driver")
    d = _stim4()
    d["limits"]["bridge_dead_time"] = "driver"  # the drivers insert some; the firmware still adds 2 us
    assert validate(d).limits.dead_time_us == 2


def test_dead_time_types_and_ranges_name_the_key() -> None:
    for value in (2.0, "2", True, -1, 1001):
        d = _stim4()
        d["limits"]["dead_time_us"] = value
        _rejects(d, "limits.dead_time_us")
    for value in ("gate", "", 1, "Driver"):
        d = _stim4()
        d["limits"]["bridge_dead_time"] = value
        _rejects(d, "limits.bridge_dead_time")
    d = _stim4()
    d["limits"]["dead_time"] = 2  # a typo is an unknown key
    _rejects(d, "limits.dead_time", "unknown", "dead_time_us")
