"""stim.store: settings and custom programs on the flash model.

Runs under pytest and under the MicroPython VM (tests/target/run.py). The
helpers here (defaults, boot, flush_all, validate) serve the other
test_store_* files too.
"""

from _util import expect_raises
from picostim.fakehw.flash import FlashFS
from stim import programs, store
from stim.store import Settings, Store, encode_record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List

    from stim.store import FS

MAX_UA = [50_000, 80_000]


def defaults() -> Settings:
    return Settings([20_000, 30_000], "lbp", {"contrast": 200, "flip": 0})


def validate(d: "Dict[str, Any]") -> "Any":
    """A stand-in for programs.validate: needs an int freq_hz in 1..200."""
    f = d.get("freq_hz")
    if not isinstance(f, int) or not 1 <= f <= 200:
        raise ValueError("freq_hz: 1..200")
    return ("validated", f)


def boot(fs: "FS", **kw: "Any") -> Store:
    """A new Store on fs, as the firmware builds it at boot."""
    return Store(fs, defaults(), max_ua=MAX_UA, validate=validate, **kw)


def flush_all(s: Store) -> int:
    n = 0
    while s.flush(True):
        n += 1
    return n


def saved_fs() -> FlashFS:
    """A flash holding settings B and program p1 (freq 50)."""
    fs = FlashFS()
    s = boot(fs)
    s.put_settings(Settings([1_000, 2_000], "p1", {"contrast": 10, "flip": 1}))
    s.put_program("p1", {"freq_hz": 50})
    flush_all(s)
    assert s.warnings == []
    return fs


def test_first_boot_uses_defaults_quietly_and_writes_nothing() -> None:
    fs = FlashFS()
    s = boot(fs)
    assert s.settings.fields() == defaults().fields()
    assert s.programs == {}
    assert s.warnings == [] and s.warn_count == 0
    assert flush_all(s) == 0
    assert fs.steps == 0 and fs.files() == {}


def test_settings_and_programs_survive_a_reboot() -> None:
    fs = saved_fs()
    s = boot(fs)
    assert s.settings.fields() == {"limits_ua": [1_000, 2_000], "program": "p1", "display": {"contrast": 10, "flip": 1}}
    assert s.programs == {"p1": ("validated", 50)}
    assert s.warnings == []
    assert sorted(fs.listdir()) == ["prog-p1.json", "settings.json"]


def test_nothing_is_written_while_the_outputs_run() -> None:
    fs = FlashFS()
    s = boot(fs)
    s.put_settings(Settings([5, 6], None, {}))
    s.put_program("p", {"freq_hz": 20})
    s.log_fault("sense open", 100)
    assert s.pending() == 3
    for _ in range(5):
        assert s.flush(False) == 0
    assert fs.steps == 0 and fs.files() == {}
    assert s.flush(True) == 1  # one item a call: each call stays short
    assert s.pending() == 2
    assert flush_all(s) == 2
    assert s.pending() == 0


def test_unchanged_settings_are_not_rewritten() -> None:
    fs = saved_fs()
    s = boot(fs)
    s.put_settings(s.settings)
    assert s.pending() == 0
    steps = fs.steps
    assert flush_all(s) == 0
    assert fs.steps == steps


def _boot_with_settings_file(data: bytes) -> "tuple[FlashFS, Store]":
    fs = saved_fs()
    fs.write_bytes("settings.json", data)
    return fs, boot(fs)


def _expect_defaults_and_kept(fs: FlashFS, s: Store, data: bytes, reason: str) -> None:
    assert s.settings.fields() == defaults().fields()
    assert len(s.warnings) == 1, s.warnings
    w = s.warnings[0]
    assert w.startswith("settings.json: ") and reason in w and "defaults used" in w, w
    assert w.endswith("kept as settings.json.bad-0"), w
    assert "settings.json" not in fs.listdir()
    assert fs.read_bytes("settings.json.bad-0") == data  # kept byte for byte
    assert s.programs == {"p1": ("validated", 50)}  # the other files are unaffected


def test_every_flipped_byte_of_settings_is_caught() -> None:
    good = saved_fs().read_bytes("settings.json")
    for i in range(len(good)):
        data = bytearray(good)
        data[i] ^= 0x04
        fs, s = _boot_with_settings_file(bytes(data))
        assert s.settings.fields() == defaults().fields(), (i, s.settings)
        assert s.warnings and s.warnings[0].startswith("settings.json: "), (i, s.warnings)
        assert fs.read_bytes("settings.json.bad-0") == bytes(data)


