"""stim.clients survives a power cut at every write step, like stim.store (test_store_powercut.py).

After each cut the rebooted board sees every profile either as it was or as it
was being saved, intact; no warning appears; and it keeps working. On the
"torn" flash model (which keeps half-written data) the same holds, because the
file is only ever replaced by a rename.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from picostim.fakehw.flash import FlashFS, cut_everywhere
from stim.clients import Clients
from test_store_files import MAX_UA, boot, flush_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List

T0 = 1767225600


def _open(fs: FlashFS) -> Clients:
    return Clients(boot(fs), 2, MAX_UA)


def _state(c: Clients) -> "Dict[str, Any]":
    out = {}
    for pid in c.ids():
        p = c.get(pid)
        assert p is not None
        out[pid] = p.fields()
    return out


def _base(torn: bool, n: int = 3) -> FlashFS:
    fs = FlashFS(torn=torn)
    c = _open(fs)
    for i in range(n):
        c.put({"id": "C" + str(i), "limits_ua": [1_000 * (i + 1), 2_000], "screened": T0})
    flush_all(c.store)
    return fs


def _run(base: FlashFS, change: "Callable[[Clients], Any]") -> "List[str]":
    old = _state(_open(base.copy()))
    after = base.copy()
    c = _open(after)
    change(c)
    flush_all(c.store)
    new = _state(_open(after))
    assert new != old
    outcomes: "List[str]" = []

    def action(fs: FlashFS) -> None:
        c = _open(fs)
        change(c)
        flush_all(c.store)

    def check(fs: FlashFS, k: int) -> None:
        c = _open(fs)
        got = _state(c)
        assert got in (old, new), (k, got)
        assert c.warning is None and c.store.warnings == [], (k, c.store.warnings)
        outcomes.append("new" if got == new else "old")
        c.put({"id": "Z9", "limits_ua": [5, 6]})  # and it keeps working
        flush_all(c.store)
        assert _open(fs).get("Z9") is not None, k

    n = cut_everywhere(base, action, check)
    assert n == len(outcomes) and n > 0
    return outcomes


def _both(make: "Callable[[bool], FlashFS]", change: "Callable[[Clients], Any]") -> None:
    for torn in (False, True):
        outcomes = _run(make(torn), change)
        # Cut before the last point: the old content; at it (a remove has only that one): the new.
        assert outcomes[-1] == "new" and (len(outcomes) == 1 or "old" in outcomes), (torn, outcomes)


def test_adding_a_profile() -> None:
    _both(_base, lambda c: c.put({"id": "C7", "limits_ua": [3, 4]}))


def test_the_first_profile() -> None:
    _both(lambda torn: _base(torn, 0), lambda c: c.put({"id": "C7", "limits_ua": [3, 4]}))


def test_recording_a_session() -> None:
    _both(_base, lambda c: c.record_session("C1", T0 + 7_200, [900, 800]))


def test_deleting_a_profile() -> None:
    _both(_base, lambda c: c.delete("C2"))


def test_deleting_the_last_profile() -> None:
    # the file is removed: one cut point, after the remove
    _both(lambda torn: _base(torn, 1), lambda c: c.delete("C0"))
