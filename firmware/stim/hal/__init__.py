"""Hardware access: the only firmware package that imports machine or rp2."""

import sys

# On the rp2 port the two register sequences that bound the kill latency run as Thumb code
# (stim.hal.native_io); a host VM (the model, tests/target) makes the same writes through mem32.
NATIVE = sys.platform == "rp2"
