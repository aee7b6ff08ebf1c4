"""The trainer's screen (stim.display) and its OLED hal (stim.hal.oled) on the SSD1306 model.

Runs under pytest and under the MicroPython VM (tests/target/run.py). On the
VM the driver draws with MicroPython's own framebuf (C) and the steady state
is proved allocation-free under heap_lock; under CPython it draws with
fakehw.framebuf. Either way the SSD1306 model decodes the bytes the driver
sent and reads the panel back as text.
"""

import gc
import json
import sys

from picostim import fakehw
from picostim.fakehw import ssd1306 as model
from stim import board as _board
from stim import display as dsp
from stim import panel as pn
from stim import programs
from stim import supervisor as sv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Tuple

    def heap_locked(fn: "Callable[[], object]") -> bool: ...
else:
    from _util import heap_locked

HERE = __file__.rsplit("/", 1)[0]
BOARDS = HERE + "/../../boards/"
LIB = HERE + "/../../firmware/lib"
TICK = 10
ON_MPY = sys.implementation.name == "micropython"


class State:
    """A real supervisor, panel and program for a 4-channel board, stepped in 10 ms ticks."""

    def __init__(self, program: str = "lower_back", n: int = 4) -> None:
        self.prog = programs.by_name(program, n)
        self.sup = sv.Supervisor(channel_max_ua=[100_000] * n, board_max_ua=100_000, ramp_ua_per_s=5_000,
                                 max_session_ms=3_600_000, step_ua=1000)
        caps = [self.prog.max_ua if self.prog.channel_used(c) else 0 for c in range(n)]
        self.sup.set_program(caps, self.prog.used, self.prog.duration_ms, self.prog.ramp_down_ms)
        self.panel = pn.Panel(n)
        self.t = 0
        self.key = True
        self.estop_released = True

    def step(self, intent: int = sv.NONE, ch: int = sv.ALL) -> None:
        self.sup.step(self.t, self.key, self.estop_released, intent, ch)
        self.t += TICK

    def run(self, ms: int) -> None:
        for _ in range(ms // TICK):
            self.step()


def _ready() -> State:
    s = State()
    s.run(100)
    assert s.sup.state == sv.READY
    return s


def _running(plus: int = 3) -> State:
    s = _ready()
    s.step(sv.START_PAUSE)
    for _ in range(plus):
        s.step(sv.PLUS)
    s.run(1000)
    assert s.sup.state == sv.RUNNING
    return s


def _screen(s: State) -> dsp.Screen:
    scr = dsp.Screen(len(s.sup.level_ua))
    scr.observe(s.t, s.sup)
    scr.compose(s.sup, s.panel, s.prog)
    return scr


def _rows(scr: dsp.Screen, first: int, end: int = 8) -> "list[str]":
    return [scr.text(r) for r in range(first, end)]


# -- the pure screen ------------------------------------------------------------------------------
def test_ready_screen_shows_program_time_channels_with_labels_and_what_to_do() -> None:
    scr = _screen(_ready())
    assert [scr.text(r) for r in range(scr.rows)] == [
        "READY      20:00",
        "lower_back      ",
        ">1 lower back L ",
        "    0.0 / 80 mA ",
        ">2 lower back R ",
        "    0.0 / 80 mA ",
        "Press start.    ",
        "                ",
    ]
    assert scr.dirty == 0xFF  # the first screen: every row is drawn
    assert all(len(x) == 16 for x in scr.lines)


def test_safe_screen_asks_for_the_key() -> None:
    s = State()
    s.key = False
    s.run(100)
    scr = _screen(s)
    assert scr.text(0).startswith("SAFE")
    assert _rows(scr, 6) == ["Insert the      ", "supervisor key. "]


def test_running_screen_counts_down_and_shows_levels_against_the_cap() -> None:
    s = _running(plus=3)
    scr = _screen(s)
    assert scr.text(0) == "RUNNING    19:59"  # 1.03 s into a 20 min session: 1198.97 s left, shown rounded up
    assert scr.text(3) == "    3.0 / 80 mA "  # 3 mA set, ramped at 5 mA/s within the second
    assert scr.text(6) == "+/- all channels"
    s.panel.channel = 1  # the trainer selected channel 2
    scr.compose(s.sup, s.panel, s.prog)
    assert scr.text(2).startswith(" 1") and scr.text(4).startswith(">2")
    assert scr.text(6) == "+/- channel 2   "


def test_four_channels_get_one_row_each_with_a_short_label() -> None:
    s = State("tens_conventional")
    s.run(100)
    s.step(sv.START_PAUSE)
    s.step(sv.PLUS)
    s.run(400)
    scr = _screen(s)
    # marker, channel, level mA, limit mA (the program's 50 mA), label shortened keeping its number
    assert [scr.text(r) for r in range(2, 6)] == [">1 1.0/ 50 cha 1", ">2 1.0/ 50 cha 2", ">3 1.0/ 50 cha 3",
                                                  ">4 1.0/ 50 cha 4"]


def test_paused_screen_keeps_the_time_and_says_start_resumes() -> None:
    s = _running()
    s.step(sv.START_PAUSE)
    s.run(1500)
    assert s.sup.state == sv.PAUSED
    scr = _screen(s)
    assert scr.text(0).startswith("PAUSED")
    assert scr.text(3) == "    0.0 / 80 mA "  # paused: nothing flows
    assert scr.text(6) == "Paused: start   " and scr.text(7) == "resumes.        "


def test_fault_screen_says_the_reason_in_words_and_how_to_clear_it() -> None:
    s = _running()
    s.estop_released = False
    s.step()
    assert s.sup.state == sv.FAULT
    scr = _screen(s)
    assert scr.text(0) == "FAULT           "  # no countdown in a fault
    assert _rows(scr, 2, 4) == ["E-stop pressed: ", "all outputs off."]
    assert _rows(scr, 6) == ["Release e-stop, ", "key off and on. "]
    other = State()
    other.sup.latch_fault("button stuck: plus")
    assert _screen(other).text(2) == "Button stuck:   " and _screen(other).text(3).startswith("plus")


def test_an_alert_stays_two_seconds_then_the_hint_returns() -> None:
    s = _running()
    scr = _screen(s)
    s.step(sv.START_PAUSE)
    s.run(1500)
    s.step(sv.PLUS)  # + while paused: refused
    scr.observe(s.t - TICK, s.sup)
    assert scr.compose(s.sup, s.panel, s.prog)
    assert scr.text(6) == "paused: +       " and scr.text(7) == "ignored         "
    s.run(1000)
    scr.observe(s.t, s.sup)
    scr.compose(s.sup, s.panel, s.prog)
    assert scr.text(6).startswith("paused: +")  # still on after 1 s
    s.run(1100)
    scr.observe(s.t, s.sup)
    scr.compose(s.sup, s.panel, s.prog)
    assert scr.text(6) == "Paused: start   "


def test_supervisor_mode_marks_channels_and_shows_the_limit_being_set() -> None:
    s = _ready()
    s.panel.supervisor_mode = True
    s.panel.channel = 0
    s.sup.limit_ua[0] = 35_000
    scr = _screen(s)
    assert scr.text(2) == "*1 lower back L "
    assert scr.text(3) == "    0.0 / 35 mA "  # the supervisor limit, not the program cap
    assert scr.text(5) == "    0.0 / 100 mA"
    assert _rows(scr, 6) == ["Supervisor: +/- ", "sets the max.   "]


def test_a_screen_kept_through_changes_reads_as_one_built_fresh_at_each() -> None:
    """The rows _build keeps (the program's, the channels', the wrapped messages, the titles) never
    show what a screen built fresh from the same state would not: through start, ramp, pause,
    resume, a channel selected, supervisor mode and a limit set, an alert, a fault and its clearing."""
    s = _ready()
    kept = _screen(s)
    checked = []

    def same(what: str) -> None:
        kept.observe(s.t, s.sup)
        kept.compose(s.sup, s.panel, s.prog)
        fresh = _screen(s)
        assert _rows(kept, 0) == _rows(fresh, 0), (what, _rows(kept, 0), _rows(fresh, 0))
        checked.append(what)

    s.step(sv.START_PAUSE)
    s.step(sv.PLUS)
    s.step(sv.PLUS)
    s.run(200)
    same("running, ramping")
    s.step(sv.START_PAUSE)
    s.run(1500)
    same("paused")
    s.step(sv.START_PAUSE)
    s.run(300)
    same("resumed")
    s.panel.channel = 1
    same("channel 2 selected")
    s.step(sv.PLUS, 1)
    s.run(500)
    same("channel 2 raised")
    s.step(sv.START_PAUSE)
    s.run(1500)
    same("paused again (the kept message)")
    s.panel.channel = sv.ALL
    s.step(sv.START_PAUSE)
    s.run(300)
    same("resumed, all channels")
    s.step(sv.START_PAUSE)
    s.run(1500)
    s.step(sv.PLUS)  # refused while paused: an alert
    same("an alert")
    s.run(2500)
    same("the alert gone")
    s.panel.supervisor_mode = True
    s.panel.channel = 0
    s.sup.limit_ua[0] = 35_000
    same("supervisor mode, a limit set")
    s.sup.limit_ua[0] = 40_000
    same("the limit raised")
    s.panel.supervisor_mode = False
    s.panel.channel = sv.ALL
    same("supervisor mode left")
    s.estop_released = False
    s.step()
    same("fault")
    s.estop_released = True
    s.key = False
    s.run(100)
    s.key = True
    s.run(100)
    same("fault cleared")
    assert len(checked) == 14


def test_only_changed_rows_are_marked_dirty() -> None:
    s = _running()
    scr = _screen(s)
    scr.dirty = 0
    assert not scr.compose(s.sup, s.panel, s.prog)  # nothing moved
    s.step(sv.MINUS)  # level 3 -> 2 mA on both channels, at once
    assert scr.compose(s.sup, s.panel, s.prog)
    assert scr.dirty == (1 << 3) | (1 << 5)


def test_a_level_row_is_narrow_only_where_its_level_field_alone_changed() -> None:
    """Screen.span: a level row whose level field alone moved names those 4 columns (one row per
    channel here: the field follows ">1"); a row that changed elsewhere is drawn whole (0)."""
    s = State("tens_conventional")
    s.run(100)
    s.step(sv.START_PAUSE)
    s.step(sv.PLUS)
    s.step(sv.PLUS)
    s.run(1000)
    scr = _screen(s)
    level_rows = [scr._row_of[c] for c in range(4)]
    assert not scr._two and level_rows == [2, 3, 4, 5], level_rows
    assert scr.span == [0] * scr.rows  # the first screen: every row whole
    scr.dirty = 0
    s.step(sv.PLUS)
    s.run(100)  # 2.0 -> 2.5 mA
    assert scr.compose(s.sup, s.panel, s.prog)
    assert [scr.span[r] for r in level_rows] == [(2 << 8) | 6] * 4, scr.span
    assert scr.dirty == sum(1 << r for r in level_rows)
    s.panel.channel = 1  # the marker moves: rows 2 and 3 change in column 0 too
    s.run(100)
    assert scr.compose(s.sup, s.panel, s.prog)
    assert scr.span[2] == 0 and scr.span[3] == 0, scr.span


def test_a_second_of_a_running_session_rebuilds_the_title_row_only() -> None:
    """The countdown moves once a second: only row 0 is rebuilt and drawn (a whole screen made
    ~1.7 KB of garbage a second on silicon, the steady state's only allocation)."""
    s = _running()
    scr = _screen(s)
    scr.dirty = 0
    before = list(scr.lines)
    s.run(1000)
    used = 0
    if ON_MPY:
        gc.collect()
        gc.disable()
        used = gc.mem_alloc()  # type: ignore[attr-defined]
    assert scr.compose(s.sup, s.panel, s.prog)
    if ON_MPY:
        grew = gc.mem_alloc() - used  # type: ignore[attr-defined]
        gc.enable()
        assert grew < 400, grew  # a few small strings (a whole screen: well over 1 KB)
    assert scr.dirty == 1 and scr.lines[1:] == before[1:] and scr.text(0) != "RUNNING    19:59"
    assert scr.text(0).startswith("RUNNING") and scr.text(0).endswith("58")
    scr.dirty = 0
    s.run(1000)
    s.step(sv.MINUS)  # the time and both levels at once: those three rows
    if ON_MPY:
        gc.collect()
        gc.disable()
        used = gc.mem_alloc()  # type: ignore[attr-defined]
    assert scr.compose(s.sup, s.panel, s.prog)
    if ON_MPY:
        grew = gc.mem_alloc() - used  # type: ignore[attr-defined]
        gc.enable()
        assert grew < 1600, grew  # the title and two level rows (a whole screen: over 3 KB)
    assert scr.dirty == 1 | (1 << 3) | (1 << 5)
    assert scr.text(3).strip() == "2.0 / 80 mA" and scr.text(5).strip() == "2.0 / 80 mA"
    scr.dirty = 0
    s.step(sv.START_PAUSE)  # pause: the levels ramp down, then the state's words change
    s.run(3000)
    assert s.sup.state == sv.PAUSED
    assert scr.compose(s.sup, s.panel, s.prog)  # the whole screen is composed again
    assert scr.dirty & (1 << 6) and scr.text(6).startswith("Paused")


def test_the_level_row_reads_as_ma_tenths_at_every_level() -> None:
    """The level row's template (one format per level change) says what ma_tenths says, below and
    above 100 mA, and exactly what the row built piece by piece says, in both layouts."""
    class Prog:
        labels = ("lower back L", "50% duty")

    scr = dsp.Screen(2)
    scr._program = Prog()
    scr._lim_s[0] = "80"
    scr._lim_s[1] = "5"
    scr._sel = sv.ALL
    for two in (True, False):
        scr._two = two
        for c in (0, 1):
            scr._fmt[c] = scr._level_template(c)
            assert scr._fmt[c] is not None
            for t in list(range(0, 1200, 7)) + [999, 1000, 1001]:
                scr._lvl[c] = t
                row = scr._level_line(c)  # bytes from the template below 100 mA (Screen.lines)
                line = row.decode() if isinstance(row, bytes) else row
                assert line == scr._level_text(c) and len(line) == 16, (two, c, t, line)
                if two and c == 0:
                    assert line == dsp.fit("   " + dsp.ma_tenths(t * 100) + " / 80 mA", 16), (t, line)
    scr._lvl[0] = 125
    assert scr._level_line(0) == b">112.5/ 80 low L"


def test_text_helpers() -> None:
    assert dsp.fit("abc", 5) == "abc  " and dsp.fit("abcdef", 4) == "abcd"
    assert dsp.wrap("program locked while running", 16, 2) == ["program locked  ", "while running   "]
    assert dsp.wrap("a verylongwordthatdoesnotfit x", 8, 4) == ["a       ", "verylong", "wordthat", "doesnotf"]
    assert dsp.wrap("", 4, 2) == ["    ", "    "]
    # bytes in, bytes out (the screen's message rows): the same breaks
    assert dsp.wrap(b"a verylongwordthatdoesnotfit x", 8, 4) == [b"a       ", b"verylong", b"wordthat", b"doesnotf"]
    assert dsp.wrap(b"verylongword x", 8, 3) == [b"verylong", b"word x  ", b"        "]
    assert dsp.fit(b"ab", 4) == b"ab  " and dsp.fit(b"abcdef", 4) == b"abcd"
    assert dsp.ma_tenths(0) == " 0.0" and dsp.ma_tenths(12_599) == "12.5" and dsp.ma_tenths(100_000) == " 100"
    assert dsp.short_label("lower back L", 6) == "lowe L" and dsp.short_label("quadriceps", 6) == "quadri"
    assert dsp.mmss(1200) == "20:00" and dsp.mmss(61) == "1:01"


def test_compose_allocates_nothing_when_nothing_changes() -> None:
    """In the steady state (nothing on the screen would change) observe() and compose() allocate nothing."""
    s = _running()
    scr = _screen(s)

    def steady() -> None:
        for _ in range(50):
            scr.observe(s.t, s.sup)
            scr.compose(s.sup, s.panel, s.prog)

    assert heap_locked(steady) or not ON_MPY
    assert scr.composed == 1


# -- the OLED hal on the SSD1306 model --------------------------------------------------------------
def _stim4() -> "_board.Board":
    with open(BOARDS + "stim4.json") as f:
        return _board.validate(json.load(f))


def _oled() -> "Tuple[Any, Any, Any]":
    """A fresh chip with the SSD1306 model on stim4's display bus, and stim.hal.oled's Oled for it."""
    if LIB not in sys.path:
        sys.path.append(LIB)
    chip = fakehw.install()
    brd = _stim4()
    disp = brd.display
    assert disp is not None
    dev = model.attach(chip, brd.i2c[disp.bus].id, disp.address)
    stim = __import__("stim.hal.oled")  # via __import__: the host type check never reads hal code
    return chip, dev, stim.hal.oled.Oled(brd)


def _flush(o: "Any", s: State, now: int) -> int:
    """Call service() pass by pass (the first composes) until no row is left to draw and no page to
    send; return the passes after the first."""
    n = 0
    o.service(now, s.sup, s.panel, s.prog)
    while o.busy:
        now += TICK
        n += 1
        o.service(now, s.sup, s.panel, s.prog)
    return n


def test_driver_init_leaves_the_panel_on_and_blank() -> None:
    _chip, dev, _o = _oled()
    assert dev.lit() and dev.mode == model.HORIZONTAL and dev.seg_remap and dev.com_remap
    assert dev.text() == [" " * 16] * 8
    assert dev.data_bytes == 1024  # the driver's show() of the blank frame


def test_the_model_panel_reads_back_what_the_screen_says_in_every_state() -> None:
    _chip, dev, o = _oled()
    states = [_ready(), _running(), State()]
    states[2].key = False
    states[2].run(50)
    f = _running()
    f.estop_released = False
    f.step()
    states.append(f)
    now = 0
    for s in states:
        now += 1000
        _flush(o, s, now)
        shown = [o.screen.text(r) for r in range(o.screen.rows)]
        assert dev.text() == shown, (dev.text(), shown)
    assert dev.pixel(0, 7) == 1 and dev.pixel(0, 15) == 0  # the title bar is lit around its glyphs


def test_one_piece_of_work_a_pass_an_eighth_of_a_page_at_most_and_a_compose_at_most_every_200_ms() -> None:
    """Each pass does one piece at most: compose, draw one row, draw the clock's glyphs, send a
    page's address window, or send one 16-byte chunk; never two of them (the longest pass on
    silicon used to carry a compose and a draw)."""
    chip, dev, o = _oled()
    s = _running()
    calls = [0]
    compose = o.screen.compose

    def counted(sup: "Any", panel: "Any", program: "Any") -> bool:
        calls[0] += 1
        return bool(compose(sup, panel, program))

    o.screen.compose = counted
    t0 = chip.clock.now_ns()
    kinds: "List[str]" = []
    now = 0
    longest = 0
    while True:
        composed = calls[0]
        fb = bytes(o.drv.buffer)
        todo = (o.screen.dirty, o.screen.clock_only)
        writes = dev.writes
        data = dev.data_bytes
        t = chip.clock.now_ns()
        o.service(now, s.sup, s.panel, s.prog)
        longest = max(longest, chip.clock.now_ns() - t)
        did = []
        if calls[0] != composed:
            did.append("compose")
        if bytes(o.drv.buffer) != fb or ((o.screen.dirty, o.screen.clock_only) != todo and "compose" not in did):
            did.append("draw")  # (a blank row drawn over a blank one changes no pixel)
        if dev.writes != writes:
            assert dev.writes == writes + 1  # one transaction
            did.append("data" if dev.data_bytes != data else "window")
            assert dev.data_bytes - data in (0, 16)  # an eighth of a page at most
        assert len(did) <= 1, (len(kinds), did)
        kinds.append(did[0] if did else "-")
        now += TICK
        if not o.busy:
            break
    # The first screen: a compose, its eight rows drawn one a pass and row 0's clock in a pass of
    # its own, then one address window and the eight pages' chunks (the controller goes on from
    # one page's end to the next page's first column by itself).
    assert kinds == ["compose"] + ["draw"] * 9 + ["window"] + ["data"] * 64, kinds
    assert o.pages_sent == 8 and len(dev.frames) == 65  # + the driver's blank frame at init
    pages = [f[1] for f in dev.frames[1:]]
    assert pages == [1 << (i // 8) for i in range(64)]  # each data write is an eighth of one page
    assert longest < 600_000  # 16 bytes at 400 kHz: ~0.45 ms of bus in a pass at most
    bus_ms = (chip.clock.now_ns() - t0) / 1e6
    assert 8 * 3.0 < bus_ms < 8 * 4.0  # ~3.3 ms a page at 400 kHz, spread over eight passes
    assert dev.text() == [o.screen.text(r) for r in range(o.screen.rows)]
    assert calls[0] == 1  # nothing is composed while rows are drawn or pages sent
    o.service(now, s.sup, s.panel, s.prog)  # due (the last compose was at 0): nothing changed
    assert calls[0] == 2 and not o.busy
    t = now
    s.step(sv.MINUS)  # a change, 10 ms after that compose: it waits for the 200 ms mark
    o.service(t + TICK, s.sup, s.panel, s.prog)
    o.service(t + 199, s.sup, s.panel, s.prog)
    assert calls[0] == 2 and not o.busy
    o.service(t + 200, s.sup, s.panel, s.prog)
    assert calls[0] == 3 and o.screen.dirty == (1 << 3) | (1 << 5) and not o.pending
    o.service(t + 210, s.sup, s.panel, s.prog)  # row 3 drawn
    assert o.pending == 1 << 3 and o.screen.dirty == 1 << 5
    o.service(t + 220, s.sup, s.panel, s.prog)  # row 5 drawn
    assert o.pending == (1 << 3) | (1 << 5) and o.screen.dirty == 0


def test_the_countdown_draws_and_sends_only_the_glyphs_that_changed() -> None:
    """One second's step of the clock draws the glyph that changed and sends its chunk (16 bytes),
    not row 0's page (128 bytes); a minute's step, the minute's glyphs that changed and their chunks."""
    _chip, dev, o = _oled()
    s = _running()
    _flush(o, s, 0)
    now = 1000
    sent = []
    for _ in range(3):
        s.run(1000)
        data = dev.data_bytes
        clock = o.screen.clock
        now += 1000
        _flush(o, s, now)
        assert o.screen.clock == clock - 1
        assert dev.text()[0] == o.screen.text(0), (dev.text()[0], o.screen.text(0))
        sent.append(dev.data_bytes - data)
    assert sent == [16, 16, 16], sent
    # A minute later, 19:59 -> 18:59: the minutes' units (column 12 of 16) and nothing else.
    s2 = _ready()
    _chip2, dev2, o2 = _oled()
    _flush(o2, s2, 0)
    assert dev2.text()[0] == "READY      20:00"
    s2.step(sv.START_PAUSE)
    s2.run(1500)
    _flush(o2, s2, 1000)
    assert dev2.text()[0] == "RUNNING    19:59", dev2.text()[0]
    s2.run(60_000)
    data = dev2.data_bytes
    _flush(o2, s2, 70_000)
    assert dev2.text()[0] == o2.screen.text(0) and dev2.text()[0].endswith("18:59"), dev2.text()[0]
    assert dev2.data_bytes - data == 16  # minutes' units (column 12): chunk 6 alone, not 6 and 7


def test_a_ramping_level_redraws_and_sends_only_its_level_field() -> None:
    """While a level ramps, its row differs from the last in the 4-column level field alone: the
    OLED draws those columns and sends the chunks under them (columns 3..6 of the two-row layout:
    pixels 24..55, chunks 1..3, 48 bytes a row), not the page from there on (7 chunks); the model
    panel still reads back every row as the screen says it."""
    _chip, dev, o = _oled()
    s = _running()
    now = 1000
    _flush(o, s, now)
    rows = [o.screen._row_of[c] for c in range(4) if o.screen._row_of[c] >= 0]
    assert len(rows) == 2 and o.screen._two, rows  # lower_back: two channels, two rows each
    before = [dev.text()[r] for r in rows]
    sent = []
    for _ in range(12):  # + steps the set points by 1 mA; the levels ramp 0.1 mA every 20 ms
        s.step(sv.PLUS)
        s.run(200)
        data = dev.data_bytes
        now += 1000
        _flush(o, s, now)
        assert dev.text() == [o.screen.text(r) for r in range(o.screen.rows)], dev.text()
        sent.append(dev.data_bytes - data)
        assert [o.screen.span[r] for r in rows] == [(3 << 8) | 7] * 2  # columns 3..6
    after = [dev.text()[r] for r in rows]
    assert after != before and all(a[:3] == b[:3] and a[7:] == b[7:] for a, b in zip(after, before))
    assert max(sent) <= 2 * 48 + 16 and min(sent) >= 2 * 48, sent  # (+ 16: the clock's second)


def test_service_allocates_nothing_and_sends_nothing_when_nothing_changes() -> None:
    """With the screen up to date and the state still, service() allocates nothing and writes nothing."""
    _chip, dev, o = _oled()
    s = _running()
    _flush(o, s, 0)
    writes = dev.writes
    now = [1000]

    def steady() -> None:
        for _ in range(60):
            o.service(now[0], s.sup, s.panel, s.prog)
            now[0] += TICK

    assert heap_locked(steady) or not ON_MPY
    assert dev.writes == writes and o.error is None


def test_the_countdown_allocates_nothing_as_it_draws_and_sends_each_second() -> None:
    """A steady session's only screen change is the remaining time, once a second. Composing it,
    drawing its glyphs and sending its page allocate nothing (the clock is drawn from preallocated
    one-character strings into row 0's blank field; issue 12's silicon.alloc_bytes_per_tick_steady),
    and the panel reads the new time."""
    _chip, dev, o = _oled()
    s = _running()
    _flush(o, s, 0)
    now = [1000]
    first = dev.text()[0]

    def three_seconds() -> None:
        for _ in range(300):
            s.step()
            o.service(now[0], s.sup, s.panel, s.prog)
            now[0] += TICK

    s.step()  # the supervisor's first steps after _running() may still ramp: settle outside the lock
    assert heap_locked(three_seconds) or not ON_MPY
    assert o.error is None and dev.text()[0] != first
    assert dev.text()[0] == o.screen.text(0) and dev.text()[0].startswith("RUNNING")
    assert o.screen.clock >= 0 and dev.text()[0].endswith("%02d" % (o.screen.clock % 60))


def test_an_alert_of_one_tick_between_composes_shows_on_the_panel_and_goes_after_two_seconds() -> None:
    """The supervisor keeps an alert for the tick it happened in: service() catches it in that pass
    (not a compose pass), the panel shows it, and the hint returns once ALERT_MS have passed."""
    _chip, dev, o = _oled()
    s = _running()
    s.step(sv.START_PAUSE)
    s.run(1500)
    now = 0
    _flush(o, s, now)
    assert dev.text()[6] == "Paused: start   "
    now += 1000
    _flush(o, s, now)  # a compose at `now`: the next is due at now + 200
    now += TICK
    s.step(sv.PLUS)  # + while paused: refused, an alert for this tick only
    assert s.sup.alert is not None
    o.service(now, s.sup, s.panel, s.prog)  # not a compose pass
    assert not o.busy
    s.step()
    assert s.sup.alert is None
    shown = []
    for _ in range(300):  # 3 s of passes
        now += TICK
        s.step()
        o.service(now, s.sup, s.panel, s.prog)
        if not o.busy:
            shown.append(dev.text()[6])
    assert "paused: +       " in shown and shown[-1] == "Paused: start   ", shown
    first = shown.index("paused: +       ")
    gone = shown.index("Paused: start   ", first)
    assert 150 <= gone - first <= 230, (first, gone)  # ~2 s of idle passes (less the ones that send)


def test_a_display_that_stops_answering_is_switched_off_not_raised() -> None:
    chip, _dev, o = _oled()
    s = _running()
    o.service(0, s.sup, s.panel, s.prog)  # compose: rows to draw, then pages to send
    del chip.i2c_devices[(0, 0x3C)]  # unplugged
    n = 0
    while o.error is None and n < 20:  # draws (no bus) until the first transaction
        n += 1
        o.service(n * TICK, s.sup, s.panel, s.prog)
    assert o.error is not None and "display" in o.error and n == 10  # 9 draw passes, then the window
    o.service(30 * TICK, s.sup, s.panel, s.prog)  # and it stays off, quietly


def test_board_patterns_drive_the_status_led_rhythm() -> None:
    from stim import feedback as fb

    with open(BOARDS + "stim4.json") as f:
        d = json.load(f)
    d["outputs"]["status_led"]["patterns"] = {"running": [100, 300], "safe": "on"}
    brd = _board.validate(d)
    led = fb.StatusLed(brd.outputs.status_led.patterns)
    lit: "List[bool]" = [led.on(sv.RUNNING, t) for t in range(0, 800, 50)]
    assert lit == [True, True, False, False, False, False, False, False] * 2
    assert led.on(sv.SAFE, 12345) and led.on(sv.SAFE, 0)  # "on": steady
    # States the board leaves out keep the defaults.
    assert [led.on(sv.FAULT, t) for t in (0, 100, 200)] == [fb.led_on(sv.FAULT, t) for t in (0, 100, 200)]
    assert heap_locked(lambda: led.on(sv.RUNNING, 777)) or not ON_MPY


def test_a_beep_lasts_its_pattern_whatever_the_ticks_phase() -> None:
    """Each part of a buzzer pattern ends at the tick nearest its end: ticks 10 ms apart whose ms
    readings drift by up to a ms (sleep_ms keeps its caller's phase) sound every on and off part
    for its own length, to the tick, where ending at the first tick at or past it gave 250 or
    260 ms by the phase alone."""
    from stim import feedback as fb

    for drift in (-1, 0, 1):  # the end tick reads a ms early, on time, a ms late
        for pattern in (fb.BEEP_REFUSED, fb.BEEP_LIMIT, fb.BEEP_FAULT):
            bz = fb.Buzzer()
            bz.play(pattern, 1000)
            ticks = [1000 + 10 * k + (drift if k else 0) for k in range(200)]
            sounds = [bz.on(t) for t in ticks]
            parts: "List[List[Any]]" = []  # the run lengths of on and off, in ticks
            for s in sounds:
                if parts and parts[-1][0] == s:
                    parts[-1][1] += 1
                else:
                    parts.append([s, 1])
            heard = [10 * n for _s, n in parts[:-1]]  # the last run: silence after the pattern
            assert heard == list(pattern), (drift, pattern, heard)
            assert bz.pattern == ()  # played out