def test_garbage_truncated_and_empty_settings_fall_back_to_defaults() -> None:
    good = saved_fs().read_bytes("settings.json")
    cases = [
        (b"\xff\xfe\x00garbage\n", "no CRC"),
        (good[:-10], "not one record"),
        (good[:-1], "not one record"),
        (b"", "not one record"),
        (good + good, "not one record"),
        (b"x" * 5000, "too large"),
    ]
    for data, reason in cases:
        fs, s = _boot_with_settings_file(data)
        _expect_defaults_and_kept(fs, s, data, reason)


def test_unknown_version_and_wrong_shape_fall_back_to_defaults() -> None:
    fields: Dict[str, Any] = {"limits_ua": [1, 2], "program": None, "display": {}}
    data = encode_record(2, fields)
    fs, s = _boot_with_settings_file(data)
    _expect_defaults_and_kept(fs, s, data, "version 2 unknown")
    for bad, reason in (
        ({"limits_ua": [1, 2, 3], "program": None, "display": {}}, "limits_ua"),
        ({"limits_ua": [1, -2], "program": None, "display": {}}, "limits_ua"),
        ({"limits_ua": [1, True], "program": None, "display": {}}, "limits_ua"),
        ({"limits_ua": [1, 2], "program": 7, "display": {}}, "program"),
        ({"limits_ua": [1, 2], "program": None, "display": {"contrast": "hi"}}, "display.contrast"),
        ({"limits_ua": [1, 2], "program": None}, "display"),
    ):
        data = encode_record(1, bad)
        fs, s = _boot_with_settings_file(data)
        _expect_defaults_and_kept(fs, s, data, reason)


def test_display_options_merge_over_defaults() -> None:
    data = encode_record(1, {"limits_ua": [1, 2], "program": None, "display": {"flip": 1, "gone": 5}})
    _fs, s = _boot_with_settings_file(data)
    assert s.warnings == []
    assert s.settings.display == {"contrast": 200, "flip": 1}


def test_limits_above_the_board_maximum_are_lowered_with_a_warning() -> None:
    data = encode_record(1, {"limits_ua": [60_000, 80_000], "program": None, "display": {}})
    fs, s = _boot_with_settings_file(data)
    assert s.settings.limits_ua == [50_000, 80_000]
    assert len(s.warnings) == 1 and "channel 1 limit 60000 uA above the board's 50000 uA" in s.warnings[0]
    assert fs.read_bytes("settings.json") == data  # a valid file is not kept aside


def test_kept_aside_files_are_bounded_and_the_newest_kept() -> None:
    fs = FlashFS()
    for i in range(store.BAD_MAX + 3):
        fs.write_bytes("settings.json", b"bad " + str(i).encode())
        s = boot(fs)
        assert s.warnings[0].endswith("settings.json.bad-" + str(i)), s.warnings
    bad = sorted(n for n in fs.listdir() if ".bad-" in n)
    assert len(bad) == store.BAD_MAX
    newest = store.BAD_MAX + 2
    assert fs.read_bytes("settings.json.bad-" + str(newest)) == b"bad " + str(newest).encode()
    assert "settings.json.bad-0" not in bad


def test_leftover_temporary_files_are_removed_at_boot() -> None:
    fs = saved_fs()
    good = fs.read_bytes("settings.json")
    fs.write_bytes("settings.json.tmp", b"half a wri")
    fs.write_bytes("prog-p2.json.tmp", b"")
    s = boot(fs)
    assert s.warnings == []
    assert sorted(fs.listdir()) == ["prog-p1.json", "settings.json"]
    assert fs.read_bytes("settings.json") == good


class _BrokenFS(FlashFS):
    """Opening `bad` fails as a worn flash does: OSError(EIO)."""

    bad = "settings.json"

    def open(self, path: str, mode: str = "r") -> "Any":
        if path == self.bad:
            raise OSError(5, "EIO")
        return FlashFS.open(self, path, mode)


