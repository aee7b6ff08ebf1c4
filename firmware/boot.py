# First statements on the board: output-enable inactive, every stim pin low.
from stim.hal.rp2040 import BOARD_FILE, force_outputs_safe

force_outputs_safe(BOARD_FILE)
