"""Scenario files for `picostim sim --script`: what the world does to the board, and when.

One action per line; `#` starts a comment; blank lines are ignored. Times are
seconds of simulated time from power-on (decimals allowed), and the actions of
a file must be in time order (equal times run in file order):

    <seconds> key on|off              turn the supervisor key (in / out)
    <seconds> estop press|release     work the e-stop
    <seconds> press <button>          press a button for PRESS_S (0.1 s) and let go
    <seconds> hold <button> <seconds> hold a button down that long, then let go
    <seconds> sense <channel> <mA>    put the voltage for that current on the channel's sense ADC pin
    <seconds> hang                    stall the firmware's main loop (its next sleep never returns)
    <seconds> console <json>          send one line to the firmware's serial console
    <seconds> power cut               cut the power and restore it (power-on reset)
    <seconds> host stop|read          the USB host stops reading the board's serial output, or reads again
    <seconds> advance <span>          time travel: the board is off for <span> (e.g. 3d, 12h, 30m, 90s) and
                                      powers on again; a DS3231 (board file `rtc`) keeps running on its
                                      battery meanwhile, so the wall clock has moved on (model only)
    <seconds> profile <ID>|none       the trainer selects a client profile (docs/clients.md): holds
                                      program PROFILE_HOLD_S, presses + until the OLED shows the id
                                      (or "no profile"), then presses start_pause to pick it; each
                                      step waits for the screen. Needs a board with a display (model only)

Buttons are the board file's (start_pause, plus, minus, channel, program).
A channel is its number (1 = the first channel) or its name in the board file
(CH1). `sense` needs a channel with `sense_adc` and `sense_ma_per_volt`.

Before a power-on the world is: key out, e-stop released, every button up,
every sense line at 0 V.

parse() checks every line first, against the board when one is given, and
raises ScenarioError listing every bad line with its number, so nothing runs
from a file with a mistake in it.
"""

import json
import math
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from stim.board import Board

PRESS_S = 0.1  # how long `press` holds a button: well past the panel's 30 ms debounce
NS_PER_S = 1_000_000_000

KINDS = ("key", "estop", "press", "hold", "sense", "hang", "console", "power", "host", "advance", "profile")
PROFILE_HOLD_S = 1.2  # past the panel's 1 s hold (stim.panel.PROFILE_HOLD_MS)
PROFILE_LOOK_S = 1.0  # a change is on the OLED within ~0.9 s (200 ms compose + 64 ticks of 16 bytes)
PROFILE_STEPS_MAX = 70  # more than the board's profiles (64) plus "no profile" and "new profile"
SPAN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SPAN_MAX_S = 366 * 86400

Arg = bool | str | int | float


class ScenarioError(ValueError):
    """One or more bad lines. str(e) has one "FILE:LINE: reason" line per bad line; e.problems as tuples."""

    def __init__(self, source: str, problems: "list[tuple[int, str]]") -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join("%s:%d: %s" % (source, n, why) for n, why in problems))


class Action:
    """One scenario action: at t_ns do `kind` with `args`; `line` and `text` say where it came from."""

    __slots__ = ("args", "kind", "line", "t_ns", "text")

    def __init__(self, t_ns: int, kind: str, args: "tuple[Arg, ...]", line: int, text: str) -> None:
        self.t_ns = t_ns
        self.kind = kind
        self.args = args
        self.line = line
        self.text = text

    def __repr__(self) -> str:
        return "Action(%d ns, %s, %r, line %d)" % (self.t_ns, self.kind, self.args, self.line)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Action) and self.t_ns == other.t_ns and self.kind == other.kind
                and self.args == other.args)

    def __hash__(self) -> int:
        return hash((self.t_ns, self.kind, self.args))

    @property
    def t_s(self) -> float:
        return self.t_ns / NS_PER_S


class _Bad(Exception):
    pass


