"""PicoStim host tools: the RP2040 model (fakehw), the simulator, and board tools."""

__version__ = "0.1.0"
