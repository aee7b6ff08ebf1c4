"""One emulated RP2040 running the deployed firmware, and its world, driven by scenario actions.

The silicon twin of picostim.sim.session.SimSession: the same scenario actions, applied at
their exact emulated nanosecond (the chip runs up to each action, then the action happens).
The world follows the board file as picostim.sim.world does for the model: a closed switch
drives its input to the active level, an open one lets the pin go to its pull.

    sess = SiliconSession("boards/stim4.json")
    sess.schedule(scenario.load("s.txt", sess.board))
    sess.run_until(10 * 10**9)
    sess.lines        # what the firmware printed, as (ns, line)
    sess.chip.pins    # every pad change, (ns, gpio, level)
"""

import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

from picostim.silicon.chip import Silicon, SiliconError
from picostim.silicon.deploy import SiliconDeploy
from picostim.sim.scenario import Action
from picostim.sim.session import load_board

if TYPE_CHECKING:
    from stim.board import Board, Input

ADC_FULL_SCALE_V = 3.3
MODEL_ONLY = ("hang",)
SLICE_NS = 50_000_000  # actions the emulated chip cannot do: they stall the model's Python loop


class SiliconSession:
    def __init__(self, board_file: str, board: "Optional[Board]" = None, flash_timing: str = "typical",
                 out: Callable[[str], object] = print) -> None:
        self.board_file = board_file
        self.board = board if board is not None else load_board(board_file)
        image = SiliconDeploy(board_file, out=out).image()
        self.chip = Silicon(flash=image, flash_timing=flash_timing)
        self.log: list[tuple[int, str]] = []
        self.lines: list[tuple[int, str]] = []  # (ns first seen, line) printed by the firmware
        self._partial = b""
        self._events: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.wire_devices()
        # Before power-on: key out, e-stop released, buttons up. The chip has not run yet.
        self.key(False)
        self.estop(False)

    def close(self) -> None:
        self.chip.close()

    def __enter__(self) -> "SiliconSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def now_ns(self) -> int:
        return self.chip.now_ns

    # -- the world (as picostim.sim.world.World) ---------------------------------------------
    def wire_devices(self) -> None:
        """Put the I2C devices the board file declares on the chip's buses, on the board's pins."""
        amp = self.board.amplitude
        if amp.driver == "mcp4728" and amp.bus is not None and amp.address is not None:
            bus = self.board.i2c[amp.bus]
            self.chip.attach_mcp4728(bus.id, bus.sda, bus.scl, amp.address)
        disp = self.board.display
        if disp is not None and disp.driver == "ssd1306":
            bus = self.board.i2c[disp.bus]
            self.chip.attach_ssd1306(bus.id, bus.sda, bus.scl, disp.address)

    def _set(self, spec: "Input", active: bool) -> None:
        self.chip.set_input(spec.pin, spec.active_level if active else None)

    def key(self, present: bool) -> None:
        self._set(self.board.inputs.key, present)

    def estop(self, pressed: bool) -> None:
        self._set(self.board.inputs.estop, not pressed)

    def button(self, name: str, down: bool) -> None:
        self._set(self.board.inputs.buttons[name], down)

    def sense_ma(self, ch: int, ma: float) -> None:
        spec = self.board.channels[ch]
        if spec.sense_adc is None or spec.sense_ma_per_volt is None:
            raise ValueError("channel " + spec.name + " has no sense line")
        volts = ma / spec.sense_ma_per_volt
        code = max(0, min(4095, round(volts / ADC_FULL_SCALE_V * 4095)))
        setter = getattr(self.chip, "set_adc", None)
        if setter is None:
            raise SiliconError("this harness cannot set ADC inputs")
        setter(spec.sense_adc - 26, code)

    def send_line(self, line: str) -> None:
        self.chip.write(line.encode("utf-8") + b"\n")

    # -- time and actions -------------------------------------------------------------------
    def at(self, t_ns: int, fn: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t_ns, next(self._seq), fn))

    def schedule(self, actions: "list[Action]") -> None:
        bad = [a for a in actions if a.kind in MODEL_ONLY]
        if bad:
            raise ValueError("line %d: %r runs on the model only (the emulated chip cannot stall its own loop)"
                             % (bad[0].line, bad[0].text))
        for a in actions:
            self.at(a.t_ns, self._later(a))

    def _later(self, a: Action) -> Callable[[], None]:
        return lambda: self.apply(a)

    def apply(self, a: Action) -> None:
        self.log.append((self.now_ns, a.text or a.kind))
        if a.kind == "key":
            self.key(bool(a.args[0]))
        elif a.kind == "estop":
            self.estop(bool(a.args[0]))
        elif a.kind in ("press", "hold"):
            name = str(a.args[0])
            self.button(name, True)
            self.at(self.now_ns + int(a.args[1]), lambda: self.button(name, False))
        elif a.kind == "sense":
            self.sense_ma(int(a.args[0]), float(a.args[1]))
        elif a.kind == "console":
            self.send_line(str(a.args[0]))
        elif a.kind == "power":
            self.chip.power_cut()
        elif a.kind == "host":
            setter = getattr(self.chip, "host_reading", None)
            if setter is None:
                raise SiliconError("this harness cannot stop the USB host")
            setter(bool(a.args[0]))
        else:
            raise ValueError("unknown scenario action " + repr(a.kind))

    def run_until(self, t_ns: int) -> None:
        """Run the chip to t_ns, doing every action due on the way at its own nanosecond."""
        while self._events and self._events[0][0] <= t_ns:
            when, _, fn = heapq.heappop(self._events)
            if when > self.chip.now_ns:
                self._run_chip(when)
            fn()
        if t_ns > self.chip.now_ns:
            self._run_chip(t_ns)

    def run_until_text(self, text: bytes, timeout_ns: int) -> Optional[int]:
        """Run until the firmware prints `text`, or for timeout_ns; the ns it was seen at (to ~10 us),
        or None. The line it is in is finished (1 ms more). Scheduled actions wait meanwhile."""
        seen = self.chip.run_until_text(text, timeout_ns)
        at = self.chip.now_ns
        self._run_chip(at + 1_000_000)
        return at if seen else None

    def _run_chip(self, t_ns: int) -> None:
        while self.chip.now_ns < t_ns:  # in slices: a running session changes ~10**5 pads a second
            self.chip.run_until(min(t_ns, self.chip.now_ns + SLICE_NS))
            self._take_lines()

    def _take_lines(self) -> None:
        data = self._partial + self.chip.read_new()
        *done, self._partial = data.split(b"\n")
        for raw in done:
            self.lines.append((self.chip.now_ns, raw.rstrip(b"\r").decode("utf-8", "replace")))


class PinHistory:
    """The chip's pad changes in the shape picostim.sim.vcdout.VcdTrace reads (level, edges).

    A floating pad reads as the board's own pull-down on the gate-driver inputs would make
    it: 0 for outputs; an input floats to its pull, which the pads patch already reports."""

    def __init__(self, chip: Silicon) -> None:
        self.chip = chip

    def level(self, gpio: int, t_ns: "Optional[int]" = None) -> int:
        v: Optional[int] = None
        for ns, g, lv in self.chip.pins:
            if t_ns is not None and ns > t_ns:
                break
            if g == gpio:
                v = lv
        if v is None and (t_ns is None or not self.chip.pins):
            v = self.chip.levels[gpio]
        return 1 if v == 1 else 0

    def edges(self, gpio: int, t0: int, t1: int) -> list[tuple[int, int]]:
        return [(ns, 1 if lv == 1 else 0) for ns, g, lv in self.chip.pins if g == gpio and t0 <= ns < t1]
