"""The board's flash filesystem: an in-memory model of littlefs, with power cuts.

`FlashFS` offers the subset of `os` and `open` that stim.store uses (open with
write/read/close, rename, remove, listdir, stat, statvfs) and keeps littlefs's
promises and no more:

- A file's content is committed only by close(). Until then its writes live
  in the open file; a power cut loses them and leaves the previous committed
  content (empty for a file that did not exist: littlefs commits a new file's
  directory entry at open, so a never-closed new file survives empty).
- rename() is atomic and replaces the target.
- Data is copy-on-write: a file being rewritten holds its new blocks while its
  old ones stay allocated, so a full flash fails a write with OSError(ENOSPC).
  After a failed write, close() commits nothing (littlefs's LFS_F_ERRED).

The test bench side:

- `cut_at = k` cuts the power at cut point k (0-based, counted in `steps`).
  Cut points: after an open that created a file, in the middle of a write
  (half the data written), after a write, after a close that committed, after
  a rename, after a remove. The cut drops what littlefs would lose, kills every
  open file (later calls on it raise OSError(EBADF)), and raises
  Reset(PWRON_RESET, "power cut") out of the call. A test then "reboots" by
  using the same FlashFS from new firmware objects.
- `torn = True` models a weaker filesystem (FAT-like, no copy-on-write): a cut
  leaves an open file with exactly what was written to it so far, half-written
  data included. Firmware that never trusts content survives this too.
- `full = True` makes every allocation of a new block fail with ENOSPC.
- `cut_everywhere()` runs an action once per cut point on copies of a state.

Space accounting is approximate: `blocks` blocks of `block_size` bytes, two
for the root metadata pair, and ceil(size / block_size) per file.

Runs unchanged on CPython and on the MicroPython unix port.
"""

from .chip import PWRON_RESET
from .clock import Reset

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

ENOENT = 2
EIO = 5
EBADF = 9
EEXIST = 17
EINVAL = 22
ENOSPC = 28

BLOCK_SIZE = 4096  # the rp2 port's littlefs block (one flash erase sector)
DEFAULT_BLOCKS = 352  # 1408 KiB: the Pico's MicroPython filesystem
META_BLOCKS = 2  # the root directory's metadata pair
NAME_MAX = 255  # LFS_NAME_MAX
_S_IFREG = 0x8000
_S_IFDIR = 0x4000


def _err(code: int, what: str) -> OSError:
    # OSError(errno, text): .errno and args[0] are the errno on both interpreters.
    return OSError(code, what)


class _File:
    """One open file. Writable files hold their uncommitted content in `_buf`."""

    def __init__(self, fs: "FlashFS", path: str, binary: bool, writable: bool, data: bytes, shared: int) -> None:
        self._fs = fs
        self._path = path
        self._binary = binary
        self._writable = writable
        self._buf = bytearray(data)
        self._shared = shared  # blocks still shared with the committed content (append)
        self._dirty = False  # written to since open
        self._erred = False  # a write failed: littlefs then skips the commit at close
        self._pos = 0
        self._gen = fs._gen
        self._closed = False

    def _alive(self) -> None:
        if self._closed or self._gen != self._fs._gen:
            raise _err(EBADF, "file closed or power lost")

    def extra_blocks(self) -> int:
        """Blocks this open file has allocated beyond the committed content."""
        if not self._dirty:
            return 0
        return self._fs._blocks(len(self._buf)) - self._shared

    def write(self, data: "Any") -> int:
        self._alive()
        if not self._writable:
            raise _err(EBADF, "file not open for writing")
        b = data.encode() if isinstance(data, str) else bytes(data)
        fs = self._fs
        need = fs._blocks(len(self._buf) + len(b)) - self._shared - self.extra_blocks()
        if b and need > fs.free_blocks():
            self._erred = True
            raise _err(ENOSPC, "no space left on device")
        self._dirty = True
        half = len(b) // 2
        if half:
            self._buf.extend(b[:half])
            fs._point()  # power cut in the middle of the write
            self._buf.extend(b[half:])
        else:
            self._buf.extend(b)
        fs._point()
        return len(b)

    def read(self, n: int = -1) -> "Any":
        self._alive()
        if self._writable:
            raise _err(EBADF, "file not open for reading")
        end = len(self._buf) if n < 0 else min(len(self._buf), self._pos + n)
        chunk = bytes(self._buf[self._pos:end])
        self._pos = end
        return chunk if self._binary else chunk.decode()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        fs = self._fs
        if self._gen != fs._gen:
            return  # the power failed while it was open: nothing to commit
        if self in fs._open:
            fs._open.remove(self)
        if self._writable and not self._erred:
            fs._files[self._path] = bytes(self._buf)
            fs._point()

    def __enter__(self) -> "_File":
        return self

    def __exit__(self, *exc: "Any") -> None:
        self.close()


