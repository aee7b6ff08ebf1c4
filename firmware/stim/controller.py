"""One control tick: inputs -> panel -> supervisor -> pulse envelope -> outputs.

The controller owns no safety rule of its own: the supervisor decides every
channel's ceiling and whether the watchdog may be fed; the controller reads the
inputs, applies the decision to the hardware, and keeps the hardware honest:
- outputs go live in one short commit with IRQs held back, and only if the kill
  path has not fired, so a kill from the key or e-stop IRQ always lands after
  them, never underneath;
- a kill it did not ask for (the IRQ fired) stops every channel's bookkeeping;
- any exception in the tick fires the kill path and latches FAULT
  "internal error: ..." (the supervisor then holds every level at 0).
"""

from micropython import const

from stim import feedback as fb
from stim import panel as _panel
from stim import pulse, ticks
from stim import supervisor as sv
from stim.pulse import PulseError
from stim.recorder import Recorder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Sequence

    from stim.boardspec import Board

TICK_MS = const(10)
STEP_UA = const(1000)  # one + or - press: 1 mA
LIMIT_STEP_UA = const(5000)  # one + or - in supervisor mode: 5 mA

ALERT_PROGRAM_LOCKED = "program locked while running"
_QUEUE = const(8)  # console intents waiting for a tick
# The dose guard loads (its modules, the policy file: ~0.1 s on silicon) at the first START or profile
# gesture, or in READY this many ticks after boot, whichever comes first: not at boot, and not in the
# tick that turns READY, which would stall a START pressed right then (the silicon scenario's at 1 s).
GUARD_IDLE_TICKS = const(200)


