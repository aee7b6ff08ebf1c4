"""The trainer's front panel: raw button levels -> debounced gestures -> intents.

Pure: `step(now_ms, pressed_mask, key)` takes the buttons' active levels as a
bit mask (bit i is BUTTONS[i]) and leaves at most one intent per tick in
`intent` / `channel`. The controller hands it to the supervisor, which decides
whether it is allowed. Nothing allocates in `step`.

Debouncing: a release counts once the level has been stable for DEBOUNCE_MS.
start_pause, channel and program act once a press has been stable for
DEBOUNCE_MS too. plus and minus act on the first sample of a press (the
button having been released, debounced, before), so a + reaches the output
within one tick; the contact bounce after that sample is ignored, because the
button only counts as released again after DEBOUNCE_MS of a steady release.
The hal's sample is itself two reads in a row (Hardware.buttons_mask), so a
spike shorter than one read pass is never a press.

Gestures:
- start_pause: press -> START_PAUSE.
- plus / minus: one step per press; held, they repeat no faster than
  REPEAT_MS (2 steps/s) after HOLD_MS.
- channel: press -> next channel the program uses (set_usable), then "all";
  in supervisor mode every channel, so a limit can be set for any of them.
- program: a short press (on release) -> next program (the controller refuses
  it while running); held PROFILE_HOLD_MS -> PROFILES: profile selection
  (docs/clients.md), in which + and - step through the profiles
  (PROFILE_NEXT, PROFILE_PREV), a short start_pause press picks one
  (PROFILE_PICK, on release), start_pause held CONFIRM_HOLD_MS with the key
  in confirms the shown person's screening (SCREENED), and a short program
  press leaves (PROFILES). start_pause never starts anything while selecting.
- override (key in, not in supervisor mode): start_pause and minus held
  together for CONFIRM_HOLD_MS -> OVERRIDE (two hands: a bump never does it).
- supervisor mode: with the key in, hold channel for SUPERVISOR_HOLD_MS; +/-
  then raise or lower the selected channel's limit; hold channel again to leave.
- A button already down at the first tick is stuck: `stuck` names it and the
  controller latches a fault (program alone held at boot is the maintenance
  escape, decided in main before the panel exists).
"""

from micropython import const

from stim import ticks
from stim.boardspec import BUTTONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional

# Bit i of the pressed mask is BUTTONS[i]; the hal reads them in this order.
B_START = const(0)
B_PLUS = const(1)
B_MINUS = const(2)
B_CHANNEL = const(3)
B_PROGRAM = const(4)
N_BUTTONS = const(5)

# Intents the panel can produce (the supervisor's codes where they overlap).
NONE = const(0)
START_PAUSE = const(1)
PLUS = const(2)
MINUS = const(3)
LIMIT_UP = const(10)
LIMIT_DOWN = const(11)
CHANNEL = const(12)
PROGRAM = const(13)
SUPERVISOR_ON = const(14)
SUPERVISOR_OFF = const(15)
PROFILES = const(16)  # enter or leave profile selection (selecting says which)
PROFILE_NEXT = const(17)
PROFILE_PREV = const(18)
PROFILE_PICK = const(19)
SCREENED = const(20)
OVERRIDE = const(21)
ALL = const(-1)

DEBOUNCE_MS = const(30)
HOLD_MS = const(600)
REPEAT_MS = const(500)  # at most 2 steps per second while held
SUPERVISOR_HOLD_MS = const(2000)
PROFILE_HOLD_MS = const(1000)
CONFIRM_HOLD_MS = const(2000)