class FlashFS:
    """An in-memory littlefs: see the module docstring for what it keeps and loses."""

    def __init__(self, blocks: int = DEFAULT_BLOCKS, block_size: int = BLOCK_SIZE, torn: bool = False) -> None:
        if blocks <= META_BLOCKS or block_size <= 0:
            raise ValueError("flash too small")
        self.blocks = blocks
        self.block_size = block_size
        self.torn = torn
        self.full = False
        self.cut_at = -1  # cut the power at this cut point; -1: never
        self.steps = 0  # cut points passed so far
        self.power_cuts = 0
        self._files: Dict[str, bytes] = {}  # committed content
        self._open: List[_File] = []
        self._gen = 0  # power generation: files opened before a cut are dead

    # -- the filesystem API the firmware uses ----------------------------------
    def open(self, path: str, mode: str = "r") -> _File:
        p = self._name(path)
        kind = mode.replace("b", "").replace("t", "")
        binary = "b" in mode
        if kind == "r":
            if p not in self._files:
                raise _err(ENOENT, "no such file: " + p)
            f = _File(self, p, binary, False, self._files[p], 0)
            self._open.append(f)
            return f
        if kind not in ("w", "a", "x"):
            raise ValueError("mode not supported by the model: " + mode)
        created = p not in self._files
        if kind == "x" and not created:
            raise _err(EEXIST, "file exists: " + p)
        if created:
            self._files[p] = b""
        old = self._files[p]
        if kind == "a":
            f = _File(self, p, binary, True, old, len(old) // self.block_size)
        else:
            f = _File(self, p, binary, True, b"", 0)
        self._open.append(f)
        if created:
            self._point()  # the new, empty file is committed
        return f

    def rename(self, old: str, new: str) -> None:
        a = self._name(old)
        b = self._name(new)
        if a not in self._files:
            raise _err(ENOENT, "no such file: " + a)
        if a != b:
            self._files[b] = self._files.pop(a)
        self._point()

    def remove(self, path: str) -> None:
        p = self._name(path)
        if p not in self._files:
            raise _err(ENOENT, "no such file: " + p)
        del self._files[p]
        self._point()

    def listdir(self, path: str = "") -> "List[str]":
        if path not in ("", "/", "."):
            raise _err(ENOENT, "no such directory: " + path)
        return sorted(self._files)

    def stat(self, path: str) -> "Tuple[int, ...]":
        if path in ("", "/", "."):
            return (_S_IFDIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        p = self._name(path)
        if p not in self._files:
            raise _err(ENOENT, "no such file: " + p)
        return (_S_IFREG, 0, 0, 0, 0, 0, len(self._files[p]), 0, 0, 0)

    def statvfs(self, path: str = "") -> "Tuple[int, ...]":
        """(bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax), as vfs_lfs."""
        free = self.free_blocks()
        bs = self.block_size
        return (bs, bs, self.blocks, free, free, 0, 0, 0, 0, NAME_MAX)

    # -- the test bench ----------------------------------------------------------
    def free_blocks(self) -> int:
        if self.full:
            return 0
        used = META_BLOCKS
        for data in self._files.values():
            used += self._blocks(len(data))
        for f in self._open:
            used += f.extra_blocks()
        return max(0, self.blocks - used)

    def power_cut(self) -> None:
        """Lose the power now: keep what littlefs (or, if torn, a FAT-like fs) keeps."""
        if self.torn:
            for f in self._open:
                if f._writable:
                    self._files[f._path] = bytes(f._buf)
        self._open = []
        self._gen += 1
        self.cut_at = -1
        self.power_cuts += 1

    def copy(self) -> "FlashFS":
        """A new flash holding this one's committed files (no open files, no cut set)."""
        fs = FlashFS(self.blocks, self.block_size, self.torn)
        fs._files = dict(self._files)
        return fs

    def files(self) -> "Dict[str, bytes]":
        """The committed files: name -> content."""
        return dict(self._files)

    def read_bytes(self, path: str) -> bytes:
        return self._files[self._name(path)]

    def write_bytes(self, path: str, data: bytes) -> None:
        """Set a file's committed content directly (test set-up: no cut point)."""
        self._files[self._name(path)] = bytes(data)

    def corrupt(self, path: str, offset: int, xor: int = 0x01) -> None:
        """Flip bits in a committed file, as a worn or disturbed flash cell would."""
        data = bytearray(self._files[self._name(path)])
        data[offset] ^= xor
        self._files[self._name(path)] = bytes(data)

    # -- internals -----------------------------------------------------------------
    def _blocks(self, size: int) -> int:
        return (size + self.block_size - 1) // self.block_size

    def _name(self, path: str) -> str:
        p = path[1:] if path.startswith("/") else path
        if not p or "/" in p or len(p) > NAME_MAX:
            raise _err(ENOENT if p else EINVAL, "the model has one flat directory: " + path)
        return p

    def _point(self) -> None:
        n = self.steps
        self.steps = n + 1
        if n == self.cut_at:
            self.power_cut()
            raise Reset(PWRON_RESET, "power cut")


def cut_everywhere(base: FlashFS, action: "Callable[[FlashFS], Any]",
                   check: "Callable[[FlashFS, int], Any]", limit: "Optional[int]" = None) -> int:
    """Cut the power at every cut point of `action`; return how many there were.

    `action(fs)` runs once on a copy of `base` without a cut, to count its cut
    points, then once per point k on a fresh copy with the power cut there.
    After each cut, `check(fs, k)` inspects what survived (typically: boot a
    new Store on fs and compare). `limit` caps the points tried.
    """
    dry = base.copy()
    action(dry)
    n = dry.steps if limit is None else min(dry.steps, limit)
    for k in range(n):
        fs = base.copy()
        fs.cut_at = k
        try:
            action(fs)
        except Reset:
            pass
        else:
            raise RuntimeError("cut point " + str(k) + " was never reached: the action is not deterministic")
        check(fs, k)
    return n
