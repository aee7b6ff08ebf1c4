"""Property tests of stim.store: random saves, log records, power cuts, bit flips and a full flash.

Host only (hypothesis). The exhaustive cut-at-every-point tests are in
tests/target/test_store_powercut.py and run on MicroPython too.
"""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from picostim.fakehw.clock import Reset
from picostim.fakehw.flash import FlashFS
from stim import store
from stim.store import Settings, Store

DEFAULTS = Settings([10_000, 10_000], None, {"contrast": 100})
NAMES = ("a", "b")
FILES = ("settings.json", "prog-a.json", "prog-b.json", "log.0", "log.1")

ACTIONS = st.one_of(
    st.tuples(st.just("settings"), st.integers(0, 100_000), st.integers(0, 100_000)),
    st.tuples(st.just("program"), st.sampled_from(NAMES), st.integers(1, 200)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("session"), st.integers(0, 1_000)),
    st.tuples(st.just("fault"), st.integers(0, 1_000)),
    st.tuples(st.just("cut"), st.integers(0, 8)),
    st.tuples(st.just("flip"), st.sampled_from(FILES), st.integers(0, 1 << 20)),
    st.tuples(st.just("full"), st.booleans()),
)
# A step: an action, then up to 3 idle flushes of up to 3 items, then perhaps a reboot.
STEPS = st.lists(st.tuples(ACTIONS, st.integers(0, 3), st.integers(1, 3), st.booleans()), max_size=30)


class World:
    """The flash, the running store, and what the firmware has handed over so far."""

    def __init__(self, torn: bool) -> None:
        self.fs = FlashFS(torn=torn)
        self.put_settings = [DEFAULTS.fields()]  # every settings value ever put
        self.put_programs: dict[str, list[dict[str, Any]]] = {n: [] for n in NAMES}
        self.logged: list[dict[str, Any]] = []  # every record logged, in order
        self.committed = DEFAULTS.fields()  # settings known to be on flash
        self.last_put = DEFAULTS.fields()  # the newest settings put
        self.settings_flipped = False  # a bit of settings.json flipped since it was last written
        self.counter = 0
        self.s = self.boot()

    def boot(self) -> Store:
        """A new Store; a cut armed earlier may hit the boot's own clean-up, then boot again."""
        while True:
            try:
                s = Store(self.fs, DEFAULTS, max_ua=[100_000, 100_000], validate=dict, log_max=700, buf_max=6)
            except Reset:
                continue
            self.check_boot(s)
            return s

    def check_boot(self, s: Store) -> None:
        got = s.settings.fields()
        assert got in self.put_settings, got  # never invented
        if self.settings_flipped:
            assert got == DEFAULTS.fields()
            assert any(w.startswith("settings.json: ") for w in s.warnings), s.warnings
        else:
            assert got in (self.committed, self.last_put), (got, self.committed, self.last_put)
        self.committed = self.last_put = got
        self.settings_flipped = False
        for name, prog in s.programs.items():
            assert prog in self.put_programs[name], (name, prog)
        log = s.read_log()
        mine = [r for r in log if r["k"] in ("session", "fault")]
        seqs = [r["n"] for r in log]
        assert seqs == sorted(set(seqs)), seqs  # strictly increasing
        where = []
        for r in mine:
            body = {k: v for k, v in r.items() if k != "n"}
            assert body in self.logged, r  # never invented, never altered
            where.append(self.logged.index(body))
        assert where == sorted(where), where  # in the order logged

    def flush(self, n: int) -> None:
        settings_pending = self.s._settings_pending is not None
        try:
            done = self.s.flush(True, n)
        except Reset:
            if settings_pending and self.settings_flipped:
                # Cut while replacing a damaged settings.json: the old outcome is now the defaults.
                self.committed = DEFAULTS.fields()
                self.settings_flipped = False
            self.s = self.boot()
            return
        if settings_pending and self.s._settings_pending is None:  # settings.json rewritten whole
            self.committed = self.last_put
            self.settings_flipped = False
        if self.s.pending() and self.fs.full and done < n:  # stopped short with items waiting: say why
            assert any("ENOSPC" in w for w in self.s.warnings), self.s.warnings

    def step(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        s = self.s
        self.counter += 1
        if kind == "settings":
            new = Settings([op[1], op[2]], "lbp", {"contrast": op[1] % 256})
            s.put_settings(new)
            self.put_settings.append(new.fields())
            self.last_put = new.fields()
        elif kind == "program":
            prog = {"freq_hz": op[2]}
            s.put_program(op[1], prog)
            self.put_programs[op[1]].append(prog)
        elif kind == "delete":
            s.delete_program(op[1])
        elif kind == "session":
            s.log_session("lbp", self.counter, op[1], None, None, [op[1], 0], [1_000, 1_000], 5, store.END_STOPPED)
            self.logged.append(s._buf[-1][1].copy())
        elif kind == "fault":
            s.log_fault("f" + str(self.counter), op[1])
            self.logged.append(s._buf[-1][1].copy())
        elif kind == "cut":
            self.fs.cut_at = self.fs.steps + op[1]
        elif kind == "flip":
            name = op[1]
            data = bytearray(self.fs.files().get(name, b""))
            i = (op[2] >> 3) % len(data) if data else 0
            bit = 1 << (op[2] & 7)
            if data and not data[i] & bit:  # damage only sets bits, so it never heals
                data[i] |= bit
                self.fs.write_bytes(name, bytes(data))
                self.settings_flipped = self.settings_flipped or name == "settings.json"
        else:
            self.fs.full = op[1]


@settings(max_examples=1000, deadline=None)
@given(steps=STEPS, torn=st.booleans())
def test_random_histories_never_corrupt_and_never_raise(steps: list[tuple[Any, int, int, bool]], torn: bool) -> None:
    """Whatever happens - saves, log records, power cuts at any write step, bit flips, a full flash -
    booting and every store call return normally (only the model's power cut unwinds them); what a
    boot reads back was really handed over (settings ever put or the defaults, programs ever put
    under that name, log records exactly as logged, in order, numbered strictly increasing); and
    the settings are the last ones known to be on flash or the ones being written, except after a
    flipped bit in settings.json, which gives the defaults and a warning naming the file.
    """
    w = World(torn)
    for action, flushes, items, reboot in steps:
        w.step(action)
        for _ in range(flushes):
            w.flush(items)
        if reboot:
            w.fs.cut_at = -1
            w.s = w.boot()
    w.fs.full = False
    w.fs.cut_at = -1
    w.s.log_fault("final", 0)  # something new, so a store blocked by a full flash tries again
    w.logged.append(w.s._buf[-1][1].copy())
    w.flush(100)
    assert w.s.pending() == 0
    w.s = w.boot()
    assert w.s.settings.fields() == w.committed
