"""The flash filesystem model keeps littlefs's promises and no more.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from _util import expect_raises
from picostim.fakehw.chip import PWRON_RESET
from picostim.fakehw.clock import Reset
from picostim.fakehw.flash import ENOENT, ENOSPC, FlashFS, cut_everywhere


def _write(fs: FlashFS, path: str, data: bytes, mode: str = "wb") -> None:
    f = fs.open(path, mode)
    f.write(data)
    f.close()


def test_committed_content_reads_back_and_listdir_stat_see_it() -> None:
    fs = FlashFS()
    _write(fs, "a", b"hello")
    with fs.open("/a", "rb") as f:
        assert f.read(2) == b"he"
        assert f.read() == b"llo"
    with fs.open("a", "r") as f:
        assert f.read() == "hello"
    assert fs.listdir() == ["a"]
    assert fs.stat("a")[6] == 5
    e = expect_raises(OSError, fs.stat, "b")
    assert e.args[0] == ENOENT
    e = expect_raises(OSError, fs.open, "b", "rb")
    assert e.args[0] == ENOENT


def test_unclosed_rewrite_keeps_the_old_content_on_power_cut() -> None:
    fs = FlashFS()
    _write(fs, "a", b"old")
    f = fs.open("a", "wb")
    f.write(b"new content")
    assert fs.read_bytes("a") == b"old"  # not committed before close
    fs.power_cut()
    assert fs.read_bytes("a") == b"old"
    e = expect_raises(OSError, f.write, b"x")  # the handle died with the power
    assert e.args[0] == 9
    f.close()  # closing a dead handle commits nothing
    assert fs.read_bytes("a") == b"old"


def test_never_closed_new_file_survives_empty() -> None:
    fs = FlashFS()
    f = fs.open("n", "wb")
    f.write(b"data")
    fs.power_cut()
    assert fs.files() == {"n": b""}


def test_append_commits_at_close_only() -> None:
    fs = FlashFS()
    _write(fs, "log", b"1\n")
    f = fs.open("log", "ab")
    f.write(b"2\n")
    fs.power_cut()
    assert fs.read_bytes("log") == b"1\n"
    _write(fs, "log", b"3\n", "ab")
    assert fs.read_bytes("log") == b"1\n3\n"


def test_torn_model_keeps_half_written_data() -> None:
    fs = FlashFS(torn=True)
    _write(fs, "a", b"old")
    f = fs.open("a", "wb")
    fs.cut_at = fs.steps  # the next cut point: the middle of this write
    r = expect_raises(Reset, f.write, b"abcdef")
    assert r.cause == PWRON_RESET
    assert fs.read_bytes("a") == b"abc"


def test_rename_is_atomic_and_replaces() -> None:
    fs = FlashFS()
    _write(fs, "a", b"A")
    _write(fs, "b", b"B")
    fs.rename("a", "b")
    assert fs.files() == {"b": b"A"}
    e = expect_raises(OSError, fs.rename, "a", "c")
    assert e.args[0] == ENOENT
    fs.remove("b")
    assert fs.listdir() == []
    e = expect_raises(OSError, fs.remove, "b")
    assert e.args[0] == ENOENT


def test_cut_points_are_open_mid_write_write_close_rename() -> None:
    fs = FlashFS()
    _write(fs, "t", b"xy")  # open (creates), mid-write, write, close
    assert fs.steps == 4
    _write(fs, "t", b"z")  # no create, a one-byte write has no middle, close
    assert fs.steps == 6
    fs.rename("t", "u")
    fs.remove("u")
    assert fs.steps == 8
    fs.open("u", "wb").close()
    assert fs.steps == 10


def test_cut_at_raises_reset_from_the_call_and_keeps_what_survives() -> None:
    fs = FlashFS()
    _write(fs, "a", b"old")
    base = fs.steps
    fs.cut_at = base + 2  # open(a, wb) creates nothing; mid-write=base, write=base+1, close=base+2
    f = fs.open("a", "wb")
    f.write(b"new!")
    r = expect_raises(Reset, f.close)
    assert r.reason == "power cut"
    assert fs.read_bytes("a") == b"new!"  # cut after the close committed
    assert fs.power_cuts == 1 and fs.cut_at == -1


def test_full_flash_fails_writes_with_enospc_and_keeps_old_content() -> None:
    fs = FlashFS(blocks=5, block_size=64)  # 2 metadata + 3 data blocks
    _write(fs, "a", b"x" * 64)
    _write(fs, "b", b"y" * 64)
    assert fs.statvfs("/")[3] == 1
    f = fs.open("a", "wb")  # rewriting a needs a new block while the old one stays
    f.write(b"z" * 64)
    e = expect_raises(OSError, f.write, b"z")
    assert e.args[0] == ENOSPC
    f.close()
    assert fs.read_bytes("a") == b"x" * 64  # a file whose write failed commits nothing
    fs.full = True
    assert fs.statvfs("/")[3] == 0
    f = fs.open("c", "wb")  # creating needs no data block
    e = expect_raises(OSError, f.write, b"1")
    assert e.args[0] == ENOSPC
    f.close()
    assert fs.read_bytes("c") == b""


def test_cut_everywhere_visits_every_point_once() -> None:
    base = FlashFS()
    seen: list[int] = []

    def action(fs: FlashFS) -> None:
        _write(fs, "a", b"1234")

    def check(fs: FlashFS, k: int) -> None:
        seen.append(k)
        assert fs.read_bytes("a") == (b"" if k < 3 else b"1234")

    assert cut_everywhere(base, action, check) == 4
    assert seen == [0, 1, 2, 3]
    assert base.files() == {}  # the base state is never touched
