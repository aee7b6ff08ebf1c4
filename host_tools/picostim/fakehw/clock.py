"""Virtual clock and event queue of the RP2040 model.

All model time is an integer count of nanoseconds since power-on. At the
model's fixed 125 MHz sysclk one CPU cycle is exactly 8 ns, so PWM edges land
on whole nanoseconds and nothing drifts. The board's 64-bit microsecond timer
is `boot_us + now_ns // 1000`; ticks_us and ticks_ms are its low 30 bits, as in
MicroPython's rp2 port, so a test can start the clock just before the wrap.

Runs unchanged on CPython and on the MicroPython unix port.
"""

import heapq

SYS_HZ = 125_000_000
NS_PER_CYCLE = 8  # 1e9 / SYS_HZ, exact
TICKS_PERIOD = 1 << 30  # MICROPY_PY_TIME_TICKS_PERIOD
TICKS_MAX = TICKS_PERIOD - 1
TICKS_HALFPERIOD = TICKS_PERIOD >> 1

# What one call into the model's machine/time API costs in virtual time. It is
# what makes a spinning loop that polls the hardware let time pass, so that the
# watchdog can fire on a hung main loop. 2 us is of the order of a MicroPython
# method call on a 125 MHz Cortex-M0+.
DEFAULT_CALL_COST_NS = 2_000

# Virtual time for the firmware's own Python on the safety paths, which the per-call cost above
# leaves out (issue 11 item 6: a model that keeps up with silicon). Calibrated against the silicon
# tier (picostim.silicon: MicroPython v1.28.0 on rp2040js), stim4 with its PWM DAC, in the session
# of issue 12, once the kill path and the tick's commit ran as Thumb code (stim.hal.native_io):
PYTHON_COST = {
    # Hard IRQ entry: from a key-out / e-stop edge to the kill handler's first register write
    # (MicroPython's IRQ dispatch and KillPath._irq up to the native park). Silicon: a minimal
    # hard handler writes 16-17 us after its edge; the kill path, edge to the last of its 16 pads
    # parked, median 25.4 us, max 32.8 us (200 edges across the tick, bench silicon.kill_*; the
    # spread is other IRQs, USB and the timer, served first, which the model leaves out).
    "irq_entry_ns": 19_000,
    # A register write inside a hard IRQ handler: the native park makes 16 in ~6 us (0.4 us each;
    # the model makes them through mem32, one call each). 19 + 16 x 0.4 = 25.4 us to the last pad.
    "irq_call_ns": 400,
    # The tick's IRQs-held-back section (stim.hal.outputs.ChannelOutputs.commit): on silicon one
    # Thumb routine between cpsid and cpsie, a few hundred ns even when it starts four channels;
    # the longest masked window the bench sees on silicon is MicroPython's own, 1.9 us. The model
    # makes the commit's writes through mem32 inside machine.disable_irq()/enable_irq(): a fixed
    # part plus a cost per write (up to 21: four channels, four DAC pads, output-enable).
    "masked_window_ns": 1_000,
    "masked_call_ns": 50,
    # The main loop's Python, each part charged as it is entered (fakehw.pycost; the runner's firmware
    # only). Silicon: the median of each part over 100 passes of a running session on stim4 (four
    # channels on, levels steady), timed on the emulated chip with time.ticks_us() around it, less
    # the timing's own 23 us (bench silicon.tick_part_us_*, picostim/bench/silicon_parts.py),
    # measured again after issue 12's work on the tick (fewer calls, the quiet step's memo, roomy
    # attribute tables) and on the console's and display's passes. The rest of the tick is the
    # tick stretch's median (silicon.tick_us_p50: 1.18 ms since the console and the display run
    # half a tick later, stim.app.run) less the other tick parts and the wake: the wrapped run's residual
    # (0.99 ms) also holds the cost of the wrappers themselves, which made the model's pass ~18 %
    # longer than silicon's. The bench prints the model's pass (tick.model_us_p50) beside it. What
    # the model charges anyway (2 us a hardware call, the display's I2C bus time) comes on top and
    # is small beside these.
    "tick_inputs_ns": 565_000,  # the rest of Controller.tick_unguarded: inputs, sense lines, watchdog, pump
    "tick_panel_ns": 34_000,  # stim.panel.Panel.step
    "tick_supervisor_ns": 127_000,  # stim.supervisor.Supervisor.advance
    "tick_apply_ns": 229_000,  # Controller._apply: channel levels and trains, up to its commit
    "tick_recorder_ns": 70_000,  # stim.recorder.Recorder.observe
    "tick_feedback_ns": 60_000,  # Controller._feedback: status LED and buzzer
    "tick_console_ns": 49_000,  # stim.console.Console.step_unguarded with nothing to read
    "tick_display_ns": 17_000,  # stim.hal.oled.Oled.service_unguarded on a pass that sends nothing
    # Each wake from a sleep (fakehw.vtime, the runner's firmware only): MicroPython's way back from
    # sleep_ms and stim.app.run's own Python up to the next part. Silicon: the console's and the
    # display's idle stretch is 145 us, of which their parts are 66 (silicon.tick_part_us_*).
    "wake_ns": 80_000,
    # What a steady tick does not run and a ramp or an intent does: the median of each call from a
    # session's start through a second of + held (silicon.ramp_part_us_*, bench/silicon_parts.py).
    # A running session's full step (now only at an intent or an input change): debounce 43 us,
    # stopping conditions 58, moves 264 (with the intent's work); the ramp 214; the self-check and
    # what follows it 129; a channel whose level moved 36 (its PWM DAC code, 23 us, included where
    # the code changed); the envelope off its flat stretches 68; the sense thresholds for new
    # levels 104.
    "step_full_ns": 365_000,
    "step_ramp_ns": 214_000,
    "step_finish_ns": 129_000,
    "level_set_ns": 36_000,
    "envelope_ns": 68_000,
    "sense_bounds_ns": 104_000,
}
NO_PYTHON_COST = {"irq_entry_ns": 0, "irq_call_ns": DEFAULT_CALL_COST_NS, "masked_window_ns": 0,
                  "masked_call_ns": DEFAULT_CALL_COST_NS, "tick_inputs_ns": 0, "tick_panel_ns": 0,
                  "tick_supervisor_ns": 0, "tick_apply_ns": 0, "tick_recorder_ns": 0, "tick_feedback_ns": 0,
                  "tick_console_ns": 0, "tick_display_ns": 0, "wake_ns": 0, "step_full_ns": 0,
                  "step_ramp_ns": 0, "step_finish_ns": 0, "level_set_ns": 0, "envelope_ns": 0,
                  "sense_bounds_ns": 0}


