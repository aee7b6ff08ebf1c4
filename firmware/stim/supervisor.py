"""The safety supervisor: one small state machine, stepped every tick.

Pure: it takes time, input levels, one trainer intent and sense readings as
arguments, and leaves its decision in its own attributes (`state`, `level_ua`,
`feed_wdt`, `fault`, ...), which the controller reads. Nothing here allocates
in the steady state, so `step()` can be proved allocation-free on MicroPython.

Why no sequence of events can stimulate someone who should not be:
- `level_ua[ch]` is the ceiling of channel ch's output; the controller never
  drives more (the pulse envelope only scales it down).
- Every step starts with the stopping conditions: key absent or e-stop pressed
  (undebounced: the first edge acts) zero every level before anything else.
- A level is non-zero only in RUNNING, and RUNNING is entered only from READY
  on a panel start intent with the key in and the e-stop released, stable for
  ENABLE_STABLE_MS. READY needs no latched fault.
- Levels start at 0 on every start and resume, rise by at most the ramp rate,
  and are clamped to the channel's cap (supervisor limit, channel and board
  maximum, program maximum, RMS cap) on every step.
- A fault latches: FAULT holds every level at 0 until the key is turned off and
  on again with the e-stop released. After a watchdog reset the board starts in
  FAULT "watchdog reset".
- `feed_wdt` is True only when this step's consistency checks passed.
- `pump` (the charge pump, a dynamic enable) may toggle only in RUNNING: in
  every other state the output stage loses its supply.

State chart: docs/safety.md.
"""

from micropython import const

from stim import ticks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence

SAFE = const(0)
READY = const(1)
RUNNING = const(2)
PAUSED = const(3)
FAULT = const(4)
STATE_NAMES = ("SAFE", "READY", "RUNNING", "PAUSED", "FAULT")

# Intents: what the panel (or, for STOP and SET_LIMIT, the console) asks for.
NONE = const(0)
START_PAUSE = const(1)
PLUS = const(2)
MINUS = const(3)
STOP = const(4)
SET_LIMIT = const(5)
ALL = const(-1)  # channel argument: every channel

ENABLE_STABLE_MS = const(50)  # the enabling direction needs this long a stable level
MAX_DT_MS = const(100)  # a ramp never advances by more than this much time at once
OPEN_ELECTRODE_UA = const(10_000)  # above this, no sensed current means an open electrode
OPEN_SENSE_UA = const(1_000)
OPEN_TICKS = const(3)  # consecutive ticks of "no current" before we call it open
OVERCURRENT_MARGIN_UA = const(5_000)

# Why a session ended, as logged.
END_COMPLETED = "completed"
END_STOPPED = "stopped"
END_KEY = "key removed"
END_ESTOP = "e-stop"
END_FAULT = "fault"

FAULT_ESTOP = "e-stop"
FAULT_WDT = "watchdog reset"

# The watchdog's timeout follows the state (issue 12). While a session may drive (RUNNING, PAUSED)
# ten ticks: a hung loop stops a running output within 0.1 s. With every output off the loop may
# wait on flash: a littlefs commit erases with IRQs off, 45 ms typical and 400 ms at most per 4 KB
# sector on a W25Q16JV, and may erase twice (a metadata pair); a USB write to a host that stopped
# reading waits up to 500 ms. 2 s covers those with room; a hang with every output off is harmless
# meanwhile. The controller shortens the timeout before anything may go live and lengthens it only
# after the outputs are off, and flash is written only while idle (stim.store), so the long
# timeout is never in force while a channel may drive.
WDT_DRIVING_MS = const(100)
WDT_IDLE_MS = const(2000)


def watchdog_ms(state: int) -> int:
    """The watchdog timeout for a supervisor state."""
    return WDT_DRIVING_MS if state == RUNNING or state == PAUSED else WDT_IDLE_MS


# watchdog_ms() of every state, for the tick: a subscript where a call cost ~15 us on silicon.
WATCHDOG_MS_BY_STATE = tuple(watchdog_ms(s) for s in range(len(STATE_NAMES)))

