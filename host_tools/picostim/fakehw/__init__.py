"""fakehw: a model of the RP2040 that MicroPython firmware runs on, on the host.

`install(chip)` makes `machine`, `rp2` (and on CPython `micropython` and
`framebuf`) resolve to the stand-ins bound to `chip`. The `time` stand-in (vtime) is installed only
while firmware modules are imported (see `firmware_imports`), because on
CPython the host's own libraries need the real `time`.

Runs on CPython and on the MicroPython unix port.
"""

import sys

from . import chip as _chip_mod
from .chip import Chip
from .clock import Clock, Reset, StopRun

__all__ = ["Chip", "Clock", "Reset", "StopRun", "current", "firmware_imports", "install", "uninstall"]

_IS_MICROPYTHON = sys.implementation.name == "micropython"


def install(chip: "Chip | None" = None) -> Chip:
    """Make `chip` the current chip and the stand-ins importable. Returns the chip."""
    if chip is None:
        chip = Chip()
    from . import machine, rp2

    _chip_mod.set_current(chip)
    sys.modules["machine"] = machine
    sys.modules["rp2"] = rp2
    if not _IS_MICROPYTHON:
        from . import framebuf, micropython_shim

        sys.modules.setdefault("micropython", micropython_shim)
        sys.modules.setdefault("framebuf", framebuf)  # MicroPython has the C module
    return chip


def uninstall() -> None:
    _chip_mod.set_current(None)
    for name in ("machine", "rp2"):
        sys.modules.pop(name, None)


def current() -> Chip:
    return _chip_mod.current()


class firmware_imports:
    """Context manager: while it is open, `import time` yields the virtual clock.

    Firmware modules import at module level only (ruff enforces it), so each
    binds the stand-in once and keeps it after the context closes.
    """

    def __enter__(self) -> "firmware_imports":
        from . import vtime

        self._saved = sys.modules.get("time")
        sys.modules["time"] = vtime
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            sys.modules["time"] = self._saved
