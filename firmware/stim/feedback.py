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

Buzzer patterns are (on, off, on, off, ...) durations in ms, preallocated.
"""

from micropython import const

from stim import supervisor as sv
from stim import ticks

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


def led_on(state: int, now_ms: int) -> bool:
    if state == sv.READY:
        return True
    if state == sv.RUNNING:
        return (now_ms // _RUN_HALF_MS) & 1 == 0
    if state == sv.PAUSED:
        return now_ms % _PAUSE_PERIOD_MS < _PAUSE_ON_MS
    if state == sv.FAULT:
        return (now_ms // _FAULT_HALF_MS) & 1 == 0
    return False


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
        for i in range(len(p)):
            if t < p[i]:
                return i & 1 == 0
            t -= p[i]
        self.pattern = ()
        return False
