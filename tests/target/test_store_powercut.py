"""stim.store survives a power cut at every write step.

For each kind of save, the power is cut at every cut point of the flash
model in turn (after an open that creates, in the middle of a write, after a
write, a close, a rename, a remove). After the reboot each file holds either
its old or its new content, intact; the log has lost at most the record
being written; and the rebooted store keeps working. The same runs on a
"torn" flash, which keeps half-written data, to show that nothing trusts it.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from picostim.fakehw.flash import FlashFS, cut_everywhere
from stim import store
from stim.store import Settings, Store
from test_store_files import boot, defaults, flush_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List

LOG_MAX = 600  # small, so that appends rotate
NEW = Settings([7_000, 8_000], "p2", {"contrast": 1, "flip": 0})


def _state(s: Store) -> "Dict[str, Any]":
    return {"settings": s.settings.fields(), "programs": dict(s.programs), "log": s.read_log()}


def _base(torn: bool, settings: bool = True, records: int = 2) -> FlashFS:
    fs = FlashFS(torn=torn)
    s = boot(fs, log_max=LOG_MAX)
    if settings:
        s.put_settings(Settings([1_000, 2_000], "p1", {"contrast": 10, "flip": 1}))
    s.put_program("p1", {"freq_hz": 50})
    for i in range(records):
        s.log_fault("fault " + str(i), i)
    flush_all(s)
    return fs


def _run(base: FlashFS, change: "Callable[[Store], Any]") -> "Dict[str, Any]":
    """Cut the power at every point of `change`; return what was seen."""
    s = boot(base.copy(), log_max=LOG_MAX)
    old = _state(s)
    after = base.copy()
    s = boot(after, log_max=LOG_MAX)
    change(s)
    flush_all(s)
    new = _state(boot(after, log_max=LOG_MAX))
    outcomes: List[str] = []

    def action(fs: FlashFS) -> None:
        s = boot(fs, log_max=LOG_MAX)
        change(s)
        flush_all(s)

    def check(fs: FlashFS, k: int) -> None:
        s = boot(fs, log_max=LOG_MAX)
        got = _state(s)
        assert got["settings"] in (old["settings"], new["settings"]), (k, got["settings"])
        for name in ("p1", "p2"):  # each program file on its own: old or new (or absent, if so before/after)
            p = got["programs"].get(name)
            assert p in (old["programs"].get(name), new["programs"].get(name)), (k, name, p)
        # The log: old, new, or new without the record being written (a rotation happened first).
        assert got["log"] in (old["log"], new["log"], new["log"][:-1]), (k, got["log"])
        torn_tail = ["log.0: 1 corrupt records skipped"]
        assert s.warnings == [] or (base.torn and s.warnings == torn_tail), (k, s.warnings)
        outcomes.append("new" if got == new else ("old" if got == old else "between"))
        # The rebooted store keeps working: a new record lands intact after what survived.
        s.log_reset("power-on", 1234)
        flush_all(s)
        log = boot(fs, log_max=LOG_MAX).read_log()
        assert log[-1]["k"] == "reset" and log[-1]["t_ms"] == 1234, (k, log[-2:])
        assert [r["n"] for r in log] == list(range(log[0]["n"], log[0]["n"] + len(log))), (k, log)

    n = cut_everywhere(base, action, check)
    assert n == len(outcomes)
    return {"points": n, "outcomes": outcomes}


def _both(make_base: "Callable[[bool], FlashFS]", change: "Callable[[Store], Any]", points: int) -> None:
    for torn in (False, True):
        r = _run(make_base(torn), change)
        assert r["points"] == points, (torn, r)
        # Cut before the last point: the old content; at it: the new.
        assert r["outcomes"][-1] == "new" and (points == 1 or "old" in r["outcomes"]), (torn, r)


def test_saving_settings_over_old_ones() -> None:
    # tmp created, mid-write, write, close, rename
    _both(_base, lambda s: s.put_settings(NEW), 5)


def test_saving_settings_the_first_time() -> None:
    _both(lambda torn: _base(torn, settings=False), lambda s: s.put_settings(NEW), 5)


def test_saving_a_new_program() -> None:
    _both(_base, lambda s: s.put_program("p2", {"freq_hz": 75}), 5)


def test_replacing_a_program() -> None:
    _both(_base, lambda s: s.put_program("p1", {"freq_hz": 120}), 5)


def test_deleting_a_program() -> None:
    _both(_base, lambda s: s.delete_program("p1"), 1)


def test_appending_a_log_record() -> None:
    # mid-write, write, close: log.0 already exists
    _both(_base, lambda s: s.log_fault("late fault", 99), 3)


def test_appending_a_log_record_that_rotates() -> None:
    def make(torn: bool) -> FlashFS:
        fs = _base(torn, records=1)
        s = boot(fs, log_max=LOG_MAX)
        while len(fs.read_bytes("log.0")) + 150 <= LOG_MAX:  # then the session record (~190 bytes) will not fit
            s.log_fault("filler", 0)
            flush_all(s)
        return fs

    # rename log.0 -> log.1, log.0 created, mid-write, write, close
    _both(make, lambda s: s.log_session("p1", 0, 1, None, None, [5, 6], [7, 8], 1, store.END_STOPPED), 5)


def test_a_whole_flush_of_everything() -> None:
    def change(s: Store) -> None:
        s.put_settings(NEW)
        s.put_program("p2", {"freq_hz": 75})
        s.delete_program("p1")
        s.log_fault("late fault", 99)

    # Several items: the check above allows each part old or new, so only count the points.
    r = _run(_base(False), change)
    assert r["points"] == 5 + 5 + 1 + 3
    assert r["outcomes"].count("between") > 0 and r["outcomes"][-1] == "new"


def test_defaults_are_what_a_first_boot_after_a_cut_sees() -> None:
    fs = FlashFS()
    fs.cut_at = 0  # the very first save of settings dies as the temporary file is made
    s = boot(fs)
    s.put_settings(NEW)
    try:
        flush_all(s)
    except BaseException as e:  # noqa: BLE001 - the model's Reset is a BaseException
        assert type(e).__name__ == "Reset"
    else:
        raise AssertionError("no power cut")
    s = boot(fs)
    assert s.settings.fields() == defaults().fields()
    assert fs.listdir() == []
