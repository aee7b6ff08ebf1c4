"""pytest set-up: firmware/ and tests/target/ importable, `micropython` shimmed.

tests/target/ files run both here and on the MicroPython VM (tests/target/run.py).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for sub in ("firmware", "host_tools", "tests/target"):
    p = str(REPO / sub)
    if p not in sys.path:
        sys.path.insert(0, p)

from picostim.fakehw import micropython_shim  # noqa: E402

sys.modules.setdefault("micropython", micropython_shim)
