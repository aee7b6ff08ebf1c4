"""`micropython` stand-in for CPython (MicroPython has the real module).

const() is the identity, as MicroPython's compiler makes it; heap_lock and
heap_unlock keep the same depth count but CPython cannot enforce them: the
no-allocation proofs run under the real MicroPython VM (tests/target).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    T = TypeVar("T")

_depth = [0]


def const(x: "T") -> "T":
    return x


def heap_lock() -> None:
    _depth[0] += 1


def heap_unlock() -> int:
    if _depth[0] > 0:
        _depth[0] -= 1
    return _depth[0]


def native(f: "T") -> "T":
    return f


def viper(f: "T") -> "T":
    return f


def alloc_emergency_exception_buf(size: int) -> None:
    return None


def schedule(fn: "Callable[[Any], Any]", arg: "Any") -> None:
    fn(arg)


def opt_level(level: int = -1) -> int:
    return 0


def kbd_intr(chr: int) -> None:
    """The interrupt character of the board's USB serial (fakehw.usbcdc); -1: Ctrl-C is plain data."""
    from . import usbcdc

    usbcdc.kbd_intr(chr)