def test_unreadable_settings_fall_back_to_defaults_with_the_reason() -> None:
    fs = _BrokenFS()
    for name, data in saved_fs().files().items():
        fs.write_bytes(name, data)
    s = boot(fs)
    assert s.settings.fields() == defaults().fields()
    assert s.warnings == ["settings.json: unreadable (EIO); defaults used; kept as settings.json.bad-0"]


def test_programs_are_validated_on_put() -> None:
    s = boot(FlashFS())
    e = expect_raises(ValueError, s.put_program, "p", {"freq_hz": 999})
    assert "freq_hz" in str(e)
    for name in ("", "a/b", "x" * (store.NAME_MAX + 1), "sp ace", "prog.json"):
        e = expect_raises(ValueError, s.put_program, name, {"freq_hz": 5})
        assert "name" in str(e)
    e = expect_raises(ValueError, s.put_program, "p", {"freq_hz": 5, "blob": "x" * 5000})
    assert "bytes" in str(e)
    assert s.programs == {} and s.pending() == 0
    for i in range(store.PROGRAMS_MAX):
        s.put_program("p" + str(i), {"freq_hz": 5})
    e = expect_raises(ValueError, s.put_program, "one-more", {"freq_hz": 5})
    assert str(store.PROGRAMS_MAX) in str(e)
    s.put_program("p0", {"freq_hz": 6})  # replacing one is fine
    assert s.programs["p0"] == ("validated", 6)


def test_program_delete_reaches_the_flash() -> None:
    fs = saved_fs()
    s = boot(fs)
    assert s.delete_program("nope") is False
    assert s.delete_program("p1") is True
    assert s.programs == {}
    assert flush_all(s) == 1
    assert "prog-p1.json" not in fs.listdir()
    assert boot(fs).programs == {}


def test_bad_program_files_are_not_loaded_and_kept_aside() -> None:
    fs = saved_fs()
    good = fs.read_bytes("prog-p1.json")
    cases = [
        ("prog-p2.json", good, "name does not match"),
        ("prog-p3.json", encode_record(1, {"name": "p3", "program": {"freq_hz": 500}}), "freq_hz"),
        ("prog-p4.json", encode_record(1, {"name": "p4", "program": [1]}), "no program"),
        ("prog-p5.json", encode_record(9, {"name": "p5", "program": {"freq_hz": 5}}), "version 9 unknown"),
        ("prog-p6.json", good[:20], "not one record"),
    ]
    for name, data, _reason in cases:
        fs.write_bytes(name, data)
    s = boot(fs)
    assert s.programs == {"p1": ("validated", 50)}
    assert len(s.warnings) == len(cases), s.warnings
    gone = len(cases) - store.BAD_MAX  # the oldest kept-aside files make room for newer ones
    for i in range(len(cases)):
        name, data, reason = cases[i]
        w = s.warnings[i]
        assert w.startswith(name + ": ") and reason in w and "program not loaded" in w, w
        assert name not in fs.listdir()
        kept = w[w.rfind("kept as ") + 8:]
        if i < gone:
            assert kept not in fs.listdir()
        else:
            assert fs.read_bytes(kept) == data


def test_warnings_go_in_the_log() -> None:
    fs, s = _boot_with_settings_file(b"junk")
    assert s.warn_count == 1
    flush_all(s)
    recs = boot(fs).read_log()
    assert [r["k"] for r in recs] == ["warn"]
    assert recs[0]["msg"] == s.warnings[0][: store.TEXT_MAX]


def test_store_runs_on_defaults_when_the_filesystem_cannot_list() -> None:
    class NoFS(FlashFS):
        def listdir(self, path: str = "") -> "List[str]":
            raise OSError(19, "ENODEV")

    s = boot(NoFS())
    assert s.settings.fields() == defaults().fields()
    assert s.warnings == ["flash: unreadable (errno 19); defaults used, nothing saved"]


def test_the_pulse_engines_validator_plugs_in() -> None:
    fs = FlashFS()
    s = Store(fs, defaults(), validate=lambda d: programs.validate(d, 2))
    e = expect_raises(ValueError, s.put_program, "mine", {"name": "mine", "freq_hz": 85})
    assert "width_us" in str(e)
    s.put_program("mine", {"name": "mine", "freq_hz": 85, "width_us": 300})
    flush_all(s)
    p = Store(fs, defaults(), validate=lambda d: programs.validate(d, 2)).programs["mine"]
    assert (p.name, p.freq_hz) == ("mine", 85)
