"""Trainer front panel figures, measured on the RP2040 model (`make bench`), and the rig the panel tests use.

`Rig` runs firmware/main.py unchanged on a BoardRunner and works the board
the way a trainer does, through pin levels only (fakehw World: key, e-stop,
buttons); it reads back what the trainer sees and hears from the model: the
amplitude DAC codes (the compare level of each channel's PWM-DAC pin, 0 while
the kill path holds the pin as GPIO), the status LED's edges, the buzzer's
bursts and the SSD1306's panel (fakehw.ssd1306).

Figures:

    panel.press_to_output_ms        worst model time from a + press edge on the pin to the first change
                                    of the channel's DAC code, over presses at every 0.1 ms phase of the
                                    10 ms tick (a continuous program at a steady level, display running)
    panel.press_to_output_bound_ms  what it must stay within: one tick (the press is sampled at the next
                                    tick) plus one ramp step (the ticks the ramp needs to move the level
                                    by at least one DAC code: ceil(code / (ramp rate x tick)) ticks)
    panel.oled_frame_ms             bus time of one whole frame as the driver's show() sends it (1 KB)
    panel.oled_page_ms              bus time of one page as stim.hal.oled sends it (one text row), over
                                    its eight ticks
    panel.oled_tick_ms_max          the most bus time the display takes in one tick (a 16-byte chunk,
                                    with the page's address window before the first)
    panel.max_tick_gap_ms           longest time between two ticks (charge-pump toggles) while the display
                                    redraws during a session: the display never stretches the loop
    panel.display_pages_per_s       pages sent per second while a session ramps (at most 5 composes/s)
"""

import importlib
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from picostim.fakehw import micropython_shim
from picostim.fakehw.chip import _PWM as PAD_PWM
from picostim.fakehw.runner import BOARDS_DIR, FIRMWARE_DIR, BoardRunner
from picostim.sim.world import World

MS = 1_000_000
STIM4 = BOARDS_DIR / "stim4.json"
PHASES_US = range(0, 10_000, 100)  # + edges every 0.1 ms across the 10 ms tick


def _firmware(name: str) -> Any:
    """A firmware module on the host (pure ones; the runner brings its own copies onto the board)."""
    fw = str(FIRMWARE_DIR)
    if fw not in sys.path:
        sys.path.insert(0, fw)
    sys.modules.setdefault("micropython", micropython_shim)
    return importlib.import_module(name)


