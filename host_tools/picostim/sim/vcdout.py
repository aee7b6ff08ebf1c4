"""Waveforms of a simulated board as a VCD file (pyvcd), for GTKWave or PulseView.

Every value change comes from the model's own history (Chip.edges, which
covers pads driven by SIO and by the PWM slices alike), so the file shows the
pins exactly as the model drove them, at the model's 1 ns resolution: a 20 us
pulse phase is 20000 time units, and edges land on the 8 ns sysclk grid.

All signals are 1-bit wires (the one type every viewer reads). Names are
unique on their own (CH1_pulse_a, output_enable, key, ...), because some
viewers drop the scope; scopes group them for those that keep it.

Use: `trace = VcdTrace(path, chip, board)`, then `trace.flush(t_ns)` whenever
the model has run up to t_ns (it writes every change before t_ns), and
`trace.close(t_ns)` at the end. Call `flush` before dropping history with
Chip.forget_before.
"""

import datetime
from typing import IO, TYPE_CHECKING, Any

from vcd import VCDWriter

from picostim import __version__ as _version

from .readout import traced_pins

if TYPE_CHECKING:
    from stim.board import Board

    from picostim.fakehw.chip import Chip

TIMESCALE = "1 ns"
TOP_SCOPE = "picostim"


def signal_name(scope: str, name: str) -> str:
    """The VCD reference for one traced pin: unique without its scope."""
    if scope in ("outputs", "inputs"):
        return name if scope == "outputs" or name in ("key", "estop") else "btn_" + name
    return scope + "_" + name


class VcdTrace:
    def __init__(self, path: str, chip: "Chip", board: "Board", t0_ns: int = 0) -> None:
        self.chip = chip
        self.path = path
        self._f: IO[str] = open(path, "w", encoding="ascii")
        self._w = VCDWriter(
            self._f,
            timescale=TIMESCALE,
            date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            comment="PicoStim simulator: board %s; GPIO levels of the RP2040 model" % board.name,
            version="picostim " + _version,
            init_timestamp=t0_ns,
        )
        self.signals: list[tuple[str, int]] = []  # (reference, gpio)
        self._vars: list[Any] = []
        self._last: list[int] = []
        for scope, name, gpio in traced_pins(board):
            ref = signal_name(scope, name)
            level = chip.level(gpio, t0_ns)
            self._vars.append(self._w.register_var(TOP_SCOPE + "." + scope, ref, "wire", size=1, init=level))
            self.signals.append((ref, gpio))
            self._last.append(level)
        self.t_done = t0_ns
        self.changes = 0

    def flush(self, t_ns: int) -> None:
        """Write every change in [t_done, t_ns), in time order."""
        if t_ns <= self.t_done:
            return
        events: list[tuple[int, int, int]] = []
        for i, (_ref, gpio) in enumerate(self.signals):
            for t, v in self.chip.edges(gpio, self.t_done, t_ns):
                events.append((t, i, v))
        events.sort()
        for t, i, v in events:
            if v != self._last[i]:
                self._w.change(self._vars[i], t, v)
                self._last[i] = v
                self.changes += 1
        self.t_done = t_ns

    def close(self, t_ns: int) -> None:
        self.flush(t_ns)
        self._w.close(t_ns)
        self._f.close()
