"""The simulator: firmware/ running unchanged on the RP2040 model (fakehw)."""
