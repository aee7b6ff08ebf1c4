"""stim.store: the session log, its RAM buffer, rotation and a full flash.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from _util import expect_raises
from picostim.fakehw.flash import FlashFS
from stim import store
from stim.store import Settings
from test_store_files import boot, flush_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List


def _session(s: "store.Store", i: int, end: str = store.END_COMPLETED) -> None:
    s.log_session("lbp", 1000 * i, 1000 * i + 600, None, None, [i, 2 * i], [10_000, 20_000], 30, end,
                  "sense open" if end == store.END_FAULT else None, ["sense open"] if end == store.END_FAULT else [])


def _kinds(recs: "List[Dict[str, Any]]") -> "List[str]":
    return [r["k"] for r in recs]


def test_a_session_record_holds_what_the_issue_lists() -> None:
    fs = FlashFS()
    s = boot(fs)
    s.log_session("lbp", 1_073_741_000, 200, 1_767_225_600, 1_767_226_800, [12_000, 0], [20_000, 30_000], 1140,
                  store.END_FAULT, "ch2: open electrode", ["ch2: open electrode", "sense drift"])
    s.log_fault("estop wire broken", 5_000)
    s.log_reset("watchdog", 12, 1_767_226_900)
    assert flush_all(s) == 3
    recs = boot(fs).read_log()
    assert recs[0] == {"n": 0, "k": "session", "prog": "lbp", "t0_ms": 1_073_741_000, "t1_ms": 200,
                       "wall0": 1_767_225_600, "wall1": 1_767_226_800, "ch": [[12_000, 20_000], [0, 30_000]],
                       "stim_s": 1140, "end": "fault", "fault": "ch2: open electrode",
                       "faults": ["ch2: open electrode", "sense drift"], "nfaults": 2, "client": None}
    assert recs[1] == {"n": 1, "k": "fault", "t_ms": 5_000, "wall": None, "fault": "estop wire broken"}
    assert recs[2] == {"n": 2, "k": "reset", "t_ms": 12, "wall": 1_767_226_900, "cause": "watchdog"}


def test_every_end_reason_is_accepted_and_nothing_else() -> None:
    s = boot(FlashFS())
    for end in (store.END_COMPLETED, store.END_STOPPED, store.END_KEY_REMOVED, store.END_ESTOP, store.END_FAULT):
        _session(s, 1, end)
    expect_raises(ValueError, _session, s, 1, "aborted")
    expect_raises(ValueError, s.log_session, "x", 0, 1, None, None, [], [], 0, store.END_FAULT)  # no fault text
    expect_raises(ValueError, s.log_session, "x", 0, 1, None, None, [1], [], 0, store.END_STOPPED)
    assert len(s._buf) == 5


def test_sequence_numbers_continue_across_reboots() -> None:
    fs = FlashFS()
    for boot_no in range(3):
        s = boot(fs)
        s.log_reset("power-on", boot_no)
        _session(s, boot_no)
        flush_all(s)
    recs = boot(fs).read_log()
    assert [r["n"] for r in recs] == list(range(6))
    assert _kinds(recs) == ["reset", "session"] * 3


def test_log_rotates_and_stays_bounded() -> None:
    fs = FlashFS()
    log_max = 1024
    for i in range(40):
        s = boot(fs, log_max=log_max)  # a reboot now and then must not break rotation
        for j in range(3):
            _session(s, 3 * i + j)
        flush_all(s)
        for name in ("log.0", "log.1"):
            if name in fs.listdir():
                assert len(fs.read_bytes(name)) <= log_max, (i, name)
    recs = boot(fs, log_max=log_max).read_log()
    seqs = [r["n"] for r in recs]
    assert seqs == list(range(seqs[0], 120)), seqs  # the newest, without a gap
    assert 4 < len(seqs) < 120  # old ones went


def test_the_buffer_drops_oldest_non_session_records_and_counts() -> None:
    fs = FlashFS()
    s = boot(fs, buf_max=4)
    _session(s, 1)
    for i in range(3):
        s.log_fault("f" + str(i), i)
    _session(s, 2)  # full: f0 goes
    s.log_fault("f3", 3)  # f1 goes
    _session(s, 3)  # f2 goes
    assert s.dropped == 3
    assert [w for w in s.warnings if "dropped" in w] == ["log: 3 records dropped (buffer full)"]
    assert s.warn_count == 1  # one counted warning, not one per drop
    assert flush_all(s) == 5  # the drop record and four records
    recs = boot(fs).read_log()
    assert _kinds(recs) == ["drop", "session", "session", "fault", "session"]
    assert recs[0]["count"] == 3
    assert recs[3]["fault"] == "f3"


def test_a_buffer_of_sessions_only_drops_the_oldest_session() -> None:
    s = boot(FlashFS(), buf_max=2)
    for i in range(4):
        _session(s, i)
    assert s.dropped == 2
    assert [r[1]["t0_ms"] for r in s._buf] == [2000, 3000]


def test_full_flash_degrades_with_a_warning_and_never_raises() -> None:
    fs = FlashFS()
    s = boot(fs, buf_max=6)
    s.log_reset("power-on", 0)
    flush_all(s)
    before = fs.files()
    fs.full = True
    s.put_settings(Settings([1, 2], None, {}))
    for i in range(10):  # a long session's worth of calls while the flash is full
        s.log_fault("f" + str(i), i)
        assert s.flush(True) == 0
    _session(s, 1)
    assert s.flush(True) == 0
    assert fs.files() == before  # nothing half-written, no temporary file left
    full = [w for w in s.warnings if "ENOSPC" in w]
    assert len(full) == 1, s.warnings  # said once, not on every retry
    assert full[0].startswith("flash: write failed (ENOSPC, flash full)")
    assert len(s._buf) == 6 and s.dropped > 0  # bounded, and the loss is counted
    assert s._buf[-1][0] is True  # the session record is kept
    fs.full = False
    s.log_fault("flash back", 99)  # something new: the store tries again
    flush_all(s)
    assert s.pending() == 0
    s2 = boot(fs)
    assert s2.settings.limits_ua == [1, 2]
    recs = s2.read_log()
    assert "session" in _kinds(recs) and recs[-1]["fault"] == "flash back"


class _CountingFS(FlashFS):
    opens = 0

    def open(self, path: str, mode: str = "r") -> "Any":
        self.opens += 1
        return FlashFS.open(self, path, mode)


def test_a_failed_flush_waits_for_something_new() -> None:
    fs = _CountingFS()
    s = boot(fs)
    fs.full = True
    s.log_fault("f", 1)
    assert s.flush(True) == 0
    opens = fs.opens
    assert opens > 0
    for _ in range(50):  # an idle second of ticks: no flash traffic
        assert s.flush(True) == 0
    assert fs.opens == opens
    s.log_fault("g", 2)  # something new: one more try
    assert s.flush(True) == 0
    assert fs.opens > opens


def test_full_flash_sacrifices_the_old_log_for_new_data() -> None:
    fs = FlashFS(blocks=6, block_size=512)  # 2 metadata + 4 data blocks
    s = boot(fs, log_max=512)
    for i in range(20):
        _session(s, i)
        flush_all(s)
        if "log.1" in fs.listdir():
            break
    assert "log.1" in fs.listdir()
    fs.write_bytes("filler", b"x" * (fs.free_blocks() * 512))
    s.put_program("p9", {"freq_hz": 9})
    assert flush_all(s) >= 1
    assert "prog-p9.json" in fs.listdir()
    assert "log.1" not in fs.listdir()
    assert "flash full: removed log.1" in s.warnings
    assert boot(fs).programs == {"p9": ("validated", 9)}


def _logged_sessions(n: int) -> "tuple[FlashFS, bytes]":
    """A flash with n session records on it, and log.0's content."""
    fs = FlashFS()
    s = boot(fs)
    for i in range(n):
        _session(s, i)
    flush_all(s)
    return fs, fs.read_bytes("log.0")


