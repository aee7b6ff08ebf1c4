"""Status LED and buzzer patterns: pure functions of state, events and time.

The trainer should never have to guess what the device does, so every state
has its own LED rhythm and every event its own sound:

| state   | LED                         |
|---------|-----------------------------|
| SAFE    | off                         |
| READY   | on                          |
| RUNNING | 1 Hz blink, 50 %            |
| PAUSED  | short flash every 2 s       |
| FAULT   | fast 5 Hz blink             |

A board file may declare its own rhythm per state (`outputs.status_led.patterns`,
docs/board-file.md); `StatusLed` plays the board's patterns and these defaults
for the states the board leaves out.

Buzzer patterns are (on, off, on, off, ...) durations in ms, preallocated.
"""

from micropython import const

from stim import supervisor as sv
from stim import ticks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

_HALF_TICK_MS = const(5)  # half of stim.controller.TICK_MS (Buzzer.on)

# Buzzer patterns: alternating on/off milliseconds, starting with on.
BEEP_KEY = (60,)
BEEP_LIMIT = (60, 80, 60)
BEEP_REFUSED = (250,)
BEEP_SESSION_END = (400, 150, 400)
BEEP_FAULT = (150, 100, 150, 100, 150, 100, 600)

_FAULT_HALF_MS = const(100)
_RUN_HALF_MS = const(500)
_PAUSE_PERIOD_MS = const(2000)
_PAUSE_ON_MS = const(150)


# Status LED rhythm per state (index: supervisor state), (on ms, off ms, ...) from the start of each period.
LED_DEFAULTS = (
    (0, 1000),  # SAFE: off
    (1000, 0),  # READY: on
    (_RUN_HALF_MS, _RUN_HALF_MS),  # RUNNING: 1 Hz, 50 %
    (_PAUSE_ON_MS, _PAUSE_PERIOD_MS - _PAUSE_ON_MS),  # PAUSED: short flash every 2 s
    (_FAULT_HALF_MS, _FAULT_HALF_MS),  # FAULT: 5 Hz
)


class StatusLed:
    """The status LED's rhythm: the board file's patterns where it declares them, else LED_DEFAULTS."""

    def __init__(self, patterns: "Optional[Dict[str, Tuple[int, ...]]]" = None) -> None:
        pats: "List[Tuple[int, ...]]" = list(LED_DEFAULTS)
        if patterns:
            for i in range(len(sv.STATE_NAMES)):
                p = patterns.get(sv.STATE_NAMES[i].lower())
                if p is not None:
                    pats[i] = p
        self.patterns = tuple(pats)
        self.next_ms = 0  # at()'s next edge
        self._periods = tuple(sum(p) for p in pats)
        for per in self._periods:
            if per <= 0:
                raise ValueError("status LED pattern: the period must be > 0 ms")

    def on(self, state: int, now_ms: int) -> bool:
        """LED lit in this state at now_ms. Allocation-free."""
        p = self.patterns[state]
        t = now_ms % self._periods[state]
        for i in range(len(p)):
            if t < p[i]:
                return i & 1 == 0
            t -= p[i]
        return False

    def at(self, state: int, now_ms: int) -> bool:
        """on(state, now_ms), and in `next_ms` the time of the rhythm's next edge: until then it stays
        the same in this state, so the tick need not ask again (the controller compares the time in
        C and skips two calls and this loop in most ticks). Allocation-free."""
        p = self.patterns[state]
        t = now_ms % self._periods[state]
        i = 0
        while t >= p[i]:  # ends inside p: t is below the period, which is p's sum
            t -= p[i]
            i += 1
        self.next_ms = ticks.add(now_ms, p[i] - t)
        return i & 1 == 0


_DEFAULT_LED = StatusLed()


def led_on(state: int, now_ms: int) -> bool:
    """The default rhythm (LED_DEFAULTS), as StatusLed() without board patterns plays it."""
    return _DEFAULT_LED.on(state, now_ms)


class Buzzer:
    """Plays one pattern at a time; a new event replaces the one playing. Allocation-free."""

    def __init__(self) -> None:
        self.pattern: "tuple[int, ...]" = ()
        self._start = 0
        self.played = 0  # patterns started, for tests and the bench

    def play(self, pattern: "tuple[int, ...]", now_ms: int) -> None:
        self.pattern = pattern
        self._start = now_ms
        self.played += 1

    def on(self, now_ms: int) -> bool:
        p = self.pattern
        if not p:
            return False
        t = ticks.diff(now_ms, self._start)
        if t < 0:
            return False
        # Each part of the pattern ends at the tick nearest its end: a tick's ms reading drifts by up
        # to a ms against the 10 ms grid (sleep_ms keeps the phase it was called at), which made a
        # 250 ms beep last 250 or 260 ms by that phase alone.
        t += _HALF_TICK_MS
        for i in range(len(p)):
            if t < p[i]:
                return i & 1 == 0
            t -= p[i]
        self.pattern = ()
        return False
