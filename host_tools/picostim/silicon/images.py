"""The two binaries the silicon tier runs: MicroPython v1.28.0 for the Pico and the RP2040 B1 bootrom.

They are looked for in $PICOSTIM_SILICON_DIR, ../shared/silicon/ beside the repository,
../shared/silicon/ beside the repository a local clone came from (its origin), then in
build/silicon/ (a cache). Failing both, they are downloaded from their upstream
homes. Each file is checked against its pinned sha256 wherever it comes from.
"""

import hashlib
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / "build" / "silicon"

# name -> (sha256 of the copy in ../shared/silicon, upstream address, how to read it)
# The bootrom is the B1 ROM as rp2040js's demo carries it (a TypeScript array of
# 32-bit words), from the rp2040js tag we pin; its bytes are the shared copy's.
# The MicroPython image in ../shared/silicon is a build of the v1.28.0 tag; the
# official download of v1.28.0 is a different build (another date in its banner),
# so no upstream address is pinned for it yet: pin its name and sha256 here on a
# machine that reaches micropython.org's download page. (Checked for issue 11: the
# test machines resolve no address for micropython.org or GitHub, and no PyPI or npm
# package we found carries the official RPI_PICO v1.28.0 image.)
IMAGES: dict[str, tuple[str, str | None, str]] = {
    "RPI_PICO-v1.28.0.uf2": (
        "1d43cc13eec4668aab767e4de9c77800c3ee044781c8a85a381df5d43c822637",
        None,
        "raw",
    ),
    "rp2040-bootrom-B1.bin": (
        "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae",
        "https://raw.githubusercontent.com/wokwi/rp2040js/v1.4.1/demo/bootrom.ts",
        "ts-words",
    ),
}
FIRMWARE = "RPI_PICO-v1.28.0.uf2"
BOOTROM = "rp2040-bootrom-B1.bin"


class ImageMissing(RuntimeError):
    """Neither the shared folder, the cache nor the download gave a file with the pinned hash."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _origin_shared() -> Optional[Path]:
    """../shared/silicon beside the repository this one was cloned from (a local clone's origin)."""
    try:
        url = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False).stdout.strip()
    except OSError:
        return None
    if not url or "://" in url or url.startswith("git@"):
        return None
    origin = Path(url)
    if not origin.is_absolute():
        origin = (REPO / origin).resolve()
    return origin.parent / "shared" / "silicon"


def search_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("PICOSTIM_SILICON_DIR")
    if env:
        dirs.append(Path(env))
    dirs.append(REPO.parent / "shared" / "silicon")
    origin = _origin_shared()
    if origin is not None and origin not in dirs:
        dirs.append(origin)
    dirs.append(CACHE)
    return dirs


def find(name: str, download: bool = True) -> Path:
    """The path of a verified copy of `name`, downloading it into build/silicon/ if need be."""
    sha, url, form = IMAGES[name]
    wrong = []
    for d in search_dirs():
        p = d / name
        if p.is_file():
            if _sha256(p) == sha:
                return p
            wrong.append(str(p))
    why = ""
    if download and url is None:
        why = "no upstream address is pinned for it"
    elif download and url is not None:
        CACHE.mkdir(parents=True, exist_ok=True)
        dst = CACHE / name
        try:
            with urllib.request.urlopen(url, timeout=30) as r:  # a fixed https address, pinned by sha256
                data = _decode(r.read(), form)
            if hashlib.sha256(data).hexdigest() == sha:
                dst.write_bytes(data)
                return dst
            why = "the download from " + url + " has the wrong sha256"
        except OSError as e:
            why = "downloading " + url + " failed (" + str(e) + ")"
    raise ImageMissing(
        "silicon tier: " + name + " (sha256 " + sha + ") not found"
        + ("; wrong hash in " + ", ".join(wrong) if wrong else "")
        + ("; " + why if why else "")
        + ". Put it in " + " or ".join(str(d) for d in search_dirs()[:-1])
        + " (see ../shared/silicon/README.md for where it comes from)."
    )


def _decode(data: bytes, form: str) -> bytes:
    """A downloaded file as the bytes the emulator loads."""
    if form == "raw":
        return data
    # "ts-words": `export const bootromB1 = new Uint32Array([0x..., ...]);`
    body = data.decode("ascii", "replace")
    body = body[body.index("[") + 1 : body.rindex("]")]
    words = [int(w, 0) for w in body.replace("\n", " ").split(",") if w.strip()]
    return b"".join(w.to_bytes(4, "little") for w in words)