class Panel:
    def __init__(self, n_channels: int) -> None:
        self.n = n_channels
        self.channel = ALL  # selected channel, or ALL
        self.usable: "List[bool]" = [True] * n_channels  # channels the program drives (set_usable)
        self.supervisor_mode = False
        self.selecting = False  # profile selection (the controller leaves it when it refuses it)
        self.note: "Optional[str]" = None  # the controller's words for the message rows (stim.guardshell)
        self.intent = NONE
        self.intent_channel = ALL
        self.stuck: "Optional[str]" = None
        self._first = True
        self._raw: "List[int]" = [0] * N_BUTTONS  # last raw level
        self._raw_since: "List[int]" = [0] * N_BUTTONS
        self._down: "List[bool]" = [False] * N_BUTTONS  # debounced
        self._down_since: "List[int]" = [0] * N_BUTTONS
        self._next_repeat: "List[int]" = [0] * N_BUTTONS
        self._long_done: "List[bool]" = [False] * N_BUTTONS
        self._ignore: "List[bool]" = [False] * N_BUTTONS  # stuck at boot: ignored until let go
        self._now = 0  # this step's time and key level (step() sets them for _button())
        self._key = False
        self._pressed = 0
        self._active = True  # some button was down or ignored at the last step (the idle fast path)

    def step(self, now_ms: int, pressed: int, key: bool) -> None:
        self.intent = NONE
        self.intent_channel = self.channel
        if self._first:
            self._first = False
            self._boot(now_ms, pressed)
            return
        if not key:
            self.supervisor_mode = False
        if pressed == 0 and self._pressed == 0 and not self._active:
            return  # nothing pressed now or last tick, none down or ignored: no button can act
        self._now = now_ms
        self._key = key
        self._pressed = pressed
        for i in range(N_BUTTONS):
            # A button up now and at its last sample and not down has nothing to do in _button (no
            # edge, no release, no hold; an ignored button is down too: _boot sets both, _button
            # clears both): its call (~70 us on silicon) is skipped. While one button is held the
            # other four made a held + cost ~0.25 ms a tick (tests/test_panel_idle_skip.py).
            if pressed & (1 << i) or self._raw[i] or self._down[i]:
                self._button(i)
        self._active = True in self._down or True in self._ignore

    def _boot(self, now_ms: int, pressed: int) -> None:
        for i in range(N_BUTTONS):
            if pressed & (1 << i):
                self.stuck = BUTTONS[i]
                self._raw[i] = 1
                self._down[i] = True
                self._ignore[i] = True  # a stuck button never acts
            self._raw_since[i] = now_ms

    # One method per button, with the time and key in attributes: a bigger frame would be a heap
    # frame at every call (picostim.devtools.frames).
    def _button(self, i: int) -> None:
        level = 1 if self._pressed & (1 << i) else 0
        now_ms = self._now
        if level != self._raw[i]:
            self._raw[i] = level
            self._raw_since[i] = now_ms
            if level and (i == B_PLUS or i == B_MINUS) and not self._down[i] and not self._ignore[i]:
                self._down_edge(i, now_ms)  # the intensity keys act on their first sample
            return
        if ticks.diff(now_ms, self._raw_since[i]) < DEBOUNCE_MS:
            return
        if self._ignore[i]:
            if not level:
                self._ignore[i] = False  # let go: it may act from its next press
                self._down[i] = False
            return
        if level and not self._down[i]:
            self._down_edge(i, now_ms)
        elif level and self._down[i]:
            self._held(i, now_ms, self._key)
        elif not level and self._down[i]:
            self._down[i] = False
            self._release(i)

    def _down_edge(self, i: int, now_ms: int) -> None:
        self._down[i] = True
        self._down_since[i] = now_ms
        self._next_repeat[i] = ticks.add(now_ms, HOLD_MS)
        self._long_done[i] = False
        self._press(i)

    def _emit(self, intent: int) -> None:
        if self.intent == NONE:  # one intent per tick; the first wins
            self.intent = intent
            self.intent_channel = self.channel

    def _press(self, i: int) -> None:
        if i == B_START:
            if not self.selecting:  # selecting: it picks on release (_release) or confirms held
                self._emit(START_PAUSE)
        elif i == B_PLUS:
            self._emit(PROFILE_NEXT if self.selecting else LIMIT_UP if self.supervisor_mode else PLUS)
        elif i == B_MINUS:
            self._emit(PROFILE_PREV if self.selecting else LIMIT_DOWN if self.supervisor_mode else MINUS)
        # channel and program act on release of a short press or on a long hold: see _held

    def _held(self, i: int, now_ms: int, key: bool) -> None:
        held = ticks.diff(now_ms, self._down_since[i])
        if i == B_PLUS or i == B_MINUS:
            if ticks.diff(now_ms, self._next_repeat[i]) >= 0:
                self._next_repeat[i] = ticks.add(now_ms, REPEAT_MS)
                self._press(i)
        elif i == B_CHANNEL and not self._long_done[i]:
            if key and held >= SUPERVISOR_HOLD_MS:
                self._long_done[i] = True
                self.supervisor_mode = not self.supervisor_mode
                self._emit(SUPERVISOR_ON if self.supervisor_mode else SUPERVISOR_OFF)
        elif not self._long_done[i]:
            self._held_long(i, held, key)

    def _held_long(self, i: int, held: int, key: bool) -> None:
        """program and start_pause held: profile selection, screening, override."""
        if i == B_PROGRAM and held >= PROFILE_HOLD_MS:
            self._long_done[i] = True
            self.selecting = not self.selecting
            self._emit(PROFILES)
        elif i == B_START and key and held >= CONFIRM_HOLD_MS:
            if self.selecting:
                self._long_done[i] = True
                self._emit(SCREENED)
            elif not self.supervisor_mode and self._down[B_MINUS] and \
                    ticks.diff(self._now, self._down_since[B_MINUS]) >= CONFIRM_HOLD_MS:
                self._long_done[i] = True
                self._emit(OVERRIDE)

    def set_usable(self, ch: int, used: bool) -> None:
        """Whether the program drives channel ch; outside supervisor mode, channel select skips it."""
        self.usable[ch] = used
        if not used and self.channel == ch and not self.supervisor_mode:
            self.channel = ALL

    def _release(self, i: int) -> None:
        # Channel select acts on a short press's release: a long hold is the mode gesture.
        if i == B_CHANNEL and not self._long_done[i]:
            c = self.channel
            while True:  # the next channel + and - can act on, or "all" after the last
                c = 0 if c == ALL else c + 1
                if c >= self.n:
                    c = ALL
                if c == ALL or self.usable[c] or self.supervisor_mode:
                    break
            self.channel = c
            self._emit(CHANNEL)
        elif i == B_PROGRAM and not self._long_done[i]:
            if self.selecting:
                self.selecting = False
                self._emit(PROFILES)
            else:
                self._emit(PROGRAM)
        elif i == B_START and self.selecting and not self._long_done[i]:
            self.selecting = False
            self._emit(PROFILE_PICK)