def _calibrated_from_env() -> bool:
    try:
        import os

        v = os.getenv("PICOSTIM_MODEL_COST")  # "0" / "none": the old model, no Python cost
    except (ImportError, AttributeError):
        v = None
    return v is None or v.lower() not in ("0", "none", "off", "uncalibrated")


# Whether a new Clock charges PYTHON_COST (True) or only DEFAULT_CALL_COST_NS per call (False, the
# model before issue 11 item 6). Set by PICOSTIM_MODEL_COST=0 in the environment, or assign it
# before building a chip (bench/safety.py does, for kill.latency_model_uncalibrated_us).
CALIBRATED = _calibrated_from_env()


def python_cost(calibrated: "bool | None" = None) -> "dict[str, int]":
    """The Python cost settings a new Clock uses (calibrated: default CALIBRATED)."""
    on = CALIBRATED if calibrated is None else calibrated
    return dict(PYTHON_COST if on else NO_PYTHON_COST)


class ModelSignal(BaseException):
    """Raised by the model to unwind firmware code: a reset or the end of a run.

    A BaseException, so that firmware's `except Exception` never swallows it,
    just as no firmware code can catch a real reset.
    """


class Reset(ModelSignal):
    """The chip reset (watchdog, power cut, machine.reset)."""

    def __init__(self, cause: int, reason: str) -> None:
        super().__init__(reason)
        self.cause = cause
        self.reason = reason


class StopRun(ModelSignal):
    """The harness ended the run (time limit reached, board removed)."""