# Alerts: feedback to the trainer, not faults.
ALERT_AT_CAP = "limit reached"
ALERT_PAUSED_PLUS = "paused: + ignored"
ALERT_NO_KEY = "start refused: key"
ALERT_ESTOP = "start refused: e-stop"
ALERT_FAULT = "start refused: fault"
ALERT_NOT_RUNNING = "+ ignored: not running"
ALERT_NO_KEY_LIMIT = "limit refused: key"


class Supervisor:
    """Safety state machine for n channels. All currents in integer microamps."""

    def __init__(
        self,
        channel_max_ua: "Sequence[int]",
        board_max_ua: int,
        ramp_ua_per_s: int,
        max_session_ms: int,
        step_ua: int = 1000,
        ramp_down_ms: int = 1000,
        watchdog_reset: bool = False,
    ) -> None:
        n = len(channel_max_ua)
        if n < 1:
            raise ValueError("supervisor: at least one channel")
        if ramp_ua_per_s <= 0 or step_ua <= 0 or max_session_ms <= 0:
            raise ValueError("supervisor: ramp, step and session limit must be > 0")
        self.n = n
        self.board_max_ua = board_max_ua
        self.channel_max_ua = tuple(channel_max_ua)
        self.ramp_ua_per_s = ramp_ua_per_s
        self.step_ua = step_ua
        self.ramp_down_ms = ramp_down_ms
        self.board_session_ms = max_session_ms
        self.session_limit_ms = max_session_ms
        # Per channel: supervisor limit, program cap, trainer set point, output ceiling.
        self.limit_ua: "List[int]" = [min(m, board_max_ua) for m in channel_max_ua]
        self.program_cap_ua: "List[int]" = [0] * n  # 0 until a program is chosen
        self.used: "List[bool]" = [True] * n
        self.setpoint_ua: "List[int]" = [0] * n
        self.level_ua: "List[int]" = [0] * n
        self.peak_ua: "List[int]" = [0] * n
        self._down_from_ua: "List[int]" = [0] * n
        self._open_count: "List[int]" = [0] * n
        # check_senses' thresholds (_sense_bounds) and the applied levels they are for; until the
        # first call every reading goes to check_sense (-1 is below any reading).
        self._bounds_for: "List[int]" = [-1] * n
        self._over_ua: "List[int]" = [-1] * n
        self._open_watch: "List[bool]" = [True] * n
        self._caps: "List[int]" = [0] * n  # cap_ua() of each channel, refreshed every step
        self._prog_ua: "List[int]" = [0] * n  # program cap, channel and board maximum, guard ceiling (_fold_caps)
        self._base_ua: "List[int]" = [0] * n  # the same without the guard ceiling
        self._lim_seen: "List[int]" = [-1] * n  # limit_ua and _prog_ua at the last _refresh_caps()
        self._prog_seen: "List[int]" = [-1] * n
        # The dose guard's caps for the next session (stim.doseguard via stim.guardshell): a ceiling per
        # channel and a session length. They can only lower: _fold_caps and set_program take the smaller.
        self.guard_ua: "List[int]" = [min(m, board_max_ua) for m in channel_max_ua]
        self.guard_ms = max_session_ms
        self._base_session_ms = max_session_ms
        self.state = SAFE
        self.fault: "Optional[str]" = FAULT_WDT if watchdog_reset else None
        if self.fault is not None:
            self.state = FAULT
        self.faults_seen = 0
        self.alert: "Optional[str]" = None
        self.alert_ch = -1
        self.end_reason: "Optional[str]" = None  # why the last session ended
        self.session_ms = 0  # running time of the current session
        self.sessions = 0
        self.feed_wdt = False
        self.pump = False  # the charge pump may toggle (stim.controller): only in RUNNING
        self.key = False  # debounced: key present
        self.estop_released = False  # debounced
        self._key_raw = False
        self._estop_raw = False  # raw level: e-stop released right now
        self._key_since = -1
        self._estop_since = -1
        self._key_off_since_fault = False
        self._last_ms = -1
        self._pausing = False
        self._ending = False
        self._down_ms = 0  # time into the current ramp-down
        self._key_ok = False  # this step's _key_guard() and _estop_guard() (_stop_conditions)
        self._estop_ok = False
        self._quiet = False  # the last full step settled (_settled): the next may be a quiet one
        # The lists the self-check last passed with when a step settled (the quiet step's memo).
        self._ok_levels: "List[int]" = [-1] * n
        self._ok_limits: "List[int]" = [-1] * n
        self._ok_prog: "List[int]" = [-1] * n
        # This tick's inputs (step() sets them; the controller's tick sets them and calls advance()).
        self.in_key = False
        self.in_estop_released = False
        self.in_intent = NONE
        self.in_ch = ALL
        self.in_arg = 0

    # -- configuration (not on the tick path) ---------------------------------
    def set_program(self, caps_ua: "Sequence[int]", used: "Sequence[bool]", duration_ms: int,
                    ramp_down_ms: int) -> bool:
        """Choose a program's caps; only while no session runs. Returns False if refused."""
        if self.state == RUNNING or self.state == PAUSED:
            return False
        for ch in range(self.n):
            cap = caps_ua[ch] if ch < len(caps_ua) else 0
            self.program_cap_ua[ch] = cap if cap > 0 else 0
            self.used[ch] = bool(used[ch]) if ch < len(used) else False
            self._fold_caps(ch)
        self._base_session_ms = min(duration_ms, self.board_session_ms)
        self.session_limit_ms = min(self._base_session_ms, self.guard_ms)
        self.ramp_down_ms = ramp_down_ms
        return True

    def set_guard(self, ceilings_ua: "Sequence[int]", max_ms: int) -> bool:
        """The dose guard's caps for the next session: a ceiling per channel and a session length.
        Only while no session runs; they only lower (a cap is the smaller of this and the rest),
        and hold for every session until changed. Returns False if refused."""
        if self.state == RUNNING or self.state == PAUSED:
            return False
        for ch in range(self.n):
            ua = ceilings_ua[ch] if ch < len(ceilings_ua) else 0
            self.guard_ua[ch] = ua if ua > 0 else 0
            self._fold_caps(ch)
        self.guard_ms = max_ms if max_ms > 0 else 0
        self.session_limit_ms = min(self._base_session_ms, self.guard_ms)
        return True

    def clear_guard(self) -> bool:
        """No guard caps (the board's own caps only): before the guard is asked again."""
        return self.set_guard(self.channel_max_ua, self.board_session_ms)

    def base_cap_ua(self, ch: int) -> int:
        """cap_ua(ch) without the guard's ceiling: what a session could reach without the guard."""
        c = self.limit_ua[ch]
        p = self._base_ua[ch]
        return p if p < c else c

    def base_session_ms(self) -> int:
        """The session length without the guard's cap (program and board)."""
        return self._base_session_ms

    def cap_ua(self, ch: int) -> int:
        """The smallest of the supervisor limit, channel and board maximum, program cap and the dose
        guard's ceiling (0 for a channel the program does not use). Every step calls it per channel,
        twice: all but the first are folded into _prog_ua by set_program() and set_guard(), so that
        it is one comparison."""
        c = self.limit_ua[ch]
        p = self._prog_ua[ch]
        return p if p < c else c

    def _fold_caps(self, ch: int) -> None:
        """_prog_ua[ch]: the program cap, channel and board maximum and the guard's ceiling in one
        (0 if ch is unused); _base_ua[ch] the same without the guard."""
        c = self.program_cap_ua[ch]
        if self.channel_max_ua[ch] < c:
            c = self.channel_max_ua[ch]
        if self.board_max_ua < c:
            c = self.board_max_ua
        if not self.used[ch]:
            c = 0
        self._base_ua[ch] = c
        g = self.guard_ua[ch]
        self._prog_ua[ch] = g if g < c else c

    def latch_fault(self, reason: str) -> None:
        """Any doubt ends here: every level to 0 now, until a key cycle clears it."""
        if self.state == RUNNING or self.state == PAUSED:
            self.end_reason = END_ESTOP if reason == FAULT_ESTOP else END_FAULT
        if self.fault is None:
            self.faults_seen += 1
        if self.fault != FAULT_WDT:
            # A watchdog reset stays the fault shown until a key cycle clears it: the CPU hung, and an
            # e-stop pressed meanwhile must not hide that (found by tests/test_safety_stateful.py: a
            # board reset by the watchdog with the e-stop down booted into FAULT "e-stop"). The later
            # fault still latches: the key must be turned off after it, below.
            self.fault = reason
        self.state = FAULT
        self._quiet = False
        # No more toggles of the charge pump from this tick on: a fault latched after the step (an
        # overcurrent from the sense check, an exception, a stuck button) found pump True from the
        # step, and the tick's pump then toggled once more in FAULT (the safety search found it).
        self.pump = False
        # Only a key turned off after the fault (seen on the raw level) clears it.
        self._key_off_since_fault = not self._key_raw
        self._zero_all()

    # -- the guards (small methods, so the mutation test can disable each) -----
    def _key_guard(self) -> bool:
        return self.key

    def _estop_guard(self) -> bool:
        """The e-stop is released right now (raw level: pressing is never debounced)."""
        return self._estop_raw

    def _cap_guard(self, ua: "List[int]") -> None:
        """Every channel's value in ua (set points or levels) at most its cap_ua(), as of this step
        (_caps: _refresh_caps, _set_limit). One call for all channels: a call costs ~12 us on silicon."""
        caps = self._caps
        c = self.n
        while c:  # while, not for: a range iterator takes 4 slots of an 11-word frame
            c -= 1
            if ua[c] > caps[c]:
                ua[c] = caps[c]

    def _ramp_guard(self, dt_ms: int) -> int:
        """How far a level may rise in dt_ms (every start begins from 0)."""
        return self.ramp_ua_per_s * dt_ms // 1000

    def _pump_guard(self) -> bool:
        """The output stage may have supply (the charge pump toggles) only while a session runs."""
        return self.state == RUNNING

    def _wdt_guard(self) -> bool:
        """Feed only if every invariant holds after this step. The caps are cap_ua()'s own terms, not
        _caps: a stale _caps must not hide a level above its cap."""
        lim = self.limit_ua
        prog = self._prog_ua
        lvs = self.level_ua
        idle = self.state != RUNNING
        ch = self.n
        while ch:
            ch -= 1
            lv = lvs[ch]
            if lv < 0 or lv > lim[ch] or lv > prog[ch] or (lv and idle):
                return False
        return idle or self.session_ms <= self.session_limit_ms

    # -- the tick ----------------------------------------------------------------
    def step(self, now_ms: int, key_raw: bool, estop_released_raw: bool, intent: int = NONE,
             ch: int = ALL, arg: int = 0) -> None:
        """Advance to now_ms with these raw input levels and at most one intent."""
        self.in_key = key_raw
        self.in_estop_released = estop_released_raw
        self.in_intent = intent
        self.in_ch = ch
        self.in_arg = arg
        self.advance(now_ms)

    # The tick is split into small methods on purpose: MicroPython puts a call's frame on the heap
    # when its locals and value stack exceed 11 words, at every call, and with garbage on the heap
    # that allocation scans it (picostim.devtools.frames; tests/test_tick_frames.py).
    def advance(self, now_ms: int) -> None:
        """step() with its inputs already in in_key, in_estop_released, in_intent, in_ch and in_arg (the
        controller's tick sets them there: a call with six arguments would need a heap frame)."""
        self.alert = None
        # cap_ua()'s terms as at the last refresh (two list comparisons, in C): no call to refresh
        caps_moved = (self.limit_ua != self._lim_seen or self._prog_ua != self._prog_seen) and self._refresh_caps()
        dt = 0 if self._last_ms < 0 else ticks.diff(now_ms, self._last_ms)
        self._last_ms = now_ms
        if dt < 0:
            self.latch_fault("internal error: clock went backwards")
            dt = 0
        if dt > MAX_DT_MS:
            dt = MAX_DT_MS  # after a stall, ramps resume at their rate, never jump
        if (self._quiet and not caps_moved and self.state == RUNNING and self.in_intent == NONE
                and self.in_key and self.in_estop_released
                and self.session_ms + dt + self.ramp_down_ms < self.session_limit_ms):
            # A quiet step: the last step settled (_settled) and nothing but time moved since.
            # The full step's debounce, stopping conditions and moves would leave everything as it
            # is but the session's time; the ramp and the self-check run as in every step.
            self.session_ms += dt
            if self.level_ua != self.setpoint_ua:  # _at_set_points(), without its call
                # Levels on their way to the set points (a trainer holding +): the ramp, with its
                # guards, and the end of the step as the full step makes them. ~0.3 ms less a tick
                # on silicon than the full step.
                self._move_levels(dt)
                self._finish()
                self._after_finish()
                return
            if (self.level_ua == self._ok_levels and self.limit_ua == self._ok_limits
                    and self._prog_ua == self._ok_prog):
                # _finish() in short: no end or pause is under way (settled), and the self-check's
                # verdict depends only on these lists, RUNNING and the session's time, which the
                # condition above keeps inside its limit: it passed with these very lists when the
                # step settled (_remember_checked), so it passes again. Three list comparisons, in
                # C, where _finish's three calls and the check's loop cost ~0.14 ms on silicon.
                self.feed_wdt = True
                self.pump = True  # _pump_guard(): RUNNING
                return
            self._finish()
            return
        self._debounce(now_ms, self.in_key, self.in_estop_released)
        self._stop_conditions()
        self._moves(dt)
        # 3. Levels follow the set points at the ramp rate, always inside the caps.
        self._move_levels(dt)
        self._finish()
        self._after_finish()

    def _after_finish(self) -> None:
        """Whether the next step may be quiet, and at the set points the lists the self-check passed."""
        self._quiet = self._settled()
        if self._quiet and self.level_ua == self.setpoint_ua:
            self._remember_checked()

    def _remember_checked(self) -> None:
        """The lists the self-check has just passed with, in RUNNING (_settled says so), for the
        quiet step: element by element, since a slice copy would allocate its slice. Once a settle."""
        c = self.n
        while c:
            c -= 1
            self._ok_levels[c] = self.level_ua[c]
            self._ok_limits[c] = self.limit_ua[c]
            self._ok_prog[c] = self._prog_ua[c]

    def _settled(self) -> bool:
        """After a step: a running session with the key in, the e-stop released, the self-check
        passed and no pause or end under way. The next step with the same inputs, no intent, the
        same caps and the session not yet at its ramp-down changes nothing but the session's time
        and the levels on their ramp to the set points (advance's quiet step;
        tests/test_quiet_step.py)."""
        return (self.state == RUNNING and not self._pausing and not self._ending and self.key
                and self.estop_released and self.feed_wdt)

    def _at_set_points(self) -> bool:
        """Every level at its set point (checked again before a quiet step: a level written outside
        the step, as a corrupt one would be, takes the full step, which moves it as it should)."""
        return self.level_ua == self.setpoint_ua  # a list comparison, in C

    def _refresh_caps(self) -> bool:
        """Each channel's cap_ua(), for _cap_guard, when advance() saw its terms move (_wdt_guard checks
        against cap_ua()'s terms itself); True if one changed. cap_ua()'s comparison inline: a call
        per channel cost ~50 us a step on silicon."""
        lim = self.limit_ua
        prog = self._prog_ua
        caps = self._caps
        moved = False
        c = self.n
        while c:
            c -= 1
            self._lim_seen[c] = lim[c]  # element by element: a slice copy would allocate its slice
            self._prog_seen[c] = prog[c]
            cap = prog[c] if prog[c] < lim[c] else lim[c]
            if cap != caps[c]:
                caps[c] = cap
                moved = True
        return moved

    def _stop_conditions(self) -> None:
        # 1. Stopping conditions first, every step. Each guard once a step: _moves reads these.
        self._estop_ok = self._estop_guard()
        self._key_ok = self._key_guard()
        if not self._estop_ok:
            if self.fault != FAULT_ESTOP:
                self.latch_fault(FAULT_ESTOP)
        if not self._key_ok:
            if self.state == RUNNING or self.state == PAUSED:
                self._end(END_KEY, SAFE)
            elif self.state == READY:
                self.state = SAFE
            if not self._key_raw:
                self._key_off_since_fault = True
            self._zero_all()
        if self.in_intent == STOP and (self.state == RUNNING or self.state == PAUSED):
            self._end(END_STOPPED, READY)

    def _moves(self, dt: int) -> None:
        # 2. State moves.
        intent = self.in_intent
        enabled = self._key_ok and self._estop_ok and self.estop_released
        st = self.state
        if st == FAULT:
            self._zero_all()
            if enabled and self._key_off_since_fault:
                self.fault = None
                self.state = READY
            elif intent == START_PAUSE:
                self._refuse(ALERT_FAULT, ALL)
        elif st == SAFE:
            if enabled:
                self.state = READY
            elif intent == START_PAUSE:
                self._refuse(ALERT_ESTOP if self._key_ok else ALERT_NO_KEY, ALL)
        elif st == READY:
            if intent == START_PAUSE:
                self._start()
            elif intent == PLUS:
                self._refuse(ALERT_NOT_RUNNING, self.in_ch)
        elif st == RUNNING:
            self._running(intent, dt)
        elif st == PAUSED:
            if intent == START_PAUSE:
                self.state = RUNNING  # resume: levels are 0 and ramp back to the set points
                self._pausing = False
            elif intent == PLUS:
                self._refuse(ALERT_PAUSED_PLUS, self.in_ch)
        if intent == MINUS:
            self._minus(self.in_ch)
        elif intent == SET_LIMIT:
            self._set_limit(self.in_ch, self.in_arg)

    def _running(self, intent: int, dt: int) -> None:
        if intent == START_PAUSE and not self._ending:
            self._begin_ramp_down(True)
        elif intent == PLUS:
            self._plus(self.in_ch)
        self.session_ms += dt
        if not self._ending and self.session_ms + self.ramp_down_ms >= self.session_limit_ms:
            self._ending = True
            self._begin_ramp_down(False)

    def _finish(self) -> None:
        # 4. Session end and pause completion.
        if self.state == RUNNING:
            if self._ending and (self._all_zero() or self.session_ms >= self.session_limit_ms):
                self._end(END_COMPLETED, READY)
            elif self._pausing and self._all_zero():
                self.state = PAUSED
                self._pausing = False

        # 5. Watchdog policy: feed only a consistent state.
        ok = self._wdt_guard()
        if not ok and self.state != FAULT:
            self.latch_fault("internal error: supervisor invariant")
            ok = False
        self.feed_wdt = ok
        self.pump = self._pump_guard()

    def check_senses(self, applied_ua: "List[int]", sensed_ua: "List[int]") -> None:
        """check_sense() for every channel with a sense line (sensed_ua[c] >= 0), CH1 first.

        Called only where it has something to do: an overcurrent, an open electrode, or an open
        count to clear. Elsewhere check_sense() changes nothing, and its call cost ~40 us a channel
        on silicon, every tick. Its thresholds for the applied levels are worked out again only
        when those levels change (_sense_bounds)."""
        if applied_ua != self._bounds_for:  # a list comparison, in C
            self._sense_bounds(applied_ua)
        over = self._over_ua
        c = 0
        while c < self.n:
            s = sensed_ua[c]
            if s >= 0 and (s > over[c] or (s < OPEN_SENSE_UA and self._open_watch[c]) or self._open_count[c]):
                self.check_sense(c, applied_ua[c], s)
            c += 1

    def _sense_bounds(self, applied_ua: "List[int]") -> None:
        """check_sense()'s thresholds for these applied levels, per channel: the overcurrent bound
        (the smaller of its two), and whether an open electrode can show (driven above
        OPEN_ELECTRODE_UA)."""
        bounds_for = self._bounds_for  # locals: each ramp tick runs this (an attribute costs ~3 us)
        over_ua = self._over_ua
        tops = self.channel_max_ua
        c = self.n
        while c:
            c -= 1
            a = applied_ua[c]
            bounds_for[c] = a  # element by element: a slice copy would allocate its slice
            self._open_watch[c] = a > OPEN_ELECTRODE_UA
            over = a + a // 5 + OVERCURRENT_MARGIN_UA
            a = tops[c] + OVERCURRENT_MARGIN_UA  # the channel's own bound (a reused: 11 words of frame)
            over_ua[c] = over if over < a else a

    def check_sense(self, ch: int, applied_ua: int, sensed_ua: int) -> None:
        """Compare what channel ch was driven to with what the sense line measured.

        Overcurrent cuts everything and latches a fault. No current while the
        channel was driven above OPEN_ELECTRODE_UA for OPEN_TICKS ticks sends the
        channel back to 0 with an alert, as clinical stimulators do.
        """
        limit = applied_ua + applied_ua // 5 + OVERCURRENT_MARGIN_UA
        if sensed_ua > limit or sensed_ua > self.channel_max_ua[ch] + OVERCURRENT_MARGIN_UA:
            self.latch_fault(_OVERCURRENT[ch] if ch < len(_OVERCURRENT) else "overcurrent")
            return
        if applied_ua > OPEN_ELECTRODE_UA and sensed_ua < OPEN_SENSE_UA:
            self._open_count[ch] += 1
            if self._open_count[ch] >= OPEN_TICKS:
                self._open_count[ch] = 0
                self.setpoint_ua[ch] = 0
                self.level_ua[ch] = 0
                self.alert = _OPEN[ch] if ch < len(_OPEN) else "open electrode"
                self.alert_ch = ch
        else:
            self._open_count[ch] = 0

    # -- helpers -----------------------------------------------------------------
    def _debounce(self, now_ms: int, key_raw: bool, estop_raw: bool) -> None:
        # Asymmetric: the stopping direction acts on the first edge; the
        # enabling direction needs ENABLE_STABLE_MS of a stable level.
        self._key_raw = key_raw
        self._estop_raw = estop_raw
        if not key_raw:
            self.key = False
            self._key_since = -1
        elif self._key_since < 0:
            self._key_since = now_ms
        elif not self.key and ticks.diff(now_ms, self._key_since) >= ENABLE_STABLE_MS:
            self.key = True
        if not estop_raw:
            self.estop_released = False
            self._estop_since = -1
        elif self._estop_since < 0:
            self._estop_since = now_ms
        elif not self.estop_released and ticks.diff(now_ms, self._estop_since) >= ENABLE_STABLE_MS:
            self.estop_released = True

    def _refuse(self, alert: str, ch: int) -> None:
        self.alert = alert
        self.alert_ch = ch

    def _start(self) -> None:
        any_used = False
        for c in range(self.n):
            if self.used[c] and self.cap_ua(c) > 0:
                any_used = True
        if not any_used:
            self._refuse("start refused: no program", ALL)
            return
        self.state = RUNNING
        self.sessions += 1
        self.session_ms = 0
        self.end_reason = None
        self._pausing = False
        self._ending = False
        for c in range(self.n):
            self.setpoint_ua[c] = 0
            self.level_ua[c] = 0
            self.peak_ua[c] = 0
            self._open_count[c] = 0

    def _end(self, reason: str, new_state: int) -> None:
        self.end_reason = reason
        self.state = new_state
        self._pausing = False
        self._ending = False
        self._zero_all()

    def _zero_all(self) -> None:
        for c in range(self.n):
            self.level_ua[c] = 0
            self.setpoint_ua[c] = 0

    def _all_zero(self) -> bool:
        for c in range(self.n):
            if self.level_ua[c]:
                return False
        return True

    def _begin_ramp_down(self, pausing: bool) -> None:
        self._pausing = pausing
        self._down_ms = 0
        for c in range(self.n):
            self._down_from_ua[c] = self.level_ua[c]

    def _plus(self, ch: int) -> None:
        if self._pausing or self._ending:
            self._refuse(ALERT_NOT_RUNNING, ch)
            return
        for c in range(self.n):
            if ch != ALL and c != ch:
                continue
            if not self.used[c]:
                continue
            cap = self.cap_ua(c)
            sp = self.setpoint_ua[c] + self.step_ua
            if sp >= cap:
                if self.setpoint_ua[c] >= cap:
                    self._refuse(ALERT_AT_CAP, c)
                sp = cap
            self.setpoint_ua[c] = sp

    def _minus(self, ch: int) -> None:
        for c in range(self.n):
            if ch != ALL and c != ch:
                continue
            sp = self.setpoint_ua[c] - self.step_ua
            self.setpoint_ua[c] = sp if sp > 0 else 0
            if self.level_ua[c] > self.setpoint_ua[c]:
                self.level_ua[c] = self.setpoint_ua[c]

    def _set_limit(self, ch: int, ua: int) -> None:
        # Lowering a limit is stopping-direction and always allowed; raising one
        # needs the key (the console and the panel gesture both check it here).
        for c in range(self.n):
            if ch != ALL and c != ch:
                continue
            new = ua if ua > 0 else 0
            if new > self.channel_max_ua[c]:
                new = self.channel_max_ua[c]
            if new > self.limit_ua[c] and not self._key_guard():
                self._refuse(ALERT_NO_KEY_LIMIT, c)
                continue
            self.limit_ua[c] = new
            self._caps[c] = self.cap_ua(c)

    def _move_levels(self, dt: int) -> None:
        if self.state != RUNNING:
            for c in range(self.n):
                self.level_ua[c] = 0
        elif self._pausing or self._ending:
            self._ramp_down(dt)
        else:
            self._ramp_up(self._ramp_guard(dt))

    def _ramp_down(self, dt: int) -> None:
        """Ramp down linearly from where each channel was, over ramp_down_ms (never up), capped."""
        self._down_ms += dt
        c = self.n
        while c:
            c -= 1
            self._down_one(c)
        self._cap_guard(self.level_ua)

    def _down_one(self, c: int) -> None:
        rd = self.ramp_down_ms
        target = 0 if rd <= 0 or self._down_ms >= rd else self._down_from_ua[c] * (rd - self._down_ms) // rd
        if target < self.level_ua[c]:
            self.level_ua[c] = target

    def _ramp_up(self, rise: int) -> None:
        """Each set point capped, then each level towards it by at most rise; lowering is immediate.
        One loop, no call per channel (the steady tick's cost on silicon)."""
        sps = self.setpoint_ua
        self._cap_guard(sps)
        lvs = self.level_ua
        c = self.n
        while c:
            c -= 1
            sp = sps[c]
            lv = lvs[c]
            if lv != sp:  # a steady session: every level at its set point, nothing to do
                lv = lv + rise if sp - lv > rise else sp  # never above sp, which _cap_guard just capped
                lvs[c] = lv
                if lv > self.peak_ua[c]:
                    self.peak_ua[c] = lv

    def state_name(self) -> str:
        return STATE_NAMES[self.state]


# Preallocated alert/fault texts, so a sense check never builds a string.
_OVERCURRENT = tuple("overcurrent CH" + str(i + 1) for i in range(8))
_OPEN = tuple("open electrode CH" + str(i + 1) for i in range(8))
