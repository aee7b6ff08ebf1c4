"""A hung main loop, made on the model: the firmware's next sleep never returns.

This is what a stuck CPU looks like from outside: the main loop stops calling
the controller, so nothing feeds the watchdog and nothing toggles the dynamic
enable, while the hardware carries on. Virtual time keeps passing, so every
event still happens when it falls due: PWM and DMA run, the key and e-stop
hard IRQs still fire the kill path, and the watchdog resets the chip at its
timeout. The reset unwinds the stuck sleep (fakehw.clock.Reset), and the
board boots afresh, so a stall lasts until the next reset of that chip.

The firmware reaches time only through the `time` stand-in (fakehw.vtime),
whose sleep_ms and sleep all go through vtime.sleep_us. `install()` wraps
that one function, once per process; the wrapper does nothing for a chip that
is not marked, so every other board and test runs exactly as before.
"""

from typing import TYPE_CHECKING, Callable

from picostim.fakehw import chip as _chip_mod
from picostim.fakehw import vtime

if TYPE_CHECKING:
    from picostim.fakehw.chip import Chip

SPIN_NS = 1_000_000  # a hung loop, seen from the clock: time moves on in 1 ms steps

# id() of a chip whose firmware is to hang -> len(chip.resets) when the hang was asked for:
# a reset of the chip since then ends the stall.
_stalled: "dict[int, int]" = {}
_original: "list[Callable[[int], None]]" = []


def _sleep_us(us: int) -> None:
    chip = _chip_mod.current()
    resets = _stalled.get(id(chip))
    if resets is not None:
        if resets != len(chip.resets):
            del _stalled[id(chip)]  # the chip was reset before this sleep: the board runs afresh
        else:
            clock = chip.clock
            try:
                while True:  # never returns: only a reset (raised by the clock) gets out
                    clock.advance_to(clock.now_ns() + SPIN_NS)
            finally:
                _stalled.pop(id(chip), None)
    _original[0](us)


def install() -> None:
    """Put the stall hook in front of vtime.sleep_us (idempotent)."""
    if not _original:
        _original.append(vtime.sleep_us)
        vtime.sleep_us = _sleep_us


def hang(chip: "Chip") -> None:
    """From now on, the next sleep of chip's firmware never returns (until a reset)."""
    install()
    _stalled[id(chip)] = len(chip.resets)


def is_hung(chip: "Chip") -> bool:
    return _stalled.get(id(chip)) == len(chip.resets)


def release(chip: "Chip") -> None:
    """Forget a pending stall (the board was closed before it hung)."""
    _stalled.pop(id(chip), None)