class Controller:
    """Drives one board. `hw`, `outputs` and `kill` come from stim.hal; the rest is pure."""

    def __init__(
        self,
        board: "Board",
        hw: "Any",
        outputs: "Any",
        kill: "Any",
        programs: "Sequence[Any]",
        watchdog: "Any" = None,
        watchdog_reset: bool = False,
        store: "Any" = None,
    ) -> None:
        n = len(board.channels)
        self.n = n
        self.board = board
        self.hw = hw
        self.outputs = outputs
        self.kill = kill
        self.programs: "List[Any]" = list(programs)
        self.watchdog = watchdog
        self.sup = sv.Supervisor(
            channel_max_ua=pulse.channel_max_ua(board),
            board_max_ua=pulse.ma_to_ua(board.limits.board_max_ma),
            ramp_ua_per_s=int(board.limits.ramp_ma_per_s * 1000),
            max_session_ms=int(board.limits.max_session_s) * 1000,
            step_ua=STEP_UA,
            watchdog_reset=watchdog_reset,
        )
        self.panel = _panel.Panel(n)
        self.program_index = -1
        self.program: "Any" = None
        self.out_ua: "List[int]" = [0] * n  # what each channel was driven to last tick
        self._sensed_ua: "List[int]" = [-1] * n  # this tick's sense readings (-1: no sense line)
        self.driving = False  # some channel was driven above 0 this tick
        self._killed_now = False  # this tick found the kill path fired: outputs off
        self._pumped = False  # this tick's commit toggled the charge pump
        self._all_off = False  # all_off() done since the last commit: idle ticks skip it
        self.envelope = 0  # permille of the level, from the program's work/rest cycle
        self._env_from = 0  # the envelope holds for session times in [_env_from, _env_until)
        self._env_until = 0
        self.error: "Optional[str]" = None  # text of the last internal error
        self.ticks = 0
        self._kills_seen = kill.count
        self._key_edges = kill.key_edges  # stopping edges the kill path saw, as of the last tick
        self._estop_edges = kill.estop_edges
        self._q_intent: "List[int]" = [0] * _QUEUE
        self._q_ch: "List[int]" = [0] * _QUEUE
        self._q_arg: "List[int]" = [0] * _QUEUE
        self._q_len = 0
        # Console intents queued and handed to the supervisor so far: a request is done once
        # requests_done reaches the requests_queued it was given (the console waits for that).
        self.requests_queued = 0
        self.requests_done = 0
        self._last_now = 0
        self._alert: "Optional[str]" = None
        self.buzzer = fb.Buzzer()
        self.led = fb.StatusLed(board.outputs.status_led.patterns)  # the board file's rhythms, else defaults
        self._prev_state = self.sup.state
        self._prev_key = False
        self._led_lit = False  # the status LED as last written (stim.hal starts it off)
        self._led_state = -1  # the state the rhythm was last asked for (StatusLed.at)
        self.recorder: "Optional[Recorder]" = None
        self._warn_count = 0
        first = 0
        if store is not None:
            self.recorder = Recorder(store, n)
        # The dose guard (stim.guardshell, docs/clients.md): made after boot (GUARD_IDLE_TICKS: its
        # import is not paid at boot, the first tick must come before 1 s on silicon), asked at START.
        self.guard: "Any" = None
        self._gp: "Any" = None  # stim.guardpanel, imported with the guard
        self.rtc: "Any" = None  # the board's DS3231 driver (stim.app), read right before each decision
        self.load_clients: "Any" = None  # stim.app: loads the profiles at their first use
        self.clients: "Any" = None
        if store is not None:
            saved = store.settings
            for c in range(n):
                lim = saved.limits_ua[c]
                self.sup.limit_ua[c] = lim if lim < self.sup.channel_max_ua[c] else self.sup.channel_max_ua[c]
            for p in store.programs.values():
                self.add_program(p)
            for i in range(len(self.programs)):
                if self.programs[i].name == saved.program:
                    first = i
        if not self.select_program(first):
            self.select_program(0)

    # -- requests from outside the panel (the console) -------------------------
    def request(self, intent: int, ch: int = sv.ALL, arg: int = 0) -> bool:
        """Queue a console intent. Only STOP and SET_LIMIT are accepted: the console
        never starts stimulation and never raises intensity. STOP also acts now."""
        if intent == sv.STOP:
            self.sup.step(self._now(), self.hw.key_present(), self.hw.estop_released(), sv.STOP)
            self._apply()
            return True
        if intent != sv.SET_LIMIT or self._q_len >= _QUEUE:
            return False
        i = self._q_len
        self._q_intent[i] = intent
        self._q_ch[i] = ch
        self._q_arg[i] = arg
        self._q_len = i + 1
        self.requests_queued += 1
        return True

    def post_alert(self, text: str) -> None:
        """Show text as the next tick's alert (status line, buzzer, display): for the hal's own troubles."""
        self._alert = text

    def select_program(self, index: int) -> bool:
        """Choose a program (only while no session runs); set caps and pulse shapes."""
        if index < 0 or index >= len(self.programs):
            return False
        prog = self.programs[index]
        caps = [0] * self.n
        used = [False] * self.n
        for ch in range(self.n):
            used[ch] = prog.channel_used(ch)
            caps[ch] = self.outputs.cap_ua(ch, prog)
        if self.sup.state == sv.RUNNING or self.sup.state == sv.PAUSED:
            return False
        try:
            self.outputs.configure(prog)
        except PulseError as e:  # the shape cannot be made safely on this board: refuse, stay off
            self._alert = "program refused: " + str(e)
            return False
        self.sup.set_program(caps, used, prog.duration_ms, prog.ramp_down_ms)
        for ch in range(self.n):
            self.panel.set_usable(ch, used[ch])
        self.program_index = index
        self.program = prog
        self._save_settings()
        self._preview()
        return True

    def add_program(self, prog: "Any") -> None:
        """Add a custom program (already validated), replacing one of the same name."""
        for i in range(len(self.programs)):
            if self.programs[i].name == prog.name:
                if i == self.program_index and (self.sup.state == sv.RUNNING or self.sup.state == sv.PAUSED):
                    return  # never change the program a session runs; the stored copy applies next time
                self.programs[i] = prog
                return
        self.programs.append(prog)

    def _save_settings(self) -> None:
        rec = self.recorder
        if rec is None or self.program is None:
            return
        pid = self.guard.client if self.guard is not None else None
        if pid is None:
            rec.save_settings(self.sup.limit_ua, self.program.name)
        else:  # with a profile selected, the supervisor's limits are that person's (docs/clients.md)
            rec.save_settings(rec.store.settings.limits_ua, self.program.name)
            self.guard.save_limits(pid, self.sup.limit_ua)

    # -- the tick ----------------------------------------------------------------
    def tick(self, now_ms: int) -> None:
        """One tick. Never raises: an exception fires the kill path and latches FAULT (crashed())."""
        try:
            self.tick_unguarded(now_ms)
        except Exception as e:  # noqa: BLE001 - any doubt: outputs off, latched fault
            self.crashed(e)


    def crashed(self, e: Exception) -> None:
        """An exception escaped the tick: outputs off through the kill path, FAULT latched."""
        self.ticks += 1
        self.kill.fire()
        self.error = repr(e)
        self.sup.latch_fault("internal error: " + self.error)
        self._kills_seen = self.kill.count
        try:
            self.outputs.forget_running()
        except Exception:  # noqa: BLE001 - the kill already holds the pins low
            pass

    def _now(self) -> int:
        return self._last_now

    # The tick is split into small methods on purpose: MicroPython gives a call whose locals and value
    # stack exceed 11 words a heap frame, at every call (picostim.devtools.frames; issue 12).
    def tick_unguarded(self, now_ms: int) -> None:
        """tick() without its guard, for a caller whose own try calls crashed() (stim.app.run: a try
        in a call made every tick would cost that call a heap frame, picostim.devtools.frames)."""
        self._last_now = now_ms
        sup = self.sup
        self._inputs(now_ms)  # sup.in_key, sup.in_estop_released; the panel stepped
        if self.panel.intent != _panel.NONE or self._q_len:
            self._intent()  # sup.in_intent, in_ch, in_arg
        else:  # most ticks: no intent (as _intent() would set it, without its call)
            sup.in_intent = sv.NONE
            sup.in_ch = self.panel.intent_channel
            sup.in_arg = 0
        sup.advance(now_ms)
        if self.guard is None or self.ticks == 0 or self._alert is not None:
            self._after_step()  # else it has nothing to do (a call costs ~12 us on silicon)
        self._senses()
        want = sv.WATCHDOG_MS_BY_STATE[sup.state]  # sv.watchdog_ms(sup.state), without its call
        wdt = self.watchdog
        if wdt is not None and want < wdt.timeout_ms:
            wdt.set_timeout(want)  # shorter first: a session may go live in _apply
        self._apply()
        if not self._pumped:  # a commit that went live toggled the pump itself (_pump)
            self._pump()
        if wdt is not None and want > wdt.timeout_ms and not self.driving:
            wdt.set_timeout(want)  # longer only now, with every output off (before any flush)
        self._record(now_ms)
        self._feedback(now_ms)
        if sup.feed_wdt and wdt is not None:
            wdt.feed()
        self.ticks += 1

    def _pump(self) -> None:
        """The dynamic enable, after _apply. In a tick that went live the commit toggled the pump
        itself, with IRQs held back and only if no kill had fired (stim.hal.outputs.commit): a kill
        cannot land between that check and the toggle, so none is ever followed by a toggle that
        keeps the stage powered for another hold_ms (the stateful search found such a race when
        the toggle was Python after the commit). Otherwise the pump stops, unless the supervisor
        lets it run (only in RUNNING, where every tick commits: this branch toggles only if the
        supervisor's guard is broken, which the mutation test makes it)."""
        if self.sup.pump and not self._killed_now and self.kill.count == self._kills_seen:
            self.hw.toggle_charge_pump()
        else:
            self.hw.stop_charge_pump()

    def _inputs(self, now_ms: int) -> None:
        """The key and e-stop levels into the supervisor's inputs, and the panel stepped."""
        hw = self.hw
        kill = self.kill
        sup = self.sup
        pressed = hw.sample()  # the pads read once for the key, the e-stop and the buttons
        sup.in_key = hw.key_in
        sup.in_estop_released = hw.estop_in
        # A stopping edge the kill path's IRQ caught since the last tick counts even if the level
        # is back by now: a key glitch ends the session, an e-stop tap latches, as a longer one would.
        if kill.key_edges != self._key_edges:
            self._key_edges = kill.key_edges
            sup.in_key = False
        if kill.estop_edges != self._estop_edges:
            self._estop_edges = kill.estop_edges
            sup.in_estop_released = False
        self.panel.step(now_ms, pressed, sup.in_key)

    def _after_step(self) -> None:
        sup = self.sup
        pnl = self.panel
        if self.guard is None and sup.state == sv.READY and self.ticks >= GUARD_IDLE_TICKS:
            self._load_guard()  # once, in an idle READY after boot (else at START): docs/clients.md
        if pnl.stuck is not None and sup.fault is None and self.ticks == 0:
            # After the step, which has seen the key's level: a key already in at boot must be
            # turned off and on to clear this (latched before it, the fault cleared by itself).
            sup.latch_fault("button stuck: " + pnl.stuck)
        if self._alert is not None:  # the supervisor clears alerts as it steps: show ours after
            sup.alert = self._alert
            self._alert = None

    def _senses(self) -> None:
        """Sense lines: compare what was driven last tick with what flowed (channels with a line).
        Two calls for all channels: a call costs ~12 us on silicon, and this made nine."""
        self.hw.read_senses(self._sensed_ua)
        self.sup.check_senses(self.out_ua, self._sensed_ua)

    def _record(self, now_ms: int) -> None:
        sup = self.sup
        if sup.in_intent == sv.SET_LIMIT:
            self._save_settings()
            self._preview()
        rec = self.recorder
        if rec is not None:
            rec.observe(now_ms, sup, self.program.name, self.driving)
            wc = rec.store.warn_count
            if wc != self._warn_count:  # a store problem: say so on the panel
                self._warn_count = wc
                if sup.alert is None and rec.store.warnings:
                    sup.alert = rec.store.warnings[-1]

    def _intent(self) -> None:
        """This tick's intent into the supervisor's inputs (in_intent, in_ch, in_arg): the panel's,
        else the oldest console request waiting."""
        pnl = self.panel
        sup = self.sup
        it = pnl.intent
        sup.in_ch = pnl.intent_channel
        sup.in_arg = 0
        sup.in_intent = sv.NONE
        if it == _panel.NONE:
            if self._q_len:
                self._dequeue()
        elif it == _panel.START_PAUSE:
            sup.in_intent = sv.START_PAUSE
            if sup.state == sv.READY:
                self._guard_start()  # the dose guard first: it may refuse or lower
        elif it == _panel.PLUS:
            sup.in_intent = sv.PLUS
        elif it == _panel.MINUS:
            sup.in_intent = sv.MINUS
        elif it == _panel.LIMIT_UP or it == _panel.LIMIT_DOWN:
            c = 0 if sup.in_ch == sv.ALL else sup.in_ch
            sup.in_intent = sv.SET_LIMIT
            sup.in_arg = sup.limit_ua[c] + (LIMIT_STEP_UA if it == _panel.LIMIT_UP else -LIMIT_STEP_UA)
        elif it == _panel.PROGRAM:
            self._next_program()
        elif it >= _panel.PROFILES:
            self._profile_gesture(it)

    # -- the dose guard (events only, never in a running tick) ----------------------------------
    def get_clients(self) -> "Any":
        """The profiles (stim.clients), loaded at their first use; the console and the guard share them."""
        if self.clients is None and self.load_clients is not None:
            load = self.load_clients
            self.load_clients = None
            self.clients = load()
        return self.clients

    def _load_guard(self) -> None:
        from stim import guardpanel  # noqa: PLC0415 - not at boot, see __init__
        from stim.guardshell import GuardShell, policy_key  # noqa: PLC0415

        self._gp = guardpanel

        g = GuardShell(self.n, self.recorder.store if self.recorder is not None else None, self.recorder)
        g.rtc = self.rtc
        g.load_clients = self.get_clients
        self.guard = g
        why = g.load()
        if why is not None:  # a bad policy file: the strictest policy, and why, on the panel
            self._alert = "bad policy: " + policy_key(why) + "; strictest used"
        self._preview()

    def _preview(self) -> None:
        """The guard's caps for the selected person and program, and its words on the panel."""
        g = self.guard
        if g is not None and (self.sup.state == sv.READY or self.sup.state == sv.SAFE):
            g.preview(self.sup, self.program, self._last_now)
            if not self.panel.selecting:
                self.panel.note = g.note

    def _state_changed(self) -> None:
        """After a session (its record and the person's history written) or at READY: a fresh preview."""
        st = self.sup.state
        if st == sv.READY or st == sv.SAFE:
            self._preview()

    def _guard_start(self) -> None:
        """START at READY: the guard decides (stim.guardpanel.start); a refusal stays in READY."""
        if self.guard is None:
            self._load_guard()
        self._gp.start(self)

    def _profile_gesture(self, it: int) -> None:
        """Profile selection, screening and the override (stim.guardpanel.gesture)."""
        if self.guard is None:
            self._load_guard()
        self._gp.gesture(self, it)

    def _dequeue(self) -> None:
        # Console intents take a tick the panel leaves free (a press is never lost), oldest first.
        sup = self.sup
        sup.in_intent = self._q_intent[0]
        sup.in_ch = self._q_ch[0]
        sup.in_arg = self._q_arg[0]
        n = self._q_len - 1
        for i in range(n):
            self._q_intent[i] = self._q_intent[i + 1]
            self._q_ch[i] = self._q_ch[i + 1]
            self._q_arg[i] = self._q_arg[i + 1]
        self._q_len = n
        self.requests_done += 1

    def _next_program(self) -> None:
        nxt = self.program_index + 1
        if nxt >= len(self.programs):
            nxt = 0
        if not self.select_program(nxt):
            self._alert = ALERT_PROGRAM_LOCKED

    def _apply(self) -> None:
        """Drive the outputs to the supervisor's decision.

        The slow part (DAC codes, preparing pulse trains to start) runs with IRQs enabled; only the
        commit that lets the outputs reach the pads runs with IRQs held back (stim.hal.outputs), and
        only if the kill path has not fired since the last tick. A kill landing before the commit is seen there and
        nothing goes live; one landing after it parks what the commit turned on. Either way the
        kill's pads stay parked, and the next tick acts on its edge (the kill path counts it).
        (Holding IRQs back over the whole of this used to make an edge wait up to 1.7 ms on
        silicon in the tick that arms four trains: picostim bench, silicon.masked_us_max.)
        """
        sup = self.sup
        running = sup.state == sv.RUNNING
        if not running:
            self.envelope = 0
            self._env_until = self._env_from  # nothing kept: a session (re)starts with a fresh one
        elif not self._env_from <= sup.session_ms < self._env_until:
            self._envelope(sup.session_ms)  # else the flat stretch's envelope still holds
        self._killed_now = False
        self._pumped = False
        if running and self.kill.count == self._kills_seen and self._go_live():
            return
        if self.kill.count != self._kills_seen:
            # The IRQ kill fired since the last tick (perhaps during the lines above): the pads are
            # GPIO low. This tick's decision is stale: everything off, and the next tick acts on the
            # edge. (This once compared the count after updating it, which never held, so a kill
            # landing mid-tick was undone by the same tick's outputs for up to 10 ms: found by
            # picostim.safetycheck, bench/safety.py's kill-latency runs.)
            self._kills_seen = self.kill.count
            self._killed_now = True
            self.outputs.forget_running()
        if self._killed_now or not self._all_off:
            # Once per stop (and after every kill): DAC codes 0 (also one written after a kill),
            # trains halted, pins parked. Nothing but a commit turns them on again, so idle ticks
            # do not repeat it (0.6 ms a tick on silicon).
            self.outputs.all_off()
            for c in range(self.n):
                self.out_ua[c] = 0
            self._all_off = True
        self.hw.output_enable.set(False)  # re-asserted every idle tick: one pin write
        self.driving = False

    def _envelope(self, t: int) -> None:
        """The envelope at session time t, and the stretch [t, _env_until) over which it stays so
        (stim.pulse.envelope_flat_until; asked only at a plateau or a rest, whose value is 1000 or 0)."""
        e = pulse.envelope_permille(self.program, t)
        self.envelope = e
        self._env_from = t
        self._env_until = pulse.envelope_flat_until(self.program, t) if e == 0 or e == 1000 else t + 1

    def _go_live(self) -> bool:
        """Every channel's level times the envelope prepared, then committed (IRQs held back, and only
        if no kill fired since the tick read its inputs). False if a kill fired: nothing went live."""
        self._all_off = False  # from here some output may be on
        driving = self.outputs.set_levels(self.sup.level_ua, self.envelope, self.out_ua)
        pump = self.hw.pump_mask if self.sup.pump else 0
        self.outputs.pump = pump  # an attribute, not an argument: commit's frame stays on the stack
        if self.outputs.commit(self.kill.fired, self._kills_seen):
            self.driving = driving
            if pump:
                self.hw.pump_level = not self.hw.pump_level  # the commit flipped the pin (SIO XOR)
                self._pumped = True
            return True
        return False

    def _panel_click(self) -> bool:
        """A panel gesture that changed a setting without an alert: channel, program, supervisor mode."""
        it = self.panel.intent
        return (it == _panel.CHANNEL or it == _panel.PROGRAM or it == _panel.SUPERVISOR_ON
                or it == _panel.SUPERVISOR_OFF)

    def _feedback(self, now_ms: int) -> None:
        """Status LED rhythm for the state, and one sound per event (docs in stim.feedback)."""
        sup = self.sup
        st = sup.state
        if (st != self._prev_state or sup.alert is not None or sup.key != self._prev_key
                or self.panel.intent != _panel.NONE):
            self._events(now_ms, st)  # else no event: none of _events' branches could act
        if st != self._led_state or ticks.diff(now_ms, self.led.next_ms) >= 0:
            self._led_state = st  # the rhythm asked only in a new state or at its next edge
            self._led(self.led.at(st, now_ms))
        bz = self.buzzer
        if bz.pattern:  # the buzzer's own set() skips a repeat too; this skips the call
            self.hw.buzzer.set(bz.on(now_ms))

    def _events(self, now_ms: int, st: int) -> None:
        """One sound per event: a fault, a session's end, an alert, the key, a panel click."""
        sup = self.sup
        bz = self.buzzer
        if st == sv.FAULT and self._prev_state != sv.FAULT:
            bz.play(fb.BEEP_FAULT, now_ms)
        elif self._prev_state == sv.RUNNING and st == sv.READY and sup.end_reason == sv.END_COMPLETED:
            bz.play(fb.BEEP_SESSION_END, now_ms)
        elif sup.alert is not None:
            bz.play(fb.BEEP_LIMIT if sup.alert == sv.ALERT_AT_CAP else fb.BEEP_REFUSED, now_ms)
        elif sup.key != self._prev_key or (self.panel.intent != _panel.NONE and self._panel_click()):
            bz.play(fb.BEEP_KEY, now_ms)
        if st != self._prev_state:
            self._state_changed()
        self._prev_state = st
        self._prev_key = sup.key

    def _led(self, lit: bool) -> None:
        if lit != self._led_lit:  # a pin write only when the rhythm changes it
            self._led_lit = lit
            self.hw.status_led.set(lit)
