"""`rp2` stand-in: the parts of MicroPython's rp2 module the firmware uses."""

from . import chip as _chip
from .dma import DMA

__all__ = ["DMA", "bootsel_button"]


def bootsel_button() -> int:
    """The BOOTSEL button, pressed (1) or not (0), as the world last set it."""
    return _chip.current().bootsel
