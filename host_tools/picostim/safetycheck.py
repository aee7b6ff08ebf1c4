"""The safety invariants of a PicoStim board, checked from the RP2040 model alone.

`SafetyChecker` watches one model chip. It reads only what a probe on the real
board could see, plus what the world did to it:

- the stim pins' levels and edges (Chip.level/edges), the output-enable pin;
- each channel's amplitude from the model: the PWM-DAC pin's pad (GPIO
  function and, in PWM function, the slice's latched compare value) or the
  MCP4728's output codes, times the board's calibration (ma_per_code);
- the inputs as the world drives them (key, e-stop, buttons: the external
  level of each pin, logged with its model time through Chip.drive), the
  chip's resets, and virtual time;
- what the board printed on its serial console (faults by name), and crashes.

It never reads the supervisor's, panel's or controller's variables. From the
world's inputs it keeps an upper bound on what the firmware may do, and
checks the model's outputs against it:

1. Stimulation needs permission. Any stim pin high, any non-zero amplitude or
   an active output-enable is a violation unless the board is *armed*: the
   start_pause button went down (a panel press; nothing else arms) while the
   key was present and the e-stop released, after every disarming event.
   Disarming events and how soon the outputs must be off after them:
   key removed, e-stop pressed (the hard-IRQ kill path: kill_latency_ns(board));
   a console "stop" line (once the console has read it: CONSOLE_STOP_NS after the
   lines ahead of it in the console's queue), an overcurrent on a sense line that
   lasts until a tick has read it (acted on by the next tick: TICK_LATENCY_NS);
   any chip reset (at once: the silicon resets the pins).
2. Latches. After an e-stop press, a watchdog reset or an overcurrent, a start
   press arms only once the key has been turned off after the event and is
   back in with the e-stop released.
3. Caps. While armed, each channel's amplitude stays at or below the board
   maximum, the channel maximum, the supervisor limit (lowered by a console
   "limits.set" line sent with the key in, CONSOLE_LIMIT_NS after the lines ahead
   of it; raised only with the key in, and by the
   panel's supervisor gesture at most to the channel maximum), the maximum of
   the program whose pulse shape (width, rate, channel in use) the pins show,
   and the RMS cap (50 mA RMS, IEC 60601-2-10) of that shape.
4. Ramp. While armed, amplitude <= ramp rate x (time since the arming press)
   + RAMP_SLACK_NS worth of ramp: every start begins at 0 and the level rises
   no faster than the board's ramp_ma_per_s. (The program's work/rest
   envelope scales the level down, never up, so it only helps.)
5. Hang. After the main loop is hung (note_hang), the watchdog resets the chip
   within the timeout the firmware gave it (at most WDT_MAX_MS while a session
   may drive, WDT_IDLE_MAX_MS with every output off); if it does
   not, every output must be off from then on.
6. Health. No uncaught exception, no exception in an IRQ handler, no FAULT
   "internal error" (the firmware caught itself in an inconsistent state), no
   watchdog reset without a hung loop, no overcurrent fault without a
   short on that channel's sense line, no open electrode driven above 10 mA for
   more than OPEN_HOLD_NS, and after a watchdog reset the first status line
   is FAULT "watchdog reset" (or MAINTENANCE: the escape, which runs nothing).
7. Pump. On a board with a charge pump (dynamic enable), it toggles only while
   armed, or within TICK_LATENCY_NS of the disarming point (the tick that acts
   on the stop). Its effect is modelled too: without a toggle for the board
   file's hold_ms the output stage has no supply, and rule 1 counts its
   outputs as off.

`Rig` runs the real firmware (boot.py, main.py) on the model through
fakehw.runner.BoardRunner with a World and a checker, and gives tests and
the bench one vocabulary of actions (key, e-stop, button gestures, console
requests, sense, wire cuts, switches inside a tick, hangs, resets, time) with
a check after each; MENU and act() are the menu both draw from.
"""

import atexit
import bisect
import heapq
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from picostim.boardcheck import _use_firmware
from picostim.fakehw import chip as _chip
from picostim.fakehw import clock as _clk
from picostim.fakehw import micropython_shim
from picostim.fakehw.chip import PWRON_RESET, WDT_REASON_TIMER, WDT_RESET, Chip
from picostim.fakehw.clock import Clock
from picostim.fakehw.mcp4728 import Mcp4728
from picostim.fakehw.probe import pulses
from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World

_use_firmware()
sys.modules.setdefault("micropython", micropython_shim)  # CPython: const() for the firmware's modules
from stim import board as _board  # noqa: E402 - firmware/ is importable only after _use_firmware()
from stim import programs as _programs  # noqa: E402

MS = 1_000_000
TICK_NS = 10 * MS  # the controller's tick (stim.controller.TICK_MS)
# Key removed / e-stop pressed -> output-enable off, every stim pin and PWM-DAC pin low, the charge
# pump stopped. The hard IRQ runs the kill path at once (on the board as Thumb code:
# stim.hal.native_io.park) unless the tick is in its commit, the only section that holds IRQs back
# (a few hundred ns on the board: stim.hal.native_io.commit).
# KILL_LATENCY_DOC_NS is docs/safety.md's bound (issue 12: 100 us). The model meets it with and
# without the Python cost calibrated against silicon (fakehw.clock.PYTHON_COST): calibrated, the
# IRQ entry is 19 us and the 16 writes 6.4 us (silicon: median 25 us, max 33 us); uncalibrated,
# 2 us a call, the commit's up to 21 writes and the kill's 16 take ~75 us at worst.
KILL_LATENCY_DOC_NS = 100_000
MASKED_CALLS_MAX = 21  # writes in the longest commit: four channels (4 each), four DAC pads, OE


def kill_latency_bound_ns(cost: "dict[str, int] | None" = None) -> int:
    """The kill latency the model must meet: docs/safety.md's bound, calibrated or not. (Before issue
    12 the calibrated model needed the Python cost of a ~1.1 ms held-back section added.) Raises if
    the cost settings could not meet it: the IRQ entry, the longest commit and the kill's writes."""
    c = _clk.python_cost() if cost is None else cost
    worst = (c["masked_window_ns"] + MASKED_CALLS_MAX * c["masked_call_ns"] + c["irq_entry_ns"]
             + KILL_WRITES_MAX * c.get("irq_call_ns", _clk.DEFAULT_CALL_COST_NS))
    if worst > KILL_LATENCY_DOC_NS:
        raise ValueError("the model's cost settings give a kill latency of up to %d ns, above the documented"
                         " %d ns" % (worst, KILL_LATENCY_DOC_NS))
    return KILL_LATENCY_DOC_NS


KILL_WRITES_MAX = 20  # the kill path's register writes on the largest board: OE, 3 SIO, 16 pads
KILL_LATENCY_NS = kill_latency_bound_ns()
# With an I2C DAC (MCP4728) the kill path leaves the codes to thread context (micropython.schedule,
# then the next tick): the IRQ never touches the I2C bus, which the OLED may be using. The stim pins
# and output-enable are off within KILL_LATENCY_NS; the codes must be 0 within EXT_DAC_ZERO_NS
# (issue 12: 2 ms), which covers a display transfer in progress (one 16-byte chunk, ~0.45 ms at
# 400 kHz) and the MCP4728's Fast Write.
EXT_DAC_ZERO_NS = 2_000_000

