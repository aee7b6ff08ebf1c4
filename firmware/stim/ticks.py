"""Wrap-safe arithmetic on tick values, as MicroPython's time.ticks_diff/ticks_add.

On the RP2040 ticks_ms and ticks_us wrap at 2**30. The pure core does its
time arithmetic here, on plain ints, so the same code runs on the board, on
CPython and on the MicroPython VM, and a session crossing the wrap (ticks_us
wraps every 17.9 minutes) behaves exactly as one that does not.

Every intermediate value stays within -2**30..2**30-1 for ticks in 0..2**30-1
and the deltas add() accepts: on a 32-bit port that is the small-int range,
and an int outside it is boxed on the heap, so `a - b + 2**29` or `t + delta`
near the wrap would allocate on the tick path (MemoryError under heap_lock).
Adding 2**29 modulo 2**30 only flips bit 29, so it is done with `^`.
"""

from micropython import const

PERIOD = const(1 << 30)
_MASK = const((1 << 30) - 1)
_HALF = const(1 << 29)


def diff(a: int, b: int) -> int:
    """a - b, correct across one wrap, in [-2**29, 2**29)."""
    return (((a - b) & _MASK) ^ _HALF) - _HALF


def add(t: int, delta: int) -> int:
    if delta <= -_HALF or delta >= _HALF:
        raise OverflowError("ticks interval overflow")
    return ((t - _HALF + delta) & _MASK) ^ _HALF


# On a port whose ticks wrap at 2**30 too (the rp2 port, every 32-bit port), MicroPython's own
# time.ticks_diff and ticks_add compute the same values, raise the same OverflowError, and cost
# a C call where these cost a Python one (~7 us more a call on silicon, several calls a tick).
try:
    from time import ticks_add as _c_add  # type: ignore[attr-defined, unused-ignore]
    from time import ticks_diff as _c_diff  # type: ignore[attr-defined, unused-ignore]

    if _c_add(0, -1) == _MASK and _c_diff(0, _MASK) == 1:  # type: ignore[type-var, unused-ignore]
        diff = _c_diff  # type: ignore[assignment, unused-ignore]
        add = _c_add  # type: ignore[assignment, unused-ignore]
except ImportError:  # CPython; a 64-bit MicroPython port wraps elsewhere and keeps the above
    pass