def test_a_torn_last_record_is_skipped_and_the_next_starts_a_new_line() -> None:
    fs, data = _logged_sessions(3)
    fs.write_bytes("log.0", data[:-25])  # as a weaker filesystem leaves a cut-off append
    s = boot(fs)
    assert s.warnings == ["log.0: 1 corrupt records skipped"]
    _session(s, 7)
    flush_all(s)
    recs = boot(fs).read_log()
    # Number 2 is used again: the torn record never counted. The warning went in the log.
    assert [(r["n"], r["k"]) for r in recs] == [(0, "session"), (1, "session"), (2, "warn"), (3, "session")]
    assert recs[-1]["t0_ms"] == 7000


def test_a_damaged_record_costs_only_itself() -> None:
    fs, data = _logged_sessions(5)
    second = data.find(b"\n") + 1
    fs.corrupt("log.0", second + 30)
    s = boot(fs)
    assert s.warnings == ["log.0: 1 corrupt records skipped"]
    assert [r["n"] for r in s.read_log()] == [0, 2, 3, 4]


def test_a_guard_record_holds_the_client_reason_and_override_and_outlives_faults_in_a_full_buffer() -> None:
    fs = FlashFS()
    s = boot(fs, buf_max=3)
    s.log_guard("C017", "too-soon", True, 42, 1_767_225_600)
    s.log_guard(None, "no-profile", False, 43)
    for i in range(3):
        s.log_fault("f" + str(i), i)  # the buffer is full: faults go first, guard records stay
    assert [r[1]["k"] for r in s._buf] == ["guard", "guard", "fault"]
    flush_all(s)
    recs = [r for r in boot(fs).read_log() if r["k"] == "guard"]
    assert recs[0] == {"n": recs[0]["n"], "k": "guard", "client": "C017", "reason": "too-soon", "override": True,
                       "t_ms": 42, "wall": 1_767_225_600}
    assert recs[1]["client"] is None and recs[1]["override"] is False and recs[1]["wall"] is None
