"""Bench: how big the firmware is, in flash and in RAM.

- firmware.mpy_bytes: every firmware file compiled as deploy does (mpy-cross
  -O1 -march=armv6m; boot.py and main.py stay source), summed: what the board's
  littlefs holds besides the board file and data.
- firmware.import_heap_unix_bytes: heap in use after importing stim.app (which
  imports every firmware module) on the MicroPython unix VM, after a collect.
  The VM is 64-bit, so objects are up to twice their RP2040 size: read it as an
  upper bound for the RAM the loaded modules take on the board, where the
  MicroPython heap is roughly 160-200 KB.
"""

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from picostim.devtools.tiers import firmware_files

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SOURCE_ONLY = {"boot.py", "main.py"}  # MicroPython runs these two from source

_PROBE = """
import gc, sys
for p in ("host_tools", "firmware/lib", "firmware"):
    sys.path.insert(0, p)
from picostim import fakehw
fakehw.install()
gc.collect()
m0 = gc.mem_alloc()
import stim.app
gc.collect()
print("heap", gc.mem_alloc() - m0)
"""


def _mpy_bytes(progress: Callable[[str], None]) -> int:
    total = 0
    with tempfile.TemporaryDirectory() as d:
        for src in firmware_files():
            if src.name in SOURCE_ONLY and src.parent.name == "firmware":
                total += src.stat().st_size
                continue
            dst = Path(d) / (src.stem + ".mpy")
            subprocess.run([str(BIN / "mpy-cross"), "-O1", "-march=armv6m", "-o", str(dst), str(src)], check=True)
            total += dst.stat().st_size
    progress("%d bytes of firmware on flash" % total)
    return total


def _import_heap(progress: Callable[[str], None]) -> int:
    out = subprocess.run([str(BIN / "micropython"), "-c", _PROBE], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        if line.startswith("heap "):
            n = int(line.split()[1])
            progress("%d bytes of heap after importing stim.app (64-bit unix VM)" % n)
            return n
    raise RuntimeError("the MicroPython probe printed no heap figure: " + out)


def measure(progress: Callable[[str], None]) -> dict[str, float | int]:
    return {"firmware.mpy_bytes": _mpy_bytes(progress), "firmware.import_heap_unix_bytes": _import_heap(progress)}
