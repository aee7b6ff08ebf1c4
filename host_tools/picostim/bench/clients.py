"""Bench: client profiles (stim.clients) and the dose guard (stim.doseguard).

- clients.profiles_max: profiles a board keeps: PROFILES_MAX filled with
  worst-case profiles (4 channels, long program names, every field set),
  flushed to the flash model and read back after a reboot; the count that
  came back.
- clients.flash_bytes: the size of that clients.json (one file; while it is
  replaced, its .tmp holds as much again for a moment).
- clients.ram_bytes: heap those loaded profiles take on the MicroPython unix
  VM (gc.mem_alloc after a collect, Store and Clients built, minus a Store
  alone). The VM is 64-bit, so read it as an upper bound for the RP2040.
- clients.guard_sequences, clients.guard_violations, clients.guard_sessions:
  random sequences of days, clock losses, edits, screenings, sessions with and
  without overrides and power cuts (picostim.guardcheck), the sequences in which
  the guard allowed something outside the policy or a profile or override
  record was lost (must be 0), and the sessions that ran.
"""

import subprocess
import sys
from pathlib import Path
from typing import Callable

from picostim import guardcheck
from picostim.boardcheck import _use_firmware
from picostim.fakehw.flash import FlashFS

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
CHANNELS = 4
MAX_UA = [100_000] * CHANNELS
GUARD_SEQUENCES = 20_000
SEED = 13

_use_firmware()
from stim import clients, store  # noqa: E402 - firmware/ is importable only after _use_firmware()

_PROBE = """
import gc, sys
for p in ("host_tools", "firmware"):
    sys.path.insert(0, p)
from picostim.fakehw.flash import FlashFS
from stim import store, clients
fs = FlashFS()
fs.write_bytes("clients.json", open(%r, "rb").read())
empty = FlashFS()
def measure(f):
    gc.collect()
    m0 = gc.mem_alloc()
    keep = f()
    gc.collect()
    return gc.mem_alloc() - m0, keep
base, _a = measure(lambda: store.Store(empty, store.Settings([0] * %d)))
full, c = measure(lambda: clients.Clients(store.Store(fs, store.Settings([0] * %d)), %d))
print("loaded", len(c.profiles))
print("heap", full - base)
"""


def worst_profile(i: int) -> dict[str, object]:
    return {"id": "C%07d" % i, "limits_ua": MAX_UA, "program": "x" * clients.PROGRAM_MAX,
            "screened": 4_000_000_000, "sessions": clients.SESSIONS_MAX, "last": 4_000_000_000,
            "peak_ua": MAX_UA}


def full_flash() -> FlashFS:
    fs = FlashFS()
    c = clients.Clients(store.Store(fs, store.Settings([0] * CHANNELS)), CHANNELS, MAX_UA)
    for i in range(clients.PROFILES_MAX):
        c.put(worst_profile(i))
    while c.store.flush(True):
        pass
    return fs


def _ram(fs: FlashFS, progress: Callable[[str], None]) -> int:
    path = REPO / "build" / "clients-bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(fs.read_bytes(clients.CLIENTS_FILE))
    probe = _PROBE % (str(path), CHANNELS, CHANNELS, CHANNELS)
    out = subprocess.run([str(BIN / "micropython"), "-c", probe], cwd=REPO, check=True, capture_output=True,
                         text=True).stdout
    path.unlink()
    loaded = heap = -1
    for line in out.splitlines():
        if line.startswith("loaded "):
            loaded = int(line.split()[1])
        if line.startswith("heap "):
            heap = int(line.split()[1])
    if loaded != clients.PROFILES_MAX:
        raise RuntimeError("the MicroPython VM loaded %d profiles, not %d" % (loaded, clients.PROFILES_MAX))
    progress("%d profiles take %d bytes of heap (64-bit unix VM)" % (loaded, heap))
    return heap


def measure(progress: Callable[[str], None]) -> dict[str, int | float]:
    fs = full_flash()
    back = clients.Clients(store.Store(fs, store.Settings([0] * CHANNELS)), CHANNELS, MAX_UA)
    if back.warning is not None:
        raise RuntimeError(back.warning)
    flash_bytes = len(fs.read_bytes(clients.CLIENTS_FILE))
    progress("%d profiles in %d bytes of clients.json" % (len(back.profiles), flash_bytes))
    ram = _ram(fs, progress)
    seqs, sessions, bad, first = guardcheck.search(SEED, GUARD_SEQUENCES)
    progress("%d guard sequences, %d sessions, %d with a violation" % (seqs, sessions, bad))
    if first:
        progress("first violation: " + first[:400])
    return {"clients.profiles_max": len(back.profiles), "clients.flash_bytes": flash_bytes,
            "clients.ram_bytes": ram, "clients.guard_sequences": seqs, "clients.guard_violations": bad,
            "clients.guard_sessions": sessions}