def _seconds(word: str, what: str) -> int:
    try:
        s = float(word)
    except ValueError:
        raise _Bad("%s %r is not a number of seconds" % (what, word)) from None
    if not math.isfinite(s) or s < 0:
        raise _Bad("%s %r must be a finite number of seconds >= 0" % (what, word))
    return round(s * NS_PER_S)


def _strip_comment(text: str) -> str:
    i = text.find("#")
    return text if i < 0 else text[:i]


def _console_arg(rest: str) -> str:
    """The JSON after `console`: one JSON value, then at most a comment (a # inside the JSON is data)."""
    rest = rest.strip()
    if not rest:
        raise _Bad("console needs a JSON line, e.g. console {\"cmd\": \"status\"}")
    try:
        value, end = json.JSONDecoder().raw_decode(rest)
    except ValueError as e:
        raise _Bad("console: not valid JSON: %s" % e) from None
    tail = rest[end:].strip()
    if tail and not tail.startswith("#"):
        raise _Bad("console: unexpected text after the JSON: %r" % tail)
    return json.dumps(value, separators=(", ", ": "))


def _channel(word: str, board: "Optional[Board]") -> int:
    """0-based channel index from a 1-based number or a channel name."""
    if board is None:
        if word.isdigit() and int(word) >= 1:
            return int(word) - 1
        raise _Bad("channel %r: give its number (1, 2, ...) or a name from the board file" % word)
    names = [ch.name for ch in board.channels]
    if word.isdigit():
        n = int(word)
        if 1 <= n <= len(names):
            return n - 1
        raise _Bad("channel %s: the board has channels 1..%d" % (word, len(names)))
    for i, name in enumerate(names):
        if name.lower() == word.lower():
            return i
    raise _Bad("channel %r: the board's channels are %s (or 1..%d)" % (word, ", ".join(names), len(names)))


def _button(word: str, board: "Optional[Board]") -> str:
    from stim.board import BUTTONS

    names = tuple(board.inputs.buttons) if board is not None else BUTTONS
    if word not in names:
        raise _Bad("unknown button %r; buttons are %s" % (word, ", ".join(names)))
    return word


def _parse_line(text: str, board: "Optional[Board]") -> "Optional[tuple[int, str, tuple[Arg, ...]]]":
    head = text.strip()
    if not head or head.startswith("#"):
        return None
    parts = head.split(None, 2)
    if len(parts) < 2:
        raise _Bad("expected '<seconds> <action> ...', got %r" % head)
    t_ns = _seconds(parts[0], "time")
    verb = parts[1].lower()
    if verb == "console":
        return t_ns, "console", (_console_arg(parts[2] if len(parts) > 2 else ""),)
    words = _strip_comment(head).split()[2:]
    if verb == "key":
        if words not in (["on"], ["off"]):
            raise _Bad("key takes 'on' or 'off', got %r" % " ".join(words))
        return t_ns, "key", (words[0] == "on",)
    if verb == "estop":
        if words not in (["press"], ["release"]):
            raise _Bad("estop takes 'press' or 'release', got %r" % " ".join(words))
        return t_ns, "estop", (words[0] == "press",)
    if verb == "press":
        if len(words) != 1:
            raise _Bad("press takes one button name, e.g. 'press start_pause'")
        return t_ns, "press", (_button(words[0], board), round(PRESS_S * NS_PER_S))
    if verb == "hold":
        if len(words) != 2:
            raise _Bad("hold takes a button and a duration, e.g. 'hold channel 2.5'")
        dur = _seconds(words[1], "hold duration")
        if dur <= 0:
            raise _Bad("hold duration must be > 0 s")
        return t_ns, "hold", (_button(words[0], board), dur)
    if verb == "sense":
        if len(words) != 2:
            raise _Bad("sense takes a channel and a current in mA, e.g. 'sense 1 12.5'")
        ch = _channel(words[0], board)
        try:
            ma = float(words[1])
        except ValueError:
            raise _Bad("sense current %r is not a number of mA" % words[1]) from None
        if not math.isfinite(ma) or ma < 0:
            raise _Bad("sense current must be a finite number of mA >= 0")
        if board is not None:
            spec = board.channels[ch]
            if spec.sense_adc is None or spec.sense_ma_per_volt is None:
                raise _Bad("channel %s has no sense line in this board file" % spec.name)
        return t_ns, "sense", (ch, ma)
    if verb == "hang":
        if words:
            raise _Bad("hang takes nothing after it")
        return t_ns, "hang", ()
    if verb == "host":
        if words not in (["stop"], ["read"]):
            raise _Bad("host takes 'stop' (the host stops reading) or 'read', got %r" % " ".join(words))
        return t_ns, "host", (words[0] == "read",)
    if verb == "power":
        if words != ["cut"]:
            raise _Bad("did you mean 'power cut'?")
        return t_ns, "power", ()
    if verb == "advance":
        if len(words) != 1:
            raise _Bad("advance takes one span, e.g. 'advance 3d' (units s, m, h, d)")
        return t_ns, "advance", (_span(words[0]),)
    if verb == "profile":
        if len(words) != 1:
            raise _Bad("profile takes one client id or 'none', e.g. 'profile C017'")
        pid = words[0].upper()
        if pid != "NONE" and not _client_id(pid):
            raise _Bad("profile %r: a client id is 1..8 of A-Z, 0-9 and -, with a digit (or 'none')" % words[0])
        if board is not None and board.display is None:
            raise _Bad("profile: the selection is read from the OLED, and this board file has no display")
        return t_ns, "profile", ("" if pid == "NONE" else pid,)  # "": no profile
    raise _Bad("unknown action %r; actions are key, estop, press, hold, sense, hang, console, power cut, host,"
               " advance, profile" % verb)


