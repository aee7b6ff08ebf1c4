"""The board's flash filesystem as stim.store uses it: a thin wrapper over os and open.

On the board the littlefs root is the current directory, so `root` stays "".
Tests on the host give a directory to keep the files in. Errors are the
OSErrors os and open raise (errno in args[0]); nothing is caught here.
The model of this filesystem, with power cuts, is picostim.fakehw.flash.
"""

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Tuple


class FlashFS:
    def __init__(self, root: str = "") -> None:
        self.root = root

    def _path(self, path: str) -> str:
        return self.root + "/" + path if self.root else path

    def open(self, path: str, mode: str) -> "Any":
        return open(self._path(path), mode)

    def rename(self, old: str, new: str) -> None:
        os.rename(self._path(old), self._path(new))

    def remove(self, path: str) -> None:
        os.remove(self._path(path))

    def listdir(self, path: str = "") -> "List[str]":
        p = self._path(path) if path else self.root
        return os.listdir(p) if p else os.listdir()

    def stat(self, path: str) -> "Tuple[int, ...]":
        return tuple(int(x) for x in os.stat(self._path(path)))

    def statvfs(self, path: str) -> "Tuple[int, ...]":
        return tuple(os.statvfs(self._path(path) if path not in ("", "/") else (self.root or "/")))