class Rig:
    """One simulated board and a trainer's hands on it (pins only), with readers for its outputs."""

    def __init__(self, board_file: "str | Path" = STIM4, key: bool = True, settle_ms: int = 300,
                 chip: "Any" = None, flash_dir: "str | Path | None" = None,
                 on_boot: "Optional[Callable[[int], None]]" = None) -> None:
        """chip: one with devices attached (a DS3231); flash_dir: a flash with files on it; on_boot: a
        hook the runner calls at every boot before main.py (e.g. a mutant for a mutation test)."""
        self.board = _firmware("stim.board").load(str(board_file))
        self.fb = _firmware("stim.feedback")
        self.runner = BoardRunner(board_file, chip=chip, flash_dir=flash_dir)
        if on_boot is not None:
            self.runner.on_boot.append(on_boot)
        self.chip = self.runner.chip
        self.world = World(self.chip, self.board)
        self.world.estop(False)
        self.world.key(key)
        if settle_ms:
            self.run_ms(settle_ms)

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> "Rig":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time and hands ---------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.runner.now_ns

    def run_ms(self, ms: float) -> None:
        self.runner.run_for(int(ms * MS))

    def press(self, name: str, hold_ms: int = 80, after_ms: int = 120) -> int:
        """Press and release a button; returns the time of the press edge."""
        t = self.now
        self.world.button(name, True)
        self.run_ms(hold_ms)
        self.world.button(name, False)
        self.run_ms(after_ms)
        return t

    def hold(self, name: str, ms: int, after_ms: int = 120) -> None:
        self.press(name, ms, after_ms)

    def presses(self, name: str, n: int) -> None:
        for _ in range(n):
            self.press(name)

    # -- what the trainer sees and hears ---------------------------------------------
    def status(self) -> "dict[str, Any]":
        """The last status line the firmware printed."""
        for line in reversed(self.runner.console_out):
            if line.startswith('{"status"'):
                return dict(json.loads(line))
        return {}

    def statuses(self) -> "list[dict[str, Any]]":
        return [json.loads(x) for x in self.runner.console_out if x.startswith('{"status"')]

    def screen(self) -> "list[str]":
        d = self.runner.display
        if d is None:
            raise AssertionError("this board has no display")
        return d.text()

    def screen_text(self) -> str:
        return "\n".join(self.screen())

    def _dac_pin(self, ch: int) -> int:
        c = self.board.channels[ch]
        if c.amp_pin is None:
            raise ValueError("channel %d has no PWM-DAC pin (mcp4728 board)" % ch)
        return int(c.amp_pin)

    def _cc_changes(self, pin: int, t0: int, t1: int) -> "list[tuple[int, int]]":
        """(t, compare level of pin's PWM channel) at t0 and at every latch that changes it, up to t1."""
        sl = self.chip.pwm.slices[(pin >> 1) & 7]
        half = pin & 1
        out: list[tuple[int, int]] = []
        k = max(sl.index(t0), 0)
        while k < sl.count():
            g = sl.get(k)
            if g.t0 > t1:
                break
            v = g.cc_b if half else g.cc_a
            t = g.t0 if g.t0 > t0 else t0
            if not out or out[-1][1] != v:
                out.append((t, v))
            k += 1
        return out

    def _pad_pwm(self, pin: int, t: int) -> bool:
        hist = self.chip.gpio[pin].history
        kind = hist[0][1]
        for t0, k, _lev in hist:
            if t0 > t:
                break
            kind = k
        return kind == PAD_PWM

    def _output_changes(self, pin: int, t0: int, t1: int) -> "list[tuple[int, int]]":
        """(t, code driven on pin) at t0 and at each change: the compare level while the pad is PWM, else 0."""
        times = {t for t, _v in self._cc_changes(pin, t0, t1)}
        times.update(t for t, _k, _l in self.chip.gpio[pin].history if t0 < t <= t1)
        times.add(t0)
        out: list[tuple[int, int]] = []
        for t in sorted(times):
            v = self._code_at(pin, t)
            if not out or out[-1][1] != v:
                out.append((t, v))
        return out

    def _code_at(self, pin: int, t: int) -> int:
        if not self._pad_pwm(pin, t):
            return 0
        ch = self._cc_changes(pin, t, t)
        return int(ch[-1][1]) if ch else 0

    def dac(self, ch: int, t: Optional[int] = None) -> int:
        """Channel ch's amplitude DAC code at time t (default now)."""
        return self._code_at(self._dac_pin(ch), self.now if t is None else t)

    def dac_changes(self, ch: int, t0: int, t1: Optional[int] = None) -> "list[tuple[int, int]]":
        return self._output_changes(self._dac_pin(ch), t0, self.now if t1 is None else t1)

    def max_dac(self, ch: int, t0: int, t1: Optional[int] = None) -> int:
        return max(v for _t, v in self.dac_changes(ch, t0, t1))

    def ua(self, code: int) -> int:
        """Microamps of a DAC code (the board's ma_per_code)."""
        return round(float(code * self.board.amplitude.ma_per_code * 1000))

    def led_on(self, t: Optional[int] = None) -> bool:
        led = self.board.outputs.status_led
        return bool(self.chip.level(led.pin, t) == led.active_level)

    def led_intervals(self, t0: int, t1: Optional[int] = None) -> "list[tuple[int, int]]":
        """(start, end) of each time the status LED was lit in [t0, t1)."""
        led = self.board.outputs.status_led
        return _intervals(self.chip.edges(led.pin, t0, self.now if t1 is None else t1), led.active_level,
                          self.led_on(t0 - 1) if t0 else False, t0, self.now if t1 is None else t1)

    def beeps(self, t0: int, t1: Optional[int] = None) -> "list[tuple[int, int]]":
        """(start, duration ms) of each buzzer burst in [t0, t1): the buzzer's PWM duty non-zero (or its
        GPIO active, for an active buzzer)."""
        end = self.now if t1 is None else t1
        bz = self.board.outputs.buzzer
        if bz.pwm_hz is None:
            iv = _intervals(self.chip.edges(bz.pin, t0, end), bz.active_level,
                            self.chip.level(bz.pin, t0 - 1) == bz.active_level if t0 else False, t0, end)
        else:
            iv = []
            on_since = -1
            for t, v in self._output_changes(bz.pin, t0, end):
                if v and on_since < 0:
                    on_since = t
                elif not v and on_since >= 0:
                    iv.append((on_since, t))
                    on_since = -1
            if on_since >= 0:
                iv.append((on_since, end))
        return [(a, round((b - a) / MS)) for a, b in iv]

    def beep_patterns(self, t0: int, t1: Optional[int] = None, gap_ms: int = 300) -> "list[tuple[int, ...]]":
        """The buzzer's bursts in [t0, t1) grouped into patterns (bursts closer than gap_ms), as
        on-durations in ms rounded to the 10 ms tick."""
        groups: list[list[int]] = []
        last_end = None
        for start, dur in self.beeps(t0, t1):
            if last_end is None or start - last_end > gap_ms * MS:
                groups.append([])
            groups[-1].append(round(dur / 10) * 10)
            last_end = start + dur * MS
        return [tuple(g) for g in groups]

    def pattern_on(self, pattern: "tuple[int, ...]") -> "tuple[int, ...]":
        """The on-durations of a stim.feedback buzzer pattern (on, off, on, ...)."""
        return tuple(pattern[0::2])

    def tick_times(self, t0: int, t1: Optional[int] = None) -> "list[int]":
        """Times of the ticks in [t0, t1): each toggles the charge-pump enable (boards that have one)."""
        cp = self.board.outputs.charge_pump
        if cp is None:
            raise ValueError("this board has no charge pump to time the ticks by")
        return [t for t, _v in self.chip.edges(cp.pin, t0, self.now if t1 is None else t1)]


