"""Bench: stim.store under a power cut at every write step of a long workload.

A seeded workload of saves (settings, programs), deletes and log records
(sessions, faults, resets; small log files, so they rotate) runs on the flash
model. Before each operation the flash state is copied, and the operation is
run again once per cut point with the power cut there (fakehw.flash.
cut_everywhere). After each cut a new Store boots on what survived, and the
cut counts as a corruption unless:

- booting raised nothing;
- the settings and every program are each the old or the new content;
- the log is the old one, the new one, or the new one without the record
  being written (a rotation came first);
- no warning appeared, except, on the torn flash (which keeps half-written
  data), the one that reports the torn record skipped;
- a record logged after the reboot lands intact, numbered next.

Figures: store.powercut_points (cut points exercised, littlefs and torn
models together), store.corruptions (must be 0), store.session_record_bytes
(one 4-channel session record, for sizing the log).
"""

import random
from typing import Any, Callable

from picostim.boardcheck import _use_firmware
from picostim.fakehw.flash import FlashFS, cut_everywhere

SEED = 6
OPS = 400  # operations per flash model
LOG_MAX = 1024
CHANNELS = 4
TORN_WARNING = "log.0: 1 corrupt records skipped"

_use_firmware()
from stim import store  # noqa: E402 - firmware/ is importable only after _use_firmware()

Op = tuple[str, Any]  # (kind, arguments), see apply()


def _defaults() -> store.Settings:
    return store.Settings([20_000] * CHANNELS, None, {"contrast": 128})


def _validate(d: dict[str, Any]) -> Any:
    if not isinstance(d.get("freq_hz"), int):
        raise ValueError("freq_hz: not an integer")
    return d


def boot(fs: FlashFS) -> store.Store:
    return store.Store(fs, _defaults(), max_ua=[100_000] * CHANNELS, validate=_validate, log_max=LOG_MAX)


def observe(fs: FlashFS) -> tuple[dict[str, Any], list[str]]:
    """What a Store booted on fs sees (settings, programs, log) and the warnings it gives."""
    s = boot(fs)
    return {"settings": s.settings.fields(), "programs": dict(s.programs), "log": s.read_log()}, list(s.warnings)


def apply(s: store.Store, op: Op) -> None:
    kind, a = op
    if kind == "settings":
        s.put_settings(store.Settings(a, "lbp", {"contrast": 10}))
    elif kind == "program":
        s.put_program(a[0], {"freq_hz": a[1]})
    elif kind == "delete":
        s.delete_program(a)
    elif kind == "session":
        s.log_session(*a)
    elif kind == "fault":
        s.log_fault("sense drift " + str(a), a)
    else:
        s.log_reset(kind, a)


def run_op(fs: FlashFS, op: Op) -> None:
    """Boot, hand over one operation, flush while idle until nothing waits."""
    s = boot(fs)
    apply(s, op)
    while s.flush(True):
        pass


def _runner(op: Op) -> Callable[[FlashFS], None]:
    return lambda fs: run_op(fs, op)


def _session(rng: random.Random) -> tuple[Any, ...]:
    end = rng.choice(store.END_REASONS)
    fault = "ch" + str(rng.randrange(CHANNELS) + 1) + ": open electrode" if end == store.END_FAULT else None
    peaks = [rng.randrange(60_000) for _ in range(CHANNELS)]
    t0 = rng.randrange(1 << 30)
    return ("lbp", t0, (t0 + 1_200_000) & ((1 << 30) - 1), None, None, peaks, [60_000] * CHANNELS,
            rng.randrange(1200), end, fault, [fault] if fault is not None else [])


def workload(rng: random.Random) -> list[Op]:
    ops: list[Op] = []
    for i in range(OPS):
        r = rng.random()
        name = "p" + str(rng.randrange(4))
        if r < 0.15:
            ops.append(("settings", [rng.randrange(100_000) for _ in range(CHANNELS)]))
        elif r < 0.3:
            ops.append(("program", (name, rng.randrange(1, 200))))
        elif r < 0.37:
            ops.append(("delete", name))
        elif r < 0.75:
            ops.append(("session", _session(rng)))
        elif r < 0.9:
            ops.append(("fault", i))
        else:
            ops.append(("watchdog", i))
    return ops


def _intact(got: dict[str, Any], warnings: list[str], old: dict[str, Any], new: dict[str, Any], torn: bool) -> bool:
    if got["settings"] not in (old["settings"], new["settings"]):
        return False
    for name in set(old["programs"]) | set(new["programs"]):
        if got["programs"].get(name) not in (old["programs"].get(name), new["programs"].get(name)):
            return False
    if got["log"] not in (old["log"], new["log"], new["log"][:-1]):
        return False
    return warnings == [] or (torn and warnings == [TORN_WARNING])


def _keeps_working(fs: FlashFS) -> bool:
    """After the cut, a new record lands intact behind what survived."""
    run_op(fs, ("power-on", 4321))
    log = boot(fs).read_log()
    seqs = [r["n"] for r in log]
    return bool(log) and log[-1].get("t_ms") == 4321 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def _checker(old: dict[str, Any], new: dict[str, Any], torn: bool, bad: list[int]) -> Callable[[FlashFS, int], None]:
    """The check after one cut: boot on what survived; count a corruption in bad[0]."""

    def check(cut: FlashFS, _k: int) -> None:
        try:
            got, warnings = observe(cut)
            ok = _intact(got, warnings, old, new, torn) and _keeps_working(cut)
        except Exception:  # noqa: BLE001 - a boot that raises is a corruption, counted
            ok = False
        if not ok:
            bad[0] += 1

    return check


def exercise(torn: bool, progress: Callable[[str], None]) -> tuple[int, int]:
    """Run the workload on one flash model; return (cut points, corruptions)."""
    fs = FlashFS(torn=torn)
    points = 0
    bad = [0]
    for i, op in enumerate(workload(random.Random(SEED))):
        old, _ = observe(fs)
        after = fs.copy()
        run_op(after, op)
        new, _ = observe(after)
        points += cut_everywhere(fs, _runner(op), _checker(old, new, torn, bad))
        fs = after
        if (i + 1) % 100 == 0:
            progress("%s flash: %d operations, %d cut points, %d corruptions"
                     % ("torn" if torn else "littlefs", i + 1, points, bad[0]))
    return points, bad[0]


def measure(progress: Callable[[str], None]) -> dict[str, int | float]:
    points = 0
    bad = 0
    for torn in (False, True):
        p, b = exercise(torn, progress)
        points += p
        bad += b
    record = store.encode_record(store.LOG_VERSION, {
        "k": "session", "prog": "lower-back-1", "t0_ms": 1_073_000_000, "t1_ms": 1_073_741_823,
        "wall0": 1_767_225_600, "wall1": 1_767_226_800, "ch": [[100_000, 100_000]] * CHANNELS, "stim_s": 1200,
        "end": store.END_FAULT, "fault": "ch4: open electrode", "faults": ["ch4: open electrode"], "nfaults": 1,
        "client": "C0000017",
        "n": 99_999})
    return {"store.powercut_points": points, "store.corruptions": bad, "store.session_record_bytes": len(record)}