# A decision taken by the tick (sense overcurrent): the reading is seen at the next tick (at most
# one period away) and acted on within it; one more period covers a late tick.
TICK_LATENCY_NS = 2 * TICK_NS
# Console lines (JSON over the USB serial, stim.console) are served one at a time, in order, once per
# loop pass after the tick. A line at the head of the queue is read within CONSOLE_READ_NS: the next
# pass (one period), a second 64-byte read if the line straddles two (one more), a status line still
# being written that holds reading back (one more), and a late tick (one more).
CONSOLE_READ_NS = 4 * TICK_NS
# "stop" acts as it is read (Controller.request runs the supervisor's STOP at once).
CONSOLE_STOP_NS = CONSOLE_READ_NS
# "limits.set" is read, then applied at the next tick the panel leaves free (one period, one more
# for a panel intent that takes that tick, one for a late tick); its reply goes out at the pass after,
# and only then is the next line read (one more period).
CONSOLE_LIMIT_NS = CONSOLE_READ_NS + 3 * TICK_NS
CONSOLE_LIMIT_DONE_NS = CONSOLE_LIMIT_NS + TICK_NS
# stim.console takes limits.set only with the supervisor key in; the supervisor calls the key in once
# it has been stable 50 ms (stim.supervisor.ENABLE_STABLE_MS) at a tick: a line sent sooner after the
# key went in may be refused, so the checker lowers its bound only for lines sent later than this.
KEY_SETTLED_NS = 50 * MS + 2 * TICK_NS
# After a reset the console serves nothing until main.py's loop runs: boot.py, the board checks and
# the first tick. Measured in the model, reset to the reply of a line sent at the reset: 37 ms at
# most (stim4 with an MCP4728; 10.5 ms on pico_bench). Lines sent before the reset are lost with
# the USB buffers; lines sent during the boot wait for it.
CONSOLE_BOOT_NS = 100 * MS
# Ramp slack: ticks_ms truncates, so the tick's dt can read up to 1 ms more than the time that
# passed since the session's first tick; 2 ms of ramp covers it.
RAMP_SLACK_NS = 2 * MS
# An external DAC (MCP4728) is not reset with the RP2040: it keeps its code until the firmware's
# boot writes it (stim.hal.dac.Mcp4728Dac zeroes all four outputs: measured 0.4 ms after the reset).
# Meanwhile the stim pins and output-enable are in their reset state (off), so no current flows.
EXT_DAC_BOOT_NS = 5 * MS
# The panel acts on a press once it has been stable 30 ms of ticks_ms (stim.panel.DEBOUNCE_MS), at
# the first tick after that: within PANEL_ACT_NS of the press. ticks_ms truncates, so 30 ms of ticks
# can be as little as 29 ms and a bit of time: PANEL_DEBOUNCE_NS is the earliest it can act.
PANEL_DEBOUNCE_NS = 29 * MS
PANEL_ACT_NS = PANEL_DEBOUNCE_NS + 2 * TICK_NS
WDT_MAX_MS = 500  # while a session may drive: "a few tick periods, up to a few hundred ms" (issue 4)
# With every output off the watchdog may wait longer: a flash erase holds the CPU up to 400 ms
# (W25Q16JV tSE max) and a littlefs commit may erase twice (issue 12: timeout by state).
WDT_IDLE_MAX_MS = 3000
WDT_SLACK_NS = 1 * MS
SHAPE_LOOKBACK_NS = 600 * MS  # longer than the slowest program's pulse period (4 Hz) and a burst (2 Hz)
RMS_LIMIT_UA = 50_000
RMS_TOLERANCE = 1.01
WIDTH_TOLERANCE_NS = 1_500
FREQ_TOLERANCE = 0.02
OVERCURRENT_MARGIN_UA = 10_000  # a sensed current this far above the channel maximum is an overcurrent
OPEN_ELECTRODE_UA = 10_000
OPEN_HOLD_NS = 6 * TICK_NS  # the firmware needs 3 ticks of no current; twice that, then it must have acted

CONNECTED = "connected"  # the sense line reads what the channel drives
OPEN = "open"  # electrode off the skin: no current
SHORT = "short"  # far more current than the channel may drive

STOP = "STOP"  # console line {"cmd": "stop"}
SET_LIMIT = "SET_LIMIT"  # console line {"cmd": "limits.set", "ch": 1..n, "ua": ...}


def kill_latency_ns(board: "_board.Board") -> int:
    """How soon after a key-out or e-stop edge every stim pin and output-enable must be off (an I2C
    DAC's codes may take EXT_DAC_ZERO_NS)."""
    return KILL_LATENCY_NS


def channel_max_ua(board: "_board.Board", c: int) -> int:
    """The most channel c may ever drive: its own maximum within the board's. Worked out here from
    the board file, not with the firmware's stim.pulse.channel_max_ua: the checker is its own oracle."""
    return min(round(board.channels[c].max_ma * 1000), round(board.limits.board_max_ma * 1000))


class Violation:
    __slots__ = ("kind", "t_ns", "text")

    def __init__(self, t_ns: int, kind: str, text: str) -> None:
        self.t_ns = t_ns
        self.kind = kind
        self.text = text

    def __repr__(self) -> str:
        return "%.6f s [%s] %s" % (self.t_ns / 1e9, self.kind, self.text)