def _intervals(edges: "list[tuple[int, int]]", active: int, on0: bool, t0: int, t1: int) -> "list[tuple[int, int]]":
    out: list[tuple[int, int]] = []
    since = t0 if on0 else -1
    for t, v in edges:
        if v == active and since < 0:
            since = t
        elif v != active and since >= 0:
            out.append((since, t))
            since = -1
    if since >= 0:
        out.append((since, t1))
    return out


# -- the figures --------------------------------------------------------------------------------


def press_to_output_bound_ms(board: Any) -> float:
    """One tick to see the press, plus the ticks the ramp needs to move the level by one DAC code."""
    ctl = _firmware("stim.controller")
    ramp_per_tick_ua = board.limits.ramp_ma_per_s * ctl.TICK_MS  # uA per tick (mA/s x ms)
    code_ua = board.amplitude.ma_per_code * 1000
    ticks_per_code = -(-code_ua // ramp_per_tick_ua)  # ceil
    return float(ctl.TICK_MS + ctl.TICK_MS * ticks_per_code)


def steady_session(rig: Rig, program_presses: int = 1, plus: int = 3, settle_ms: int = 3000) -> None:
    """READY -> the program `program_presses` on (default: a continuous one), start, + a few times, settle."""
    rig.presses("program", program_presses)
    rig.press("start_pause")
    rig.presses("plus", plus)
    rig.run_ms(settle_ms)


def measure_press_to_output(rig: Rig, phases_us: "range" = PHASES_US) -> "tuple[float, list[float]]":
    """+ presses with their edge at every phase of the tick; each: edge -> first rise of channel 1's DAC code.

    After each + a - takes the level back, so every press starts from the same steady level.
    """
    lat: list[float] = []
    for ph in phases_us:
        ticks = rig.tick_times(rig.now - 50 * MS)
        t_tick = ticks[-1]
        while t_tick <= rig.now:
            t_tick += 10 * MS
        t_edge = t_tick + ph * 1000
        rig.run_ms((t_edge - rig.now) / MS)
        before = rig.dac(0)
        rig.world.button("plus", True)
        rig.run_ms(60)
        rig.world.button("plus", False)
        changes = [t for t, v in rig.dac_changes(0, t_edge) if t > t_edge and v != before]
        if not changes or rig.dac(0, changes[0]) < before:
            raise RuntimeError("panel bench: + at phase %d us did not raise the DAC code" % ph)
        lat.append((changes[0] - t_edge) / MS)
        rig.run_ms(240)  # the ramp reaches the new level (1 mA at 5 mA/s: 200 ms)
        rig.press("minus", 60, 100)  # back to the level before
        if rig.dac(0) != before:
            raise RuntimeError("panel bench: the level did not settle back after - (%d, not %d)"
                               % (rig.dac(0), before))
    return max(lat), lat


def measure(progress: Callable[[str], None], phases_us: "range" = PHASES_US) -> "dict[str, float | int]":
    out: dict[str, float | int] = {}
    with Rig() as rig:
        bound = press_to_output_bound_ms(rig.board)
        progress("press to output: continuous program, + at %d phases of the tick" % len(phases_us))
        steady_session(rig)
        worst, lat = measure_press_to_output(rig, phases_us)
        progress("press to output: %.3f .. %.3f ms (bound %.1f ms)" % (min(lat), worst, bound))
        out["panel.press_to_output_ms"] = round(worst, 3)
        out["panel.press_to_output_bound_ms"] = bound
        # Tick regularity while the display follows a ramp: + on all channels, 4 s.
        t0 = rig.now
        pages0 = _display_pages(rig)
        rig.presses("plus", 5)
        rig.run_ms(3000)
        ticks = rig.tick_times(t0)
        gaps = [(b - a) / MS for a, b in itertools.pairwise(ticks)]
        out["panel.max_tick_gap_ms"] = round(max(gaps), 3)
        out["panel.display_pages_per_s"] = round((_display_pages(rig) - pages0) / ((rig.now - t0) / 1e9), 2)
    frame, page, tick = measure_oled_bus_times()
    out["panel.oled_frame_ms"] = round(frame, 3)
    out["panel.oled_page_ms"] = round(page, 3)
    out["panel.oled_tick_ms_max"] = round(tick, 3)
    progress("oled: frame %.2f ms, page %.2f ms at 400 kHz, at most %.2f ms of it in one tick" % (frame, page, tick))
    return out


def _display_pages(rig: Rig) -> int:
    d = rig.runner.display
    if d is None:
        return 0
    return d.data_bytes // 128  # pages' worth of data bytes: a page goes out in chunks


def measure_oled_bus_times() -> "tuple[float, float, float]":
    """Model time of the driver's show() (a whole frame), of one Oled page (its chunks, one a tick)
    and the most of it in one tick, on the stim4 I2C bus."""
    from picostim import fakehw
    from picostim.fakehw import ssd1306 as model

    brd = _firmware("stim.board").load(str(STIM4))
    chip = fakehw.install(fakehw.Chip())
    lib = str(FIRMWARE_DIR / "lib")
    if lib not in sys.path:
        sys.path.insert(0, lib)
    bus = brd.i2c[brd.display.bus]
    model.attach(chip, bus.id, brd.display.address)
    with fakehw.firmware_imports():
        oled = _firmware("stim.hal.oled")
    o = oled.Oled(brd)
    t = chip.clock.now_ns()
    o.drv.show()
    frame = (chip.clock.now_ns() - t) / MS
    o._pend(0, 0, o._nchunks - 1)  # page 0 whole, as a drawn text row leaves it
    page = 0.0
    tick = 0.0
    while o.pending:  # one call a tick
        t = chip.clock.now_ns()
        o._send_one()
        dt = (chip.clock.now_ns() - t) / MS
        page += dt
        tick = max(tick, dt)
    fakehw.uninstall()
    return frame, page, tick
