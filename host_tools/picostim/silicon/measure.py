"""Figures read from an emulated chip's pad trace: levels at a time, and how long a kill took.

Pure functions over the trace that picostim.silicon.chip.Silicon records: a list of
(ns, gpio, level) in time order, level 1, 0 or None (floating). A floating stim pin counts
as low: the board's gate-driver inputs have pull-downs (boards/*.json "hardware_safety").
"""

import bisect
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from stim.board import Board

Pin = tuple[int, int, Optional[int]]


class PinTrace:
    """Per-pin change lists of a trace, for level-at-time queries."""

    def __init__(self, pins: Sequence[Pin], initial: Sequence[Optional[int]]) -> None:
        self.times: dict[int, list[int]] = {}
        self.values: dict[int, list[Optional[int]]] = {}
        self.initial = list(initial)
        for ns, g, lv in pins:
            self.times.setdefault(g, []).append(ns)
            self.values.setdefault(g, []).append(lv)

    def level(self, gpio: int, ns: int) -> Optional[int]:
        """The pad's level just after ns (changes at ns included)."""
        ts = self.times.get(gpio, [])
        i = bisect.bisect_right(ts, ns)
        return self.values[gpio][i - 1] if i else self.initial[gpio]

    def changes(self, gpio: int, t0: int, t1: int) -> int:
        """How many times the pad changed in [t0, t1)."""
        ts = self.times.get(gpio, [])
        return bisect.bisect_left(ts, t1) - bisect.bisect_left(ts, t0)

    def settled(self, gpio: int, want: int, t0: int, t1: int) -> Optional[int]:
        """The first time in [t0, t1] from which the pad stays at `want` (None = low) through t1;
        None if it is not at `want` at t1."""
        def ok(v: Optional[int]) -> bool:
            return (v or 0) == want
        ts = self.times.get(gpio, [])
        lo = bisect.bisect_right(ts, t0)
        hi = bisect.bisect_right(ts, t1)
        since: Optional[int] = t0 if ok(self.level(gpio, t0)) else None
        for i in range(lo, hi):
            if not ok(self.values[gpio][i]):
                since = None
            elif since is None:
                since = ts[i]
        return since


def stim_pins(board: "Board") -> list[int]:
    pins = [p for ch in board.channels for p in (ch.pulse_a, ch.pulse_b)]
    if board.amplitude.driver == "pwm_dac":
        pins += [ch.amp_pin if ch.amp_pin is not None else board.amplitude.pins[ch.amp] for ch in board.channels]
    return pins


def kill_latency_ns(trace: PinTrace, board: "Board", edge_ns: int, window_ns: int = 20_000_000) -> Optional[int]:
    """From a stopping edge until output-enable is inactive and every stim and DAC pin is low for
    good (through the window); None if that never happens within the window."""
    oe = board.outputs.output_enable
    want = [(oe.pin, 1 - oe.active_level)] + [(p, 0) for p in stim_pins(board)]
    latest = edge_ns
    for gpio, level in want:
        t = trace.settled(gpio, level, edge_ns, edge_ns + window_ns)
        if t is None:
            return None
        latest = max(latest, t)
    return latest - edge_ns


def outputs_active(trace: PinTrace, board: "Board", t0: int, t1: int) -> bool:
    """Output-enable active at t1 and some stim pin changing in [t0, t1]: stimulation is on."""
    oe = board.outputs.output_enable
    if (trace.level(oe.pin, t1) or 0) != oe.active_level:
        return False
    return any(bisect.bisect_left(trace.times.get(p, []), t0) < bisect.bisect_right(trace.times.get(p, []), t1)
               for ch in board.channels for p in (ch.pulse_a, ch.pulse_b))


def status_lines(lines: Iterable[tuple[int, str]]) -> list[tuple[int, dict[str, object]]]:
    """The firmware's JSON status lines ({"status": ...}) among what it printed, with their times."""
    out = []
    for ns, text in lines:
        if text.startswith('{"status"'):
            try:
                out.append((ns, json.loads(text)))
            except ValueError:
                continue
    return out