def amplitude_ua(chip: Chip, board: "_board.Board", ch: int, t0: int, t1: int) -> "list[tuple[int, int, int]]":
    """Channel ch's amplitude over [t0, t1) from the model: (start, end, uA) pieces, in order."""
    amp = board.amplitude
    npc = round(amp.ma_per_code * 1_000_000)  # nA per code
    out: list[tuple[int, int, int]] = []
    if amp.driver == "mcp4728":
        if amp.bus is None or amp.address is None:
            return [(t0, t1, 0)]
        dev = chip.i2c_devices.get((board.i2c[amp.bus].id, amp.address))
        idx = board.channels[ch].amp
        if dev is None:
            return [(t0, t1, 0)]
        hist = dev.history
        k = max(bisect.bisect_right(hist, t0, key=lambda h: h[0]) - 1, 0)
        while k < len(hist) and hist[k][0] < t1:
            s = max(hist[k][0], t0)
            e = min(hist[k + 1][0], t1) if k + 1 < len(hist) else t1
            if s < e:
                out.append((s, e, hist[k][1][idx] * npc // 1000))
            k += 1
        return _merge(out) or [(t0, t1, 0)]
    pin = board.channels[ch].amp_pin
    if pin is None:
        return [(t0, t1, 0)]
    full = (amp.code_max + 1) * npc // 1000
    hist = chip.gpio[pin].history
    k = max(bisect.bisect_right(hist, t0, key=lambda h: h[0]) - 1, 0)
    while k < len(hist) and hist[k][0] < t1:
        s = max(hist[k][0], t0)
        e = min(hist[k + 1][0], t1) if k + 1 < len(hist) else t1
        kind, level = hist[k][1], hist[k][2]
        k += 1
        if s >= e:
            continue
        if kind != _chip._PWM:
            out.append((s, e, full if level else 0))
            continue
        sl = chip.pwm.slices[(pin >> 1) & 7]
        j = max(sl.index(s), 0)
        n = sl.count()
        while j < n:
            g = sl.get(j)
            if g.t0 >= e:
                break
            gs = max(g.t0, s)
            ge = min(sl.end_ns(j, e), e)
            j += 1
            if gs < ge:
                out.append((gs, ge, _high_counts(g, pin) * npc // 1000))
    return _merge(out) or [(t0, t1, 0)]


def _high_counts(g: Any, pin: int) -> int:
    """Counts per PWM period that GPIO pin is high in slice segment g: the filtered DAC's code."""
    k1: int = g.top + 1
    inv = g.inv_b if pin & 1 else g.inv_a
    if g.run:
        cc: int = g.cc_b if pin & 1 else g.cc_a
        counts = cc if cc < k1 else k1
        return k1 - counts if inv else counts
    return k1 if (g.hold_b if pin & 1 else g.hold_a) ^ inv else 0


def amplitude_now_ua(chip: Chip, board: "_board.Board", ch: int) -> int:
    """Channel ch's amplitude now: amplitude_ua() at one instant, without walking any history."""
    amp = board.amplitude
    pin = board.channels[ch].amp_pin
    if amp.driver == "mcp4728" or pin is None:
        now = chip.clock.now_ns()
        return amplitude_ua(chip, board, ch, now, now + 1)[-1][2]
    npc = round(amp.ma_per_code * 1_000_000)
    _t, kind, level = chip.gpio[pin].history[-1]  # what drives the pad now
    if kind != _chip._PWM:
        return (amp.code_max + 1) * npc // 1000 if level else 0
    sl = chip.pwm.slices[(pin >> 1) & 7]
    return _high_counts(sl.get(max(sl.index(chip.clock.now_ns()), 0)), pin) * npc // 1000


def _merge(pieces: "list[tuple[int, int, int]]") -> "list[tuple[int, int, int]]":
    out: list[tuple[int, int, int]] = []
    for p in pieces:
        if out and out[-1][2] == p[2] and out[-1][1] == p[0]:
            out[-1] = (out[-1][0], p[1], p[2])
        else:
            out.append(p)
    return out


def rms_cap_ua(width_ns: float, period_ns: float) -> float:
    """Largest peak current of symmetric biphasic pulses (each phase width_ns, one pair per period_ns)
    whose RMS, I * sqrt(2 w / T), stays within 50 mA."""
    return float(RMS_LIMIT_UA * (period_ns / (2.0 * width_ns)) ** 0.5)


class Shape:
    """A channel's pulse train as the pins show it: widest complete B phase and median pair period."""

    def __init__(self, width_ns: int, period_ns: int, count: int) -> None:
        self.width_ns = width_ns
        self.period_ns = period_ns  # 0: fewer than two pulses seen
        self.count = count


class SafetyChecker:
    """Checks one chip's outputs against what the world allowed (see the module docstring)."""

    def __init__(
        self,
        chip: Chip,
        board: "_board.Board",
        programs: "Optional[Sequence[Any]]" = None,
        console: "Optional[list[str]]" = None,
        crashes: "Optional[list[str]]" = None,
        reset_ns: int = -EXT_DAC_BOOT_NS,
    ) -> None:
        self.chip = chip
        self.board = board
        n = len(board.channels)
        self.n = n
        self.programs = list(programs) if programs is not None else list(_programs.builtins(n))
        self.console = console
        self.crashes = crashes
        now = chip.clock.now_ns()
        self.t_checked = now
        self.violations: list[Violation] = []
        self.checks = 0
        ins = board.inputs
        self._key = (ins.key.pin, ins.key.active_level)
        self._estop = (ins.estop.pin, ins.estop.active_level)
        self._buttons = {name: (spec.pin, spec.active_level) for name, spec in ins.buttons.items()}
        self._watch = {ins.key.pin, ins.estop.pin} | {p for p, _a in self._buttons.values()}
        self._stim = [(c.pulse_a, c.pulse_b) for c in board.channels]
        oe = board.outputs.output_enable
        self._oe = (oe.pin, oe.active_level)
        pump = board.outputs.charge_pump
        # (pin, hold in ns): the stage has supply only within hold of the pump's last toggle
        self._pump: Optional[tuple[int, int]] = None
        if pump is not None and pump.hold_ms is not None:
            self._pump = (pump.pin, pump.hold_ms * MS)
        self._board_max = round(board.limits.board_max_ma * 1000)
        self._ch_max = [channel_max_ua(board, c) for c in range(n)]
        self._rate = round(board.limits.ramp_ma_per_s * 1000)  # uA/s
        # World state, as of t_checked (events after it wait in _events).
        self.key = self._ext(self._key)
        self._key_since = now if self.key else -1  # when the key last went in (-1: out)
        self.estop_released = self._ext(self._estop)
        self.down = {name: self._ext(v) for name, v in self._buttons.items()}
        self._down_since = {name: now for name in self._buttons}
        # What the firmware may do.
        self.armed = False
        self.arm_ns = 0
        self.off_from = now
        self.off_why = "no start press yet"
        self.latched: Optional[str] = None  # why a key cycle is needed before arming
        self._key_off_since_latch = False
        self.limit_ua = list(self._ch_max)
        self._limit_gen = [0] * n
        self._sup_mode_possible = False
        self.sense_mode = [CONNECTED] * n
        self._sense_gen = [0] * n
        self._shorted: set[int] = set()
        self._open_hi_since = [-1] * n
        self._hang_ns = -1
        self._hang_deadline_ns = -1
        self._hang_id = 0
        self._console_free_ns = max(now, reset_ns + CONSOLE_BOOT_NS)  # when every line sent so far is served
        self.console_lines = 0
        self._external_dac = board.amplitude.driver == "mcp4728"
        self._kill_ns = kill_latency_ns(board)
        self._reset_ns = reset_ns  # the chip's last reset (for an external DAC's boot window)
        self.stats: dict[str, int] = {"kills": 0, "sessions_armed": 0}  # sessions cut short, start presses that armed
        self._events: list[tuple[int, int, str, Any]] = []
        self._seq = 0
        self._n_resets = len(chip.resets)
        self._n_console = len(console) if console is not None else 0
        self._n_crashes = len(crashes) if crashes is not None else 0
        self._n_irq_errors = len(chip.irq_errors)
        self._boots: list[tuple[int, bool]] = []  # (console index at boot, after a watchdog expiry)
        self._cap_fast = self._fast_caps()
        self._orig_drive = chip.drive
        setattr(chip, "drive", self._drive)  # noqa: B010 - hook the instance: every input change, timed

    def close(self) -> None:
        if getattr(self.chip, "drive", None) == self._drive:
            delattr(self.chip, "drive")

    # -- what the world does ---------------------------------------------------------------
    def _ext(self, pin_level: "tuple[int, int]") -> bool:
        return self.chip.gpio[pin_level[0]].external == pin_level[1]

    def _drive(self, n: int, level: "Optional[int]") -> None:
        self._orig_drive(n, level)
        if n in self._watch:  # the level with its time: by the check, the world may have moved on
            self._push(self.chip.clock.now_ns(), "pin", (n, self.chip.gpio[n].external))

    def _push(self, t: int, kind: str, data: Any) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t, self._seq, kind, data))

    def note_console(self, intent: str, ch: int = -1, ua: int = 0) -> None:
        """The host has just sent the console one line: "stop" (STOP) or "limits.set" (SET_LIMIT) of
        channel ch (0-based) to ua."""
        if intent == SET_LIMIT and not 0 <= ch < self.n:
            raise ValueError("limits.set names one channel, 0..%d; got %d" % (self.n - 1, ch))
        self._push(self.chip.clock.now_ns(), "console", (intent, ch, ua))

    def note_hang(self) -> None:
        """The main loop hangs from now on (until a reset): called when the loop really stops."""
        self._push(self.chip.clock.now_ns(), "hang", self.chip.wdt_timeout_ms)  # the timeout at the hang

    def note_sense(self, ch: int, mode: str, sensed_ua: int = 0) -> None:
        """Channel ch's electrode is now CONNECTED, OPEN or SHORT (reading sensed_ua)."""
        self._push(self.chip.clock.now_ns(), "sense", (ch, mode, sensed_ua))

    def note_boot(self, console_index: int, expired: bool) -> None:
        """The firmware boots now; its status lines start at console_index; expired: the watchdog ran
        out (REASON TIMER), so the first status must be FAULT "watchdog reset"."""
        self._boots.append((console_index, expired))

    # -- checking ----------------------------------------------------------------------------
    def check(self) -> "list[Violation]":
        """Check everything from the last check until now; return the new violations."""
        t1 = self.chip.clock.now_ns()
        before = len(self.violations)
        self.checks += 1
        for t, cause, reason, wdt_reason in self.chip.resets[self._n_resets:]:
            self._push(t, "reset", (cause, reason, wdt_reason))
        self._n_resets = len(self.chip.resets)
        heapq.heapify(self._events)
        a = self.t_checked
        while self._events and self._events[0][0] < t1:
            t, _seq, kind, data = heapq.heappop(self._events)
            t = max(t, a)
            self._interval(a, t)
            a = t
            self._apply(t, kind, data)
        self._interval(a, t1)
        self.t_checked = t1
        self._health(t1)
        return self.violations[before:]

    def _fail(self, t: int, kind: str, text: str) -> None:
        self.violations.append(Violation(t, kind, text))

    # -- events ----------------------------------------------------------------------------------
    def _disarm(self, t: int, latency: int, why: str, latch: Optional[str] = None) -> None:
        if latency >= TICK_LATENCY_NS and self._hang_ns >= 0:
            # The tick would act, but the loop is hung: the watchdog's reset turns the outputs off.
            latency = max(latency, self._hang_deadline_ns - t)
        if self.armed or self.off_from > t + latency:
            self.off_from = t + latency
            self.off_why = why
        if self.armed:
            self.stats["kills"] += 1
        self.armed = False
        if latch is not None:
            self.latched = latch
            self._key_off_since_latch = not self.key

    def _apply(self, t: int, kind: str, data: Any) -> None:
        if kind == "pin":
            self._pin(t, data[0], data[1])
        elif kind == "reset":
            self._reset(t, data[0], data[1], data[2])
        elif kind == "console":
            intent, ch, ua = data
            self.console_lines += 1
            # The console serves its lines in order: this one starts when the ones ahead are done.
            start = max(t, self._console_free_ns)
            if intent == STOP:
                self._console_free_ns = start + CONSOLE_STOP_NS
                self._disarm(t, start + CONSOLE_STOP_NS - t, "console stop")
                p = self._down_since["start_pause"]
                if self.down["start_pause"] and p > t - PANEL_ACT_NS:
                    # The panel may act on this press only after the STOP (it debounces): a new start.
                    self._push(max(t, p + PANEL_DEBOUNCE_NS), "late-start", p)
            elif intent == SET_LIMIT:
                self._console_free_ns = start + CONSOLE_LIMIT_DONE_NS
                self._set_limit(t, ch, ua, start + CONSOLE_LIMIT_NS)
        elif kind == "late-start":
            if self.down["start_pause"] and self._down_since["start_pause"] == data:
                self._press(t, "start_pause")
        elif kind == "limit":
            ch, ua, gen = data
            if gen == self._limit_gen[ch] and ua < self.limit_ua[ch]:
                self.limit_ua[ch] = ua
        elif kind == "hang":
            self._hang_ns = t
            self._hang_id += 1
            timeout = data
            if timeout > WDT_IDLE_MAX_MS:
                self._fail(t, "watchdog", "watchdog timeout %d ms exceeds %d ms" % (timeout, WDT_IDLE_MAX_MS))
            elif timeout > WDT_MAX_MS and self.armed:
                # A session may be about to start and the loop still has its idle timeout: it hung
                # before the tick that shortens the watchdog, which comes before anything goes live
                # (stim.controller), so no output may be on from the hang.
                self._disarm(t, 0, "hung before the session's short watchdog")
            if timeout <= 0:
                self._fail(t, "watchdog", "the main loop hung with no watchdog running")
                timeout = WDT_MAX_MS
            deadline = t + timeout * MS + WDT_SLACK_NS
            self._hang_deadline_ns = deadline
            self._push(deadline, "hang-deadline", (self._hang_id, timeout))
            # A hung loop serves nothing: a console STOP or an overcurrent it was to act on waits for
            # the watchdog's reset, and a console limit it was to apply is lost.
            if not self.armed and self.off_from > t + self._kill_ns:
                self.off_from = max(self.off_from, deadline)
            for c in range(self.n):
                self._limit_gen[c] += 1
        elif kind == "sense":
            ch, mode, sensed = data
            self.sense_mode[ch] = mode
            self._sense_gen[ch] += 1
            self._open_hi_since[ch] = -1
            if mode == SHORT:
                self._shorted.add(ch)
                if sensed > self._ch_max[ch] + OVERCURRENT_MARGIN_UA:
                    # The sense line is sampled once a tick: a short must last until the next tick
                    # has read it; then that tick cuts the outputs and latches.
                    self._push(t + TICK_LATENCY_NS, "short", (ch, self._sense_gen[ch], t))
        elif kind == "short":
            ch, gen, since = data
            if gen == self._sense_gen[ch]:
                self._disarm(since, TICK_LATENCY_NS, "overcurrent on " + self.board.channels[ch].name,
                             latch="overcurrent")
        elif kind == "hang-deadline":
            hang_id, timeout = data
            if hang_id == self._hang_id and self._hang_ns >= 0:
                # The hang outlived the watchdog: from now on nothing may stimulate.
                self._fail(t, "watchdog", "the main loop hung at %.6f s and no watchdog reset came within %d ms"
                           % (self._hang_ns / 1e9, timeout))
                self._hang_ns = -1
                self._disarm(t, 0, "hung loop not reset by the watchdog", latch="hung loop")

    def _pin(self, t: int, n: int, ext: "Optional[int]") -> None:
        if n == self._key[0]:
            present = ext == self._key[1]
            if present == self.key:
                return
            self.key = present
            self._key_since = t if present else -1
            if not present:
                self._sup_mode_possible = False
                self._disarm(t, self._kill_ns, "key removed")
                self._key_off_since_latch = True
            return
        if n == self._estop[0]:
            released = ext == self._estop[1]
            if released == self.estop_released:
                return
            self.estop_released = released
            if not released:
                self._disarm(t, self._kill_ns, "e-stop pressed", latch="e-stop")
            return
        for name, pl in self._buttons.items():
            if pl[0] != n:
                continue
            down = ext == pl[1]
            was = self.down[name]
            self.down[name] = down
            if down and not was:
                self._down_since[name] = t
                self._press(t, name)
            elif was and not down and name == "channel" and self.key:
                if t - self._down_since[name] >= 1900 * MS:  # the panel's supervisor gesture: 2 s
                    self._sup_mode_possible = True

    def _press(self, t: int, name: str) -> None:
        if name == "start_pause":
            if self.latched is not None and self._key_off_since_latch and self.key and self.estop_released:
                self.latched = None
            if self.key and self.estop_released and self.latched is None and not self.armed:
                self.armed = True
                if self.off_from <= t:
                    self.arm_ns = t
                # else: the last stop has not acted yet, so the outputs may still be the last
                # session's: the ramp keeps counting from that session's start press.
                self.stats["sessions_armed"] += 1
        elif name == "plus" and self.key and (self._sup_mode_possible or self._channel_held_long(t)):
            # Supervisor mode may be on: + may raise a limit, up to the channel maximum.
            for c in range(self.n):
                self._limit_gen[c] += 1
                self.limit_ua[c] = self._ch_max[c]

    def _channel_held_long(self, t: int) -> bool:
        return self.down["channel"] and t - self._down_since["channel"] >= 1900 * MS

    def _set_limit(self, t: int, c: int, ua: int, due: int) -> None:
        """A limits.set line sent at t; if the firmware takes it, it applies by `due` at the latest."""
        new = max(0, min(ua, self._ch_max[c]))
        self._limit_gen[c] += 1
        if self._hang_ns >= 0 or not self.key:
            return  # a hung loop never applies it (its reset loses it); without the key it is refused
        if new < self.limit_ua[c]:
            if t - self._key_since >= KEY_SETTLED_NS:  # sooner, the firmware may refuse it: no bound
                self._push(due, "limit", (c, new, self._limit_gen[c]))
        else:
            self.limit_ua[c] = new  # a raise may apply at once

    def _reset(self, t: int, cause: int, reason: str, wdt_reason: int) -> None:
        self._reset_ns = t
        # Only an expiry of the watchdog (REASON TIMER) is a fault; machine.reset() and the UF2 reboot
        # go through the watchdog too (REASON FORCE) and boot as after power-on, with RAM kept.
        latch = "watchdog reset" if cause == WDT_RESET and wdt_reason & WDT_REASON_TIMER else None
        self._disarm(t, 0, "chip reset (" + reason + ")", latch=latch)
        if cause == PWRON_RESET or latch is None:
            self.latched = None  # a boot that is no expiry starts in SAFE, whatever was latched
        self._sup_mode_possible = False
        # Console lines not yet served are lost with the USB buffers; the next ones wait for the boot.
        self._console_free_ns = t + CONSOLE_BOOT_NS
        for c in range(self.n):
            # The firmware boots with the limits it saved; one lowered since its last save is gone.
            self._limit_gen[c] += 1
            self.limit_ua[c] = self._ch_max[c]
            self._open_hi_since[c] = -1
        if reason == "watchdog timeout" and self._hang_ns < 0:
            self._fail(t, "health", "watchdog reset without a hung loop")
        self._hang_ns = -1  # a reset ends any hang

    # -- outputs --------------------------------------------------------------------------------
    def _interval(self, a: int, b: int) -> None:
        if b <= a:
            return
        if not self.armed:
            f = max(a, self.off_from)
            if f < b:
                for x, y in self._powered(f, b):
                    self._check_off(x, y)
            if self._pump is not None:
                g = max(a, self.off_from + TICK_LATENCY_NS)
                edge = next((t for t, _v in self.chip.edges(self._pump[0], g, b)), -1) if g < b else -1
                if edge >= 0:
                    self._fail(edge, "pump", "the charge pump toggles: outputs must be off (" + self.off_why + ")")
            return
        self._check_on(a, b)

    def _powered(self, f: int, b: int) -> "list[tuple[int, int]]":
        """The parts of [f, b) in which the output stage has supply: all of it without a charge pump;
        with one, within hold of a toggle (its reservoir runs dry after that)."""
        if self._pump is None:
            return [(f, b)]
        pin, hold = self._pump
        out: list[tuple[int, int]] = []
        for t, _v in self.chip.edges(pin, f - hold, b):
            x, y = max(t, f), min(t + hold, b)
            if x >= y:
                continue
            if out and x <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], y))
            else:
                out.append((x, y))
        return out

    def _check_off(self, f: int, b: int) -> None:
        chip = self.chip
        why = "outputs must be off (" + self.off_why + ")"
        for c in range(self.n):
            for p in self._stim[c]:
                if chip.level(p, f):
                    self._fail(f, "output", "GPIO %d (%s) high: %s" % (p, self.board.channels[c].name, why))
                    return
                rise = next((t for t, v in chip.edges(p, f, b) if v), -1)
                if rise >= 0:
                    self._fail(rise, "output", "GPIO %d (%s) pulses: %s" % (p, self.board.channels[c].name, why))
                    return
            fa = f
            if self._external_dac:
                fa = f + EXT_DAC_ZERO_NS - self._kill_ns  # the codes go to 0 from thread context
            if self._external_dac and fa < self._reset_ns + EXT_DAC_BOOT_NS:
                fa = self._reset_ns + EXT_DAC_BOOT_NS  # still the code from before the reset (see above)
            for s, _e, ua in amplitude_ua(chip, self.board, c, fa, b) if fa < b else ():
                if ua:
                    self._fail(s, "output", "%s amplitude %d uA: %s" % (self.board.channels[c].name, ua, why))
                    return
        pin, active = self._oe
        if chip.level(pin, f) == active or any(v == active for _t, v in chip.edges(pin, f, b)):
            self._fail(f, "output", "output-enable active: " + why)

    def _check_on(self, a: int, b: int) -> None:
        for c in range(self.n):
            shape: Optional[Shape] = None
            shape_done = False
            for s, e, ua in amplitude_ua(self.chip, self.board, c, a, b):
                self._open_electrode(c, s, e, ua)
                if not ua:
                    continue
                name = self.board.channels[c].name
                cap = min(self._ch_max[c], self.limit_ua[c])
                if ua > cap:
                    self._fail(s, "cap", "%s at %d uA above its cap %d uA (board/channel max %d, supervisor limit %d)"
                               % (name, ua, cap, self._ch_max[c], self.limit_ua[c]))
                    return
                ceiling = self._rate * (s - self.arm_ns) // 1_000_000_000 + self._rate * RAMP_SLACK_NS // 1_000_000_000
                if ua > ceiling + 1:
                    self._fail(s, "ramp", "%s at %d uA %.1f ms after the start press: more than the ramp allows (%d uA)"
                               % (name, ua, (s - self.arm_ns) / 1e6, ceiling))
                    return
                if ua <= self._cap_fast[c]:
                    continue
                if not shape_done:
                    shape = self._shape(c, max(a - SHAPE_LOOKBACK_NS, self.arm_ns), b)
                    shape_done = True
                if shape is not None and not self._shape_ok(c, s, ua, shape):
                    return

    def _open_electrode(self, c: int, s: int, e: int, ua: int) -> None:
        if self.sense_mode[c] != OPEN or self.board.channels[c].sense_adc is None:
            return
        code_ua = round(self.board.amplitude.ma_per_code * 1000)
        if ua > OPEN_ELECTRODE_UA + code_ua:
            if self._open_hi_since[c] < 0:
                self._open_hi_since[c] = s
            if e - self._open_hi_since[c] > OPEN_HOLD_NS:
                self._fail(self._open_hi_since[c] + OPEN_HOLD_NS, "sense",
                           "%s driven at %d uA into an open electrode for more than %d ms"
                           % (self.board.channels[c].name, ua, OPEN_HOLD_NS // MS))
                self._open_hi_since[c] = -1 - e  # report once per stretch
        elif self._open_hi_since[c] >= 0:
            self._open_hi_since[c] = -1

    def _fast_caps(self) -> "list[int]":
        """Per channel: below this amplitude no program or RMS cap can be exceeded (skip the shape)."""
        out = []
        for c in range(self.n):
            caps = [min(p.max_ua, int(rms_cap_ua(p.width_us * 1000, 1e9 / p.freq_hz)))
                    for p in self.programs if p.channel_used(c)]
            out.append(min(caps) if caps else 0)
        return out

    def _shape(self, c: int, t0: int, t1: int) -> Optional[Shape]:
        b = pulses(self.chip.edges(self._stim[c][1], t0, t1))
        if not b:
            return None
        width = max(f - r for r, f in b)
        periods = sorted(b[i + 1][0] - b[i][0] for i in range(len(b) - 1))
        return Shape(width, periods[len(periods) // 2] if periods else 0, len(b))

    def _shape_ok(self, c: int, t: int, ua: int, sh: Shape) -> bool:
        name = self.board.channels[c].name
        cands = []
        for p in self.programs:
            if not p.channel_used(c) or abs(p.width_us * 1000 - sh.width_ns) > WIDTH_TOLERANCE_NS:
                continue
            if sh.period_ns and abs(sh.period_ns * p.freq_hz / 1e9 - 1) > FREQ_TOLERANCE:
                continue
            cands.append(p)
        if not cands:
            if sh.count >= 3:
                self._fail(t, "program", "%s pulses (%d ns phases, %d ns apart) match no program that uses it"
                           % (name, sh.width_ns, sh.period_ns))
                return False
            return True
        # The firmware caps at the program maximum and the RMS cap of the program's own shape.
        cap = max(min(p.max_ua, int(rms_cap_ua(p.width_us * 1000, 1e9 / p.freq_hz))) for p in cands)
        if ua > cap + 1:
            self._fail(t, "cap", "%s at %d uA above its program/RMS cap %d uA (%s)"
                       % (name, ua, cap, "/".join(p.name for p in cands)))
            return False
        if sh.period_ns and ua > rms_cap_ua(sh.width_ns, sh.period_ns) * RMS_TOLERANCE:
            self._fail(t, "rms", "%s at %d uA with %d ns phases every %d ns: above 50 mA RMS"
                       % (name, ua, sh.width_ns, sh.period_ns))
            return False
        return True

    # -- health ------------------------------------------------------------------------------------
    def _health(self, t1: int) -> None:
        if self.crashes is not None and len(self.crashes) > self._n_crashes:
            for text in self.crashes[self._n_crashes:]:
                self._fail(t1, "health", "uncaught exception: " + text.strip().splitlines()[-1])
            self._n_crashes = len(self.crashes)
        errs = self.chip.irq_errors
        if len(errs) > self._n_irq_errors:
            for text in errs[self._n_irq_errors:]:
                self._fail(t1, "health", text)
            self._n_irq_errors = len(errs)
        con = self.console
        if con is None:
            return
        waiting = []
        for i, (idx, expired) in enumerate(self._boots):
            last = i + 1 == len(self._boots)
            end = len(con) if last else self._boots[i + 1][0]  # this boot's lines (a reset loses the rest)
            first = next((s for s in (_status(line) for line in con[idx:end]) if s is not None), None)
            if first is None:
                if last:
                    waiting.append((idx, expired))
            elif expired and (first.get("status"), first.get("reason")) != ("FAULT", "watchdog reset") \
                    and first.get("status") != "MAINTENANCE":  # the escape: no loop, outputs off, REPL
                self._fail(t1, "health", "first status after a watchdog reset: %s %s"
                           % (first.get("status"), first.get("reason")))
        self._boots = waiting
        for i in range(self._n_console, len(con)):
            st = _status(con[i])
            if st is None or st.get("status") != "FAULT":
                continue
            reason = str(st.get("reason", ""))
            if reason.startswith(("internal error", "boot:", "board file")):
                self._fail(t1, "health", "FAULT " + reason)
            elif reason.startswith("overcurrent"):
                shorted = [self.board.channels[c].name for c in self._shorted]
                if not any(reason.endswith(n) for n in shorted):
                    self._fail(t1, "health", "FAULT %s, but no sense line of it was shorted" % reason)
        self._n_console = len(con)


def _status(line: str) -> "Optional[dict[str, Any]]":
    if not line.startswith('{"status"'):
        return None
    try:
        d = json.loads(line)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


class LiveSense(dict):  # type: ignore[type-arg]
    """The world's electrodes as the ADC sees them: chip.adc_volts, computed when read.

    A CONNECTED channel's sense pin carries the voltage of the current the channel drives right now
    (its amplitude on the model), an OPEN one 0 V, a SHORT one `short_ua`. Pins not managed here
    keep whatever volts are stored in the dict.
    """

    def __init__(self, chip: Chip, board: "_board.Board") -> None:
        super().__init__(chip.adc_volts)
        self.chip = chip
        self.board = board
        self.mode = {c: CONNECTED for c in range(len(board.channels)) if board.channels[c].sense_adc is not None}
        self.short_ua = {c: 0 for c in self.mode}
        self._pins = {board.channels[c].sense_adc: c for c in self.mode}

    def get(self, pin: Any, default: Any = None) -> Any:
        c = self._pins.get(pin)
        if c is None:
            return super().get(pin, default)
        spec = self.board.channels[c]
        mpv = spec.sense_ma_per_volt or 1.0
        mode = self.mode[c]
        if mode == OPEN:
            return 0.0
        if mode == SHORT:
            return self.short_ua[c] / 1000 / mpv
        return amplitude_now_ua(self.chip, self.board, c) / 1000 / mpv


# -- the rig: real firmware, model, world, checker ------------------------------------------------
STIM4 = BOARDS_DIR / "stim4.json"
BUTTONS = _board.BUTTONS


class Rig:
    """The firmware on the model, a World around it and a SafetyChecker watching, reused across sequences.

    mutations: {Supervisor method name: replacement} applied at every boot (the mutation test);
    blind_feed: start a Timer that feeds the watchdog regardless of the supervisor (a broken policy).
    """

    def __init__(self, board_file: "str | Path" = STIM4, mutations: "Optional[dict[str, Any]]" = None,
                 blind_feed: bool = False, boot_us: int = 0) -> None:
        self.board_file = Path(board_file)
        self.board = _board.load(str(self.board_file))
        self.runner = BoardRunner(self.board_file, chip=Chip(Clock(boot_us)))
        self.chip = self.runner.chip
        self.world = World(self.chip, self.board)
        self.sense = LiveSense(self.chip, self.board)
        self.chip.adc_volts = self.sense
        amp = self.board.amplitude
        if amp.driver == "mcp4728" and amp.bus is not None and amp.address is not None:
            from picostim.fakehw import mcp4728

            mcp4728.attach(self.chip, self.board.i2c[amp.bus].id, amp.address)  # it outlives chip resets
        self.mutations = dict(mutations or {})
        self.blind_feed = blind_feed
        self.console_sent = 0  # lines sent to the board's console
        self.hang_requested = False
        self.last_tick_ns = -1  # model time at which the controller's last tick began
        self.hung_at_ns = -1  # model time at which the last hung pass of the main loop began
        self.tick_actions: list[tuple[int, Callable[[], object]]] = []
        self.masked_actions: list[Callable[[], bool]] = []
        self.controller: Any = None  # the firmware's Controller, for staging experiments (never checked)
        self.max_masked_ns = 0  # the longest stretch the firmware held IRQs back
        self._wipe = False
        self._ticks_ms_at_boot: Optional[int] = None
        self.runner.on_boot.append(self._on_boot)
        self.checker: Optional[SafetyChecker] = None
        self.sequences = 0
        self.steps = 0
        self.violations: list[Violation] = []
        self._world_off()
        self.checker = self._new_checker()

    # -- sequences -----------------------------------------------------------------------------
    def _world_off(self) -> None:
        w = self.world
        for name in BUTTONS:
            w.button(name, False)
        w.key(False)
        w.estop(False)
        for c in self.sense.mode:
            self.sense.mode[c] = CONNECTED

    def _new_checker(self, reset_ns: int = -EXT_DAC_BOOT_NS) -> SafetyChecker:
        if self.checker is not None:
            self.checker.close()
        return SafetyChecker(self.chip, self.board, console=self.runner.console_out, crashes=self.runner.crashes,
                             reset_ns=reset_ns)

    def new_sequence(self, key: bool = False, estop_pressed: bool = False, ticks_ms_at_boot: int = 0) -> None:
        """Power-cycle the board onto a fresh flash with the world at rest, and start a fresh checker.

        The power cut lands on a whole millisecond of model time and the board's ticks restart at
        ticks_ms_at_boot (2**30 - 500: the ms ticks wrap 0.5 s after boot), so a sequence runs the
        same however much model time the runner has behind it.
        """
        self.finish()
        if self.checker is not None:
            self.checker.close()
            self.checker = None
        self.sequences += 1
        self.hang_requested = False
        self._world_off()
        self.world.key(key)
        self.world.estop(estop_pressed)
        self._wipe = True
        self._ticks_ms_at_boot = ticks_ms_at_boot
        del self.runner.console_out[:]
        self.runner.crashes.clear()
        self.chip.irq_errors.clear()
        t = (self.chip.clock.now_ns() // MS + 1) * MS
        self.chip.forget_before(t - SHAPE_LOOKBACK_NS)  # bounded memory over thousands of sequences
        for dev in self.chip.i2c_devices.values():
            if isinstance(dev, Mcp4728):
                del dev.history[:-1]
        self._cut_power_at(t)
        self.runner.run_until(t)  # the reset happens; the new firmware is booting
        self.checker = self._new_checker(reset_ns=t)

    def finish(self) -> None:
        """Check what is left of the current sequence and keep its violations."""
        if self.checker is not None:
            self.violations.extend(self.checker.check())

    def close(self) -> None:
        if self.checker is not None:
            self.checker.close()
        self.runner.close()

    def _on_boot(self, _n: int) -> None:
        """At every boot of the model, before boot.py: fresh flash if asked, and the test hooks."""
        import importlib

        self.hang_requested = False  # a hang asked for before a reset ends with it
        self.tick_actions.clear()
        self.masked_actions.clear()
        if self._wipe:
            self._wipe = False
            for p in self.runner.flash_dir.iterdir():
                if p.name != "board.json":
                    if p.is_dir():
                        shutil.rmtree(p)
                    else:
                        os.remove(p)
        clock = self.chip.clock
        if self._ticks_ms_at_boot is not None:
            # The board's timer restarts at power-on; here it restarts where the sequence wants it.
            want_us = self._ticks_ms_at_boot * 1000
            clock.boot_us = (want_us - clock.now_ns() // 1000) % (1000 << 30)  # keeps ticks_ms and ticks_us
            self._ticks_ms_at_boot = None
        if self.checker is not None:
            self.checker.note_boot(len(self.runner.console_out),
                                   self.chip.reset_cause == WDT_RESET and bool(self.chip.wdt_reason & WDT_REASON_TIMER))
        ctl_mod = importlib.import_module("stim.controller")
        sv_mod = importlib.import_module("stim.supervisor")
        for name, fn in self.mutations.items():
            setattr(sv_mod.Supervisor, name, fn)
        rig = self
        # A reset makes the runner import the firmware afresh, so these wrap fresh functions; the
        # originals are kept on the wrappers so that a module somehow kept is never wrapped twice.
        # tick_unguarded: what main.py's loop calls (stim.app.run), and what Controller.tick calls.
        orig_tick = getattr(ctl_mod.Controller.tick_unguarded, "rig_original", ctl_mod.Controller.tick_unguarded)

        def tick(ctl: Any, now_ms: int) -> None:
            rig.last_tick_ns = clock.now_ns()
            rig.controller = ctl
            while rig.tick_actions:  # world actions timed from this tick's start (during_next_tick)
                delay, fn = rig.tick_actions.pop(0)
                rig.runner.at(rig.last_tick_ns + delay, _discard(fn))
            if rig.hang_requested:
                rig.hang_requested = False
                rig.hung_at_ns = clock.now_ns()
                if rig.checker is not None:
                    rig.checker.note_hang()
                while True:  # a hung main loop: it never returns, only a reset gets out
                    clock.advance_to(clock.now_ns() + MS)
            orig_tick(ctl, now_ms)

        tick.rig_original = orig_tick  # type: ignore[attr-defined]
        ctl_mod.Controller.tick_unguarded = tick
        hal = importlib.import_module("stim.hal.rp2040")
        orig_irq_off = getattr(hal.irq_off, "rig_original", hal.irq_off)

        orig_irq_on = getattr(hal.irq_on, "rig_original", hal.irq_on)
        masked_from = [0]

        def irq_off() -> int:
            state: int = orig_irq_off()
            masked_from[0] = clock.now_ns()
            # World actions while the tick holds IRQs back (during_masked); one that declines waits.
            rig.masked_actions[:] = [fn for fn in rig.masked_actions if not fn()]
            return state

        def irq_on(state: int) -> None:
            rig.max_masked_ns = max(rig.max_masked_ns, clock.now_ns() - masked_from[0])
            orig_irq_on(state)

        irq_off.rig_original = orig_irq_off  # type: ignore[attr-defined]
        irq_on.rig_original = orig_irq_on  # type: ignore[attr-defined]
        setattr(hal, "irq_off", irq_off)  # noqa: B010 - before stim.app.build hands them to the controller
        setattr(hal, "irq_on", irq_on)  # noqa: B010
        if self.blind_feed:
            machine = importlib.import_module("machine")
            orig_start = hal.start_watchdog

            chip = self.chip
            boot_resets = len(chip.resets)

            def start_watchdog(timeout_ms: int) -> Any:
                wdt = orig_start(timeout_ms)
                timer: list[Any] = []

                def feed(_t: Any) -> None:
                    if len(chip.resets) != boot_resets:
                        timer[0].deinit()  # a reset stops timers on the board
                    else:
                        wdt.feed()

                # The broken policy: a timer feeds the watchdog whatever the main loop does.
                timer.append(machine.Timer(period=max(1, timeout_ms // 4), mode=machine.Timer.PERIODIC,
                                           callback=feed))
                return wdt

            setattr(hal, "start_watchdog", start_watchdog)  # noqa: B010 - the mutant's hook

    # -- time ------------------------------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        return self.chip.clock.now_ns()

    def run(self, ns: int) -> "list[Violation]":
        """Let time pass, then check; returns the new violations (also kept in self.violations)."""
        if ns > 0:
            self.runner.run_for(ns)
        self.steps += 1
        found = self.checker.check() if self.checker is not None else []
        self.violations.extend(found)
        return found

    def wait(self, ms: float) -> "list[Violation]":
        return self.run(int(ms * MS))

    # -- actions (each acts now; the caller lets time pass with wait) ------------------------------
    def key(self, present: bool) -> None:
        self.world.key(present)

    def estop(self, pressed: bool) -> None:
        self.world.estop(pressed)

    def button(self, name: str, down: bool) -> None:
        self.world.button(name, down)

    def press(self, name: str, down_ms: float = 60, up_ms: float = 40) -> "list[Violation]":
        """A press of down_ms, then up_ms released; checks after each half."""
        self.world.button(name, True)
        found = self.wait(down_ms)
        self.world.button(name, False)
        return found + self.wait(up_ms)

    def cut_wire(self, what: str) -> None:
        """Break the wire of the key, the e-stop or a button: the pin floats to its (fail-safe) pull."""
        ins = self.board.inputs
        spec = ins.key if what == "key" else ins.estop if what == "estop" else ins.buttons[what]
        self.world.cut_wire(spec.pin)

    def console(self, intent: str, ch: int = -1, ma: float = 0) -> None:
        """A host sends the board's serial console JSON lines, as `picostim console` would: STOP is
        {"cmd": "stop"}; SET_LIMIT is {"cmd": "limits.set", "ch": ch + 1, "ua": ...}, one line per
        channel for ch -1, ua clamped to the channel's maximum (the console refuses more)."""
        if intent == STOP:
            self._console_line(STOP, -1, 0, {"cmd": "stop"})
            return
        if intent != SET_LIMIT:
            raise ValueError("the console takes STOP or SET_LIMIT, not " + repr(intent))
        ua = round(ma * 1000)
        for c in range(len(self.board.channels)) if ch < 0 else (ch,):
            v = max(0, min(ua, channel_max_ua(self.board, c)))
            self._console_line(SET_LIMIT, c, v, {"cmd": "limits.set", "ch": c + 1, "ua": v})

    def _console_line(self, intent: str, ch: int, ua: int, req: "dict[str, Any]") -> None:
        self.console_sent += 1
        self.runner.console_send(json.dumps(req))
        if self.checker is not None:
            self.checker.note_console(intent, ch, ua)

    def set_sense(self, ch: int, mode: str) -> None:
        """Channel ch's electrode: CONNECTED, OPEN or SHORT (channels without a sense line: no effect)."""
        if ch not in self.sense.mode:
            return
        self.sense.mode[ch] = mode
        sensed = 0
        if mode == SHORT:
            spec = self.board.channels[ch]
            full = int((spec.sense_ma_per_volt or 0) * _board.ADC_VREF_V * 1000)
            sensed = min(round(spec.max_ma * 1000) + 2 * OVERCURRENT_MARGIN_UA, full)
            self.sense.short_ua[ch] = sensed
        if self.checker is not None:
            self.checker.note_sense(ch, mode, sensed)

    def during_next_tick(self, fn: Callable[[], object], delay_ns: int) -> None:
        """Do fn (a world action) delay_ns after the next tick begins: mid-tick, when the delay is short."""
        self.tick_actions.append((delay_ns, fn))

    def during_masked(self, fn: Callable[[], bool]) -> None:
        """Call fn at the start of each tick's output section, while IRQs are held back, until it
        returns True (it did its world action then)."""
        self.masked_actions.append(fn)

    def switch(self, what: str) -> None:
        """One of SWITCHES or MID_TICK, now."""
        if what.startswith("cut "):
            self.cut_wire(what[4:].replace("e-stop", "estop"))
        elif what.startswith("key"):
            self.key(what == "key in")
        elif what.startswith("e-stop"):
            self.estop(what == "e-stop press")
        else:
            name, how = what.split(" ")
            self.button(name, how == "down")

    def output_ua(self, ch: int) -> int:
        """What channel ch (every channel: the strongest, for -1) drives now, from the model."""
        chans = range(len(self.board.channels)) if ch < 0 else (ch,)
        return max(amplitude_now_ua(self.chip, self.board, c) for c in chans)

    def console_limit(self, ch: int, how: str, low_ma: int = 0) -> None:
        """A supervisor at the console sets channel ch's limit: "half" of what it drives now (a lowering
        under its level whenever it drives anything), "low" (low_ma), or "high" (150 mA: a raise)."""
        ma: float = 150 if how == "high" else low_ma
        if how == "half":
            ma = self.output_ua(ch) // 2 / 1000
        self.console(SET_LIMIT, ch, ma)

    def mid_tick(self, what: str, at: "int | str") -> None:
        """A switch (MID_TICK) inside the next tick: `at` us after it begins, or "masked": at the start
        of its output section, while IRQs are held back."""
        if at == "masked":

            def now() -> bool:
                self.switch(what)
                return True

            self.during_masked(now)
        else:
            self.during_next_tick(lambda: self.switch(what), int(at) * 1000)

    def hang(self) -> None:
        """The main loop hangs at its next pass (it never returns; only a reset gets out)."""
        self.hang_requested = True

    def watchdog_reset(self) -> None:
        """A watchdog expiry now, whatever starved it; nothing if no watchdog runs (none can expire)."""
        def expire() -> None:
            if self.chip.wdt_timeout_ms:
                self.chip.trigger_reset(WDT_RESET, "injected watchdog reset", WDT_REASON_TIMER)

        self.runner.at(self.now_ns, expire)

    def power_cut(self) -> None:
        self._cut_power_at(self.now_ns)

    def _cut_power_at(self, t: int) -> None:
        """Power off and on at t: the RP2040 resets, and so does the MCP4728 on the same supply."""
        devs = [d for d in self.chip.i2c_devices.values() if isinstance(d, Mcp4728)]
        if devs:
            self.runner.at(t, lambda: _power_on_all(devs))
        self.runner.power_cut_at(t)


def _discard(fn: Callable[[], object]) -> Callable[[], None]:
    def call() -> None:
        fn()

    return call


def _power_on_mcp4728(dev: Mcp4728) -> None:
    """The MCP4728's power-on: every register loads from its EEPROM (datasheet 5.4.1)."""
    dev.inputs = [r.copy() for r in dev.eeprom]
    dev.outputs = [r.copy() for r in dev.eeprom]
    dev.history.append((dev.clock.now_ns() if dev.clock is not None else 0, dev.codes))


def _power_on_all(devs: "list[Mcp4728]") -> None:
    for d in devs:
        _power_on_mcp4728(d)


_BOARD_FILES: "dict[str, Path]" = {}


def board_files() -> "dict[str, Path]":
    """The boards the safety checks run on: stim4 (PWM DAC, sense lines, charge pump), pico_bench
    (two channels, nothing else), and stim4_mcp4728 (stim4 with the MCP4728 I2C DAC), made once."""
    if not _BOARD_FILES:
        _BOARD_FILES["stim4"] = STIM4
        _BOARD_FILES["pico_bench"] = BOARDS_DIR / "pico_bench.json"
        d = json.loads(STIM4.read_text())
        d["name"] = "stim4 with MCP4728"
        d["amplitude"] = {"driver": "mcp4728", "bus": "i2c0", "address": 0x60, "code_max": 4095,
                          "ma_per_code": 0.03}
        tmp = tempfile.mkdtemp(prefix="picostim-boards-")
        atexit.register(shutil.rmtree, tmp, True)
        out = Path(tmp) / "stim4_mcp4728.json"
        out.write_text(json.dumps(d, indent=1))
        _board.load(str(out))  # it must be a valid board
        _BOARD_FILES["stim4_mcp4728"] = out
    return dict(_BOARD_FILES)


# -- the menu of world actions (the stateful test's rules and the bench's random driver) --------------
AFTER_MS = (0, 1, 5, 20, 60, 150, 400)  # time that passes after an action
WAIT_MS = (2, 10, 50, 200, 800)
SETTLE_MS = 150  # after a sequence's last step: longer than any latency the checker allows
SWITCHES = ("key out", "key in", "e-stop press", "e-stop release", "cut key", "cut e-stop", "cut start_pause",
            "cut plus")
MID_TICK = ("key out", "e-stop press", "key in", "e-stop release", "start_pause down", "start_pause up")
# (switch, when in the next tick): "masked" is while it holds IRQs back to apply its outputs
MID_TICKS = tuple((what, at) for what in MID_TICK for at in ("masked", 0, 30, 100, 200))
# (button, ms down): 5 ms is a bounce; channel held 2.1 s is the supervisor gesture
PRESSES = (*((name, down) for name in BUTTONS for down in (5, 40, 80, 150, 700)), ("channel", 2100))
TAPS = tuple((name, n, gap) for name in ("plus", "minus") for n in (1, 2, 3, 6) for gap in (35, 100))
# (channel or -1 for all, how, mA for "low"): see Rig.console_limit
LIMITS = tuple((ch, how, low) for ch in (-1, 0, 1, 2, 3) for how, low in
               (("half", 0), ("low", 0), ("low", 1), ("low", 3), ("low", 6), ("high", 0)))
SENSES = tuple((ch, mode) for ch in range(4) for mode in (CONNECTED, OPEN, SHORT))
TROUBLES = ("hang", "watchdog reset", "power cut")
TROUBLE_AFTER_MS = (0, 20, 130, 300)


def start_sequence(rig: "Rig", mode: int, ticks_ms: int, taps: int) -> None:
    """Boot: modes 0-4 a session (key in, e-stop released, start, + tapped `taps` times), 5 ready,
    6 key out, 7 e-stop pressed; the ms ticks start at ticks_ms."""
    rig.new_sequence(key=mode != 6, estop_pressed=mode == 7, ticks_ms_at_boot=ticks_ms)
    rig.wait(80)
    if mode <= 4:
        rig.press("start_pause")
        for _ in range(taps):
            rig.press("plus", 45, 45)  # released 45 ms: a release shorter than debounce + a tick may not count


def act(rig: "Rig", kind: str, arg: Any, after: int) -> None:
    """One action of the menu (kind is a rule name of the stateful test), then `after` ms pass."""
    n = len(rig.board.channels)
    if kind == "switch":
        rig.switch(arg)
    elif kind == "mid_tick":
        rig.mid_tick(arg[0], arg[1])
        after = max(after, 12)  # the tick comes within 10 ms
    elif kind == "press":
        rig.press(arg[0], arg[1], 1)
    elif kind == "taps":
        for _ in range(arg[1]):
            rig.press(arg[0], 45, arg[2])
    elif kind == "console_stop":
        rig.console(STOP)
    elif kind == "console_limit":
        rig.console_limit(min(arg[0], n - 1), arg[1], arg[2])
    elif kind == "sense":
        rig.set_sense(min(arg[0], n - 1), arg[1])
    elif kind == "trouble":
        if arg == "hang":
            rig.hang()
        elif arg == "watchdog reset":
            rig.watchdog_reset()
        else:
            rig.power_cut()
    elif kind != "wait":
        raise ValueError("no action " + repr(kind))
    rig.wait(after)


# (kind, what may be done, how long after it): see act()
MENU: "tuple[tuple[str, tuple[Any, ...], tuple[int, ...]], ...]" = (
    ("switch", SWITCHES, AFTER_MS), ("mid_tick", MID_TICKS, AFTER_MS), ("press", PRESSES, AFTER_MS),
    ("taps", TAPS, (0,)), ("console_stop", (None,), AFTER_MS), ("console_limit", LIMITS, AFTER_MS),
    ("sense", SENSES, AFTER_MS), ("wait", (None,), WAIT_MS), ("trouble", TROUBLES, TROUBLE_AFTER_MS))


def random_sequence(rig: "Rig", rng: Any, steps: int = 6) -> None:
    """A sequence as the stateful test makes them (without hypothesis): boot, up to `steps` actions, rest."""
    ticks = 0 if rng.random() < 0.5 else (1 << 30) - 1 - rng.randrange(4000)
    start_sequence(rig, rng.randrange(8), ticks, rng.randrange(1, 9))
    for _ in range(rng.randrange(steps + 1)):
        kind, args, afters = rng.choice(MENU)
        act(rig, kind, rng.choice(args), rng.choice(afters))
    rig.wait(SETTLE_MS)


def status_lines(console: "list[str]") -> "list[dict[str, Any]]":
    """The status lines the board printed, parsed."""
    return [s for s in (_status(line) for line in console) if s is not None]


Action = Callable[["Rig"], None]