def ticks_diff(a: int, b: int) -> int:
    """Signed difference a - b of two ticks values, as MicroPython computes it."""
    return ((a - b + TICKS_HALFPERIOD) & TICKS_MAX) - TICKS_HALFPERIOD


def ticks_add(t: int, delta: int) -> int:
    if delta <= -TICKS_HALFPERIOD or delta >= TICKS_HALFPERIOD:
        # Same check and message as MicroPython's extmod/modtime.c.
        raise OverflowError("ticks interval overflow")
    return (t + delta) & TICKS_MAX


class Clock:
    """Virtual time plus a queue of timed events, processed strictly in order."""

    def __init__(self, boot_us: int = 0, call_cost_ns: int = DEFAULT_CALL_COST_NS,
                 cost: "dict[str, int] | None" = None) -> None:
        if boot_us < 0:
            raise ValueError("boot_us must be >= 0")
        self.boot_us = boot_us
        self.call_cost_ns = call_cost_ns  # what a call costs now (more inside a masked window)
        self.base_call_cost_ns = call_cost_ns
        self.cost = python_cost() if cost is None else cost  # PYTHON_COST or NO_PYTHON_COST
        self._now = 0
        self._seq = 0
        self._queue: list[tuple[int, int, object]] = []
        self._depth = 0  # > 0 while an event callback runs: time moves, no dispatch
        # A runner may fence time: advancing past limit_ns first calls at_limit(),
        # which blocks until the limit moves (or raises StopRun). -1: no fence.
        self.limit_ns = -1
        self.at_limit: object = None
        # The firmware's sleeps as (start ns, end ns), while a list is put here (the bench's loop
        # timing: busy is what lies between them). None: not recorded.
        self.sleeps: list[tuple[int, int]] | None = None

    # -- reading -------------------------------------------------------------
    def now_ns(self) -> int:
        return self._now

    def time_us(self) -> int:
        """The 64-bit microsecond timer (time_us_64 in the pico-sdk)."""
        return self.boot_us + self._now // 1000

    def ticks_us(self) -> int:
        return self.time_us() & TICKS_MAX

    def ticks_ms(self) -> int:
        return (self.time_us() // 1000) & TICKS_MAX

    def ticks_cpu(self) -> int:
        return (self._now // NS_PER_CYCLE) & TICKS_MAX

    # -- events ----------------------------------------------------------------
    def schedule(self, at_ns: int, callback: object) -> None:
        """Call `callback(at_ns)` once virtual time reaches at_ns (never earlier)."""
        at_ns = max(at_ns, self._now)
        self._seq += 1
        heapq.heappush(self._queue, (at_ns, self._seq, callback))

    def next_event_ns(self) -> int:
        return self._queue[0][0] if self._queue else -1

    def advance_to(self, t_ns: int) -> None:
        """Move time forward to t_ns, running every event due on the way in order.

        Inside an event callback (an IRQ handler, say) time only moves: the
        pending events run once the callback has returned, at their own times.
        """
        if t_ns < self._now:
            return
        if self._depth:
            self._now = t_ns
            return
        while 0 <= self.limit_ns < t_ns:
            self._run_events(self.limit_ns)
            self.at_limit()  # type: ignore[operator]
        self._run_events(t_ns)

    def _run_events(self, t_ns: int) -> None:
        q = self._queue
        while q and q[0][0] <= t_ns:
            at, _seq, cb = heapq.heappop(q)
            self._now = max(self._now, at)
            self._depth += 1
            try:
                cb(at)  # type: ignore[operator]
            finally:
                self._depth -= 1
        self._now = max(self._now, t_ns)

    def advance(self, dt_ns: int) -> None:
        self.advance_to(self._now + dt_ns)

    def charge_call(self) -> None:
        """Account for one call into the hardware API (see DEFAULT_CALL_COST_NS)."""
        cost = self.call_cost_ns
        if cost:
            t = self._now + cost
            q = self._queue
            # Fast path (most calls): no event falls due and no fence is crossed, so the call
            # only moves time; advance_to would do exactly this, with more bookkeeping.
            if (self._depth or not q or q[0][0] > t) and not 0 <= self.limit_ns < t:
                self._now = t
                return
            self.advance_to(t)

    def in_event(self) -> bool:
        return self._depth > 0