def _client_id(word: str) -> bool:
    from stim.clients import valid_id

    return bool(valid_id(word))


def _span(word: str) -> int:
    """Whole seconds of a span like 3d, 12h, 30m, 90s or 90."""
    unit = word[-1:].lower()
    mul = SPAN_UNITS.get(unit)
    num = word[:-1] if mul is not None else word
    try:
        v = float(num)
    except ValueError:
        raise _Bad("advance span %r is not a number with a unit s, m, h or d (e.g. 3d)" % word) from None
    s = v * (mul or 1)
    if not math.isfinite(s) or s < 1 or s > SPAN_MAX_S:
        raise _Bad("advance span must be 1 s .. 366 d, got %r" % word)
    return round(s)


def parse(text: str, board: "Optional[Board]" = None, source: str = "<scenario>") -> "list[Action]":
    """Every action of a scenario, in order. Raises ScenarioError naming every bad line."""
    actions: list[Action] = []
    problems: list[tuple[int, str]] = []
    last_t = 0
    for n, raw in enumerate(text.splitlines(), start=1):
        try:
            got = _parse_line(raw, board)
        except _Bad as e:
            problems.append((n, str(e)))
            continue
        if got is None:
            continue
        t_ns, kind, args = got
        if t_ns < last_t:
            problems.append((n, "time %gs is before the previous action's %gs (keep the file in time order)"
                             % (t_ns / NS_PER_S, last_t / NS_PER_S)))
            continue
        last_t = t_ns
        actions.append(Action(t_ns, kind, args, n, raw.strip()))
    if problems:
        raise ScenarioError(source, problems)
    return actions


def load(path: str, board: "Optional[Board]" = None) -> "list[Action]":
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ScenarioError(path, [(0, "cannot read: %s" % (e.strerror or e))]) from None
    except UnicodeDecodeError as e:
        raise ScenarioError(path, [(0, "not UTF-8 text: %s" % e)]) from None
    return parse(text, board, path)


def sense_volts(board: "Board", ch: int, ma: float) -> float:
    """The sense ADC pin's voltage for ma on channel ch (the board's sense_ma_per_volt)."""
    per_v = board.channels[ch].sense_ma_per_volt
    if per_v is None:
        raise ValueError("channel %s has no sense line" % board.channels[ch].name)
    return ma / per_v
