"""Deploy the firmware into an emulated RP2040's flash, as `picostim deploy` does on a board.

The same steps as picostim.deploy.Deploy, with the raw REPL in place of mpremote:

1. check the board file (an invalid one is refused with the board check's line);
2. ask the board which .mpy it loads, pick a matching mpy-cross;
3. compile every firmware file with -O1 and the board's -march into build/silicon/deploy/;
4. on the emulated chip: remove the old package, write board.json, the .mpy files,
   boot.py and main.py (last), all through littlefs and the flash's ROM routines;
5. save the whole 2 MB flash as build/silicon/flash-<key>.bin.

The key hashes the firmware image, the board file, the firmware sources and the compiler,
so an unchanged tree reuses its image, and any change builds a new one. A chip started
from that image (`Silicon(flash=...)`) boots boot.py and main.py from power-on, as a
board does after a deploy and a power cycle.
"""

import binascii
import hashlib
from collections.abc import Callable
from pathlib import Path

from picostim import deploy as _deploy
from picostim.silicon import images
from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl

CACHE = images.CACHE
BUILD_DIR = CACHE / "deploy"
CHUNK = 3072  # bytes per raw-REPL write: 4 KB of base64, well inside MicroPython's heap
BOOT_TO_REPL_NS = 1_600_000_000


class SiliconDeploy(_deploy.Deploy):
    """Deploy onto an emulated chip; `image()` gives the flash image with the firmware in it."""

    def __init__(self, board_file: str, out: Callable[[str], object] = print,
                 cache: Path = CACHE) -> None:
        super().__init__("emulated RP2040", board_file, out=out, build_dir=cache / "deploy")
        self.cache = cache
        self.repl: RawRepl | None = None

    def key(self) -> str:
        h = hashlib.sha256()
        h.update(images.IMAGES[images.FIRMWARE][0].encode())
        h.update(Path(self.board_file).read_bytes())
        for src in sorted(self.firmware_dir.rglob("*.py")):
            if "__pycache__" in src.parts:
                continue
            h.update(src.relative_to(self.firmware_dir).as_posix().encode())
            h.update(src.read_bytes())
        p = self.run([*_deploy.mpy_cross_cmd(), "--version"])
        h.update(p.stdout.encode())
        return h.hexdigest()[:16]

    def image_path(self) -> Path:
        return self.cache / ("flash-" + self.key() + ".bin")

    def image(self) -> Path:
        """The flash image holding MicroPython and this deploy, built if it is not cached."""
        self.check_board_file()
        path = self.image_path()
        if path.is_file():
            self.out("silicon deploy: reusing " + str(path))
            return path
        self.cache.mkdir(parents=True, exist_ok=True)
        # Flash at zero time here: the image is the same, and building it is not what we measure.
        with Silicon(flash_timing="zero", keep_pins=False) as chip:
            chip.run_until(BOOT_TO_REPL_NS)
            self.repl = RawRepl(chip)
            self.repl.enter()
            board = self.query_board()
            self.compile(self.pick_compiler(board), board)
            self.copy_and_reset()
            tmp = path.with_suffix(".tmp")
            chip.save_flash(tmp)
            tmp.replace(path)
        self.out("silicon deploy: flash image " + str(path))
        return path

    # -- the two steps that use mpremote on a board ---------------------------------------
    def query_board(self) -> _deploy.MpyVersion:
        if self.repl is None:
            raise _deploy.DeployError("no emulated chip to query")
        mpy, version = _deploy.parse_query(self.repl.exec(_deploy.QUERY))
        self.out("emulated board: MicroPython %s, loads .mpy %s, arch %s" % (version, mpy.text(), mpy.arch or "none"))
        return mpy

    def copy_and_reset(self) -> None:
        repl = self.repl
        if repl is None:
            raise _deploy.DeployError("no emulated chip to copy to")
        repl.exec(self.prepare())
        put_file(repl, "/board.json", Path(self.board_file).read_bytes())
        for rel in self._compiled_rel():
            put_file(repl, "/" + rel.as_posix(), (self.build_dir / rel).read_bytes())
        for name in _deploy.SOURCE_FILES:  # main.py last, as on a board
            put_file(repl, "/" + name, (self.build_dir / name).read_bytes())
        listing = repl.exec("import os\nprint(sorted(os.listdir('/')), sorted(os.listdir('/stim')))")
        self.out("copied board.json, %d .mpy files, boot.py, main.py: %s" % (len(self.compiled), listing.strip()))


def put_file(repl: RawRepl, path: str, data: bytes) -> None:
    """Write a file on the board through the raw REPL, in base64 chunks."""
    repl.exec("import binascii\nf=open(%r,'wb')\nw=f.write\na=binascii.a2b_base64" % path)
    for i in range(0, len(data), CHUNK):
        repl.exec("w(a(%r))" % binascii.b2a_base64(data[i:i + CHUNK], newline=False).decode())
    repl.exec("f.close()\nimport os\nprint(os.stat(%r)[6])" % path)
