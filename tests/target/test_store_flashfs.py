"""stim.hal.flashfs: the store on a real filesystem (a scratch directory), through os and open.

Runs under pytest and under the MicroPython VM (tests/target/run.py), so the
wrapper is exercised with both interpreters' os modules.
"""

import os
import time

from _util import expect_raises, skip_on_wasm_vm
from stim.hal.flashfs import FlashFS
from stim.store import Settings
from test_store_files import boot, defaults, flush_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def _in_scratch_dir(body: "Callable[[FlashFS], Any]") -> None:
    root = "/tmp/picostim-store-" + str(time.time_ns())
    os.mkdir(root)
    try:
        body(FlashFS(root))
    finally:
        for name in os.listdir(root):
            os.remove(root + "/" + name)
        os.rmdir(root)


def test_store_round_trip_on_a_real_filesystem() -> None:
    def body(fs: FlashFS) -> None:
        s = boot(fs)
        assert s.warnings == []
        s.put_settings(Settings([3, 4], "p1", {"contrast": 9, "flip": 1}))
        s.put_program("p1", {"freq_hz": 40})
        s.log_reset("power-on", 7)
        assert flush_all(s) == 3
        assert sorted(fs.listdir()) == ["log.0", "prog-p1.json", "settings.json"]  # no .tmp left
        s = boot(fs)
        assert s.warnings == []
        assert s.settings.limits_ua == [3, 4]
        assert s.programs == {"p1": ("validated", 40)}
        assert [r["k"] for r in s.read_log()] == ["reset"]
        free = s.free_bytes()
        assert free is not None and free > 0

    _in_scratch_dir(body)


def test_a_corrupt_file_on_a_real_filesystem_is_kept_aside() -> None:
    def body(fs: FlashFS) -> None:
        with fs.open("settings.json", "wb") as f:
            f.write(b'{"v":1,"limits_ua":[1,2],"crc":1}\n')
        s = boot(fs)
        assert s.settings.fields() == defaults().fields()
        assert s.warnings == ["settings.json: CRC mismatch; defaults used; kept as settings.json.bad-0"]
        assert fs.stat("settings.json.bad-0")[6] == 34

    _in_scratch_dir(body)


def test_errors_are_oserrors_with_errno() -> None:
    # The webassembly port's os (VfsPosix over emscripten's libc) puts the libc errno in args[0],
    # where ENOENT is 44, while its own errno.ENOENT is MicroPython's 2. The RP2040's littlefs
    # raises MicroPython's numbers (ENOENT 2), which is what stim.store compares with.
    skip_on_wasm_vm("the wasm port's os errors carry emscripten errno numbers (ENOENT 44, not 2)")

    def body(fs: FlashFS) -> None:
        e = expect_raises(OSError, fs.remove, "missing")
        assert e.args[0] == 2
        e = expect_raises(OSError, fs.open, "missing", "rb")
        assert e.args[0] == 2
        e = expect_raises(OSError, fs.rename, "missing", "other")
        assert e.args[0] == 2

    _in_scratch_dir(body)
