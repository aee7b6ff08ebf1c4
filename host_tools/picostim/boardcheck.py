"""`picostim board check FILE...`: validate board files with the firmware's own rules.

The rules live in firmware/stim/board.py, the very code the board runs at boot,
so the host check and the device can never disagree. On top of them the host
rejects duplicate keys in a JSON object (json.loads silently keeps the last
one, on the board too, so the file would not say what it seems to say).

Prints one line per file:

    OK boards/stim4.json: PicoStim stim4, 4 channels, pwm_dac 0..122.85 mA, ...
    FAIL boards/bad.json: channels[2].pulse_b: GPIO 7 is on PWM slice 3, ...

and returns 0 if every file is valid, 1 if any is not, 2 if no file was given.
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stim.board import Board, Limits

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"


def _use_firmware() -> None:
    """Make firmware/ importable (as `stim`), as it is on the board."""
    p = str(FIRMWARE_DIR)
    if FIRMWARE_DIR.is_dir() and p not in sys.path:
        sys.path.insert(0, p)


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for k, _ in pairs:
        if k in seen:
            raise _DuplicateKey(k)
        seen.add(k)
    return dict(pairs)


def duplicate_key(text: str) -> str | None:
    """The first key that appears twice in one JSON object, or None (also None for invalid JSON)."""
    try:
        json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as e:
        return str(e.args[0])
    except ValueError:
        return None  # parse() reports it with the firmware's message
    return None


def dead_time(lim: "Limits") -> str:
    """The dead time and who makes it: the gate drivers, the pulse engine (every pair's gap is at least
    this long, docs/programs.md), or both."""
    if lim.bridge_dead_time == "driver":
        if not lim.dead_time_us:
            return "dead time 0 us (gate drivers)"
        return f"dead time {lim.dead_time_us} us (gate drivers, plus at least this much between the phases)"
    return f"dead time {lim.dead_time_us} us (at least this much between the phases)"


def summary(b: "Board") -> str:
    """One line: name, channel count, amplitude range and the limits."""
    amp = b.amplitude
    n = len(b.channels)
    parts = [
        b.name,
        f"{n} channel{'' if n == 1 else 's'}",
        f"{amp.driver} 0..{amp.full_scale_ma:g} mA",
        f"board max {b.limits.board_max_ma:g} mA",
        f"ramp {b.limits.ramp_ma_per_s:g} mA/s",
        f"guard {b.limits.guard_us} us",
        dead_time(b.limits),
        f"session {b.limits.max_session_s} s",
        f"{sum(1 for c in b.channels if c.sense_adc is not None)} sensed",
    ]
    if b.outputs.charge_pump is not None:
        parts.append("charge pump")
    if b.display is not None:
        parts.append(f"display {b.display.driver} {b.display.width}x{b.display.height}")
    if b.rtc is not None:
        parts.append(f"rtc {b.rtc.driver} on {b.rtc.bus}")
    return ", ".join(parts)


def check_file(path: str) -> str:
    """The OK/FAIL line for one file."""
    _use_firmware()
    from stim.board import BoardError, parse

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        return f"FAIL {path}: (file): cannot read: {e.strerror or e}"
    except UnicodeDecodeError as e:
        return f"FAIL {path}: (file): not UTF-8 text: {e}"
    try:
        board = parse(text)
    except BoardError as e:
        return f"FAIL {path}: {e}"
    dup = duplicate_key(text)
    if dup is not None:
        return (
            f"FAIL {path}: (json): key {json.dumps(dup)} appears twice in one object;"
            " only the last one would count"
        )
    return f"OK {path}: {summary(board)}"


def run(paths: list[str], out: Callable[[str], object] = print) -> int:
    """Check each file, print one line per file; 0 if all are valid, 1 if any is not, 2 if none given."""
    if not paths:
        out("FAIL: no board file given")
        return 2
    failed = 0
    for path in paths:
        line = check_file(path)
        if not line.startswith("OK "):
            failed += 1
        out(line)
    return 1 if failed else 0
