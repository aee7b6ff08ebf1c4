"""`time` stand-in: MicroPython's ticks API on the model's virtual clock.

The firmware's hal imports `time`; the runner hands it this module instead, so
ticks_ms/ticks_us wrap at 2**30 exactly as on the board and sleeping moves
virtual time (running every event that falls due) instead of wall time.
"""

from . import chip as _chip

try:
    from .pycost import firmware_turn as _firmware_turn
except ImportError:  # the MicroPython VM (no functools): nothing there is charged Python time
    _firmware_turn = [False]
from .clock import ticks_add, ticks_diff

__all__ = ["sleep", "sleep_ms", "sleep_us", "ticks_add", "ticks_cpu", "ticks_diff", "ticks_ms", "ticks_us",
           "time", "time_ns"]

# Seconds since 2000-01-01 (MicroPython's epoch on rp2) at power-on, until the
# host sets the RTC. Kept by the world across resets, as the board's RTC is not.
_EPOCH_OFFSET_S = [0]


def ticks_ms() -> int:
    return _chip.current().clock.ticks_ms()


def ticks_us() -> int:
    return _chip.current().clock.ticks_us()


def ticks_cpu() -> int:
    return _chip.current().clock.ticks_cpu()


def sleep_us(us: int) -> None:
    c = _chip.current().clock
    if us > 0:
        t0 = c.now_ns()
        c.advance_to(t0 + us * 1000)
        if c.sleeps is not None:
            c.sleeps.append((t0, c.now_ns()))
        wake = c.cost.get("wake_ns", 0)  # the way back from a sleep, and the loop's Python after it
        if wake and _firmware_turn[0]:
            c.advance(wake)
    else:
        c.charge_call()


def sleep_ms(ms: int) -> None:
    sleep_us(ms * 1000)


def sleep(s: float) -> None:
    sleep_us(int(s * 1_000_000))


def time() -> int:
    return _EPOCH_OFFSET_S[0] + _chip.current().clock.time_us() // 1_000_000


def time_ns() -> int:
    return _EPOCH_OFFSET_S[0] * 1_000_000_000 + _chip.current().clock.time_us() * 1000


def set_time(epoch_s: int) -> None:
    """What machine.RTC().datetime(...) does on the board: set the wall clock."""
    _EPOCH_OFFSET_S[0] = epoch_s - _chip.current().clock.time_us() // 1_000_000
