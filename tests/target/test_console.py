"""stim.console on the RP2040 model: framing, commands, refusals, bounded work, no allocation.

Runs under pytest and on the MicroPython VM (tests/target/run.py). The controller, store and
console are built as stim.app builds them (picostim.consolerig); the test plays the host.
"""

import sys

from picostim.consolerig import Rig
from stim import console
from stim import supervisor as sv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List

    def heap_locked(fn: "Callable[[], object]") -> bool: ...
else:
    from _util import heap_locked

ON_MPY = sys.implementation.name == "micropython"
PROG = '{"name": "mine", "freq_hz": 50, "width_us": 200, "max_ma": 30}'


def _one(replies: "List[Dict[str, Any]]") -> "Dict[str, Any]":
    assert len(replies) == 1, replies
    return replies[0]


def _error(replies: "List[Dict[str, Any]]", *words: str) -> str:
    r = _one(replies)
    assert r["ok"] is False, r
    for w in words:
        assert w in r["error"], (w, r["error"])
    return str(r["error"])


def test_the_idle_loop_iteration_allocates_nothing() -> None:
    """With no input and nothing to send, a controller tick plus a console step allocate nothing
    (MicroPython heap locked), in SAFE and in READY."""
    rig = Rig()
    ctl = rig.ctl
    con = rig.con
    clock = rig.chip.clock

    def one_iteration() -> None:
        clock.advance(10_000_000)
        now = clock.ticks_ms()
        ctl.tick(now)
        con.step(now)

    for ready in (False, True):
        if ready:
            rig.ready()
        assert _one(rig.ask('{"cmd": "status"}'))["ok"] is True  # warm every path first
        rig.tick(20)
        for _ in range(3):
            assert heap_locked(one_iteration) or not ON_MPY
        assert ctl.error is None and ctl.sup.fault is None
        assert rig.port.out == bytearray()  # nothing was sent while idle
    assert rig.ctl.sup.state == sv.READY


def _count_reads(port: "Any") -> "List[int]":
    """Count the port's read_into() calls from now on, in [0] of the list returned."""
    calls = [0]
    read = port.read_into

    def counted(buf: bytearray, n: int) -> int:
        calls[0] += 1
        return int(read(buf, n))

    port.read_into = counted
    return calls


def test_an_idle_pass_polls_the_port_once_and_a_waiting_line_is_answered_in_the_same_pass() -> None:
    """The idle pass asks the port's rx_poll once and calls nothing else on the port (the chain of
    calls down to the poll cost ~180 us a pass on the emulated RP2040); a line that is waiting is
    read and answered in the very next pass, as before."""
    rig = Rig()
    rig.tick(5)
    port = rig.port
    con = rig.con
    calls = _count_reads(port)
    now = rig.chip.clock.ticks_ms()
    for i in range(3):
        polls = port.polls
        con.step(now + 10 * i)
        assert port.polls == polls + 1 and calls[0] == 0  # one poll, no read
    port.feed(b'{"cmd": "version", "id": 7}\n')
    con.step(now + 40)
    assert calls[0] == 1 and port.pending() == 0
    assert len(port.out) > 0  # its reply started going out in that same pass (two packets a pass)
    con.step(now + 50)
    con.step(now + 60)
    r = _one(port.replies())
    assert r["ok"] is True and r["id"] == 7
    polls = port.polls
    con.step(now + 70)  # idle again
    assert port.polls == polls + 1 and calls[0] == 1


def test_a_port_without_rx_poll_is_read_every_pass() -> None:
    """A port without rx_poll (any object with read_into/writable/write) still works: every pass
    calls its read_into, as before the idle pass polled."""
    rig = Rig()
    port = rig.port
    del port.rx_poll
    con = console.Console(rig.ctl, port)
    calls = _count_reads(port)
    con.step(0)
    con.step(10)
    assert calls[0] == 2 and port.polls == 0
    port.feed(b'{"cmd": "version"}\n')
    con.step(20)
    con.step(30)
    con.step(40)
    assert _one(port.replies())["ok"] is True


def test_every_line_gets_one_reply_and_blank_lines_none() -> None:
    rig = Rig()
    rig.port.feed(b'{"cmd": "version"}\n\n   \r\n{"cmd": "board"}\r\n{"cmd": "nope"}\n')
    rig.tick(60)
    replies = rig.port.replies()
    assert [r["ok"] for r in replies] == [True, True, False]
    assert replies[0]["firmware"] == console.VERSION and replies[0]["protocol"] == console.PROTOCOL
    assert replies[1]["name"] == rig.board.name and len(replies[1]["channels"]) == len(rig.board.channels)
    assert "unknown command" in replies[2]["error"]
    assert rig.con.requests == 3 and rig.con.errors == 1


def test_a_line_split_across_ticks_and_one_request_per_tick() -> None:
    rig = Rig()
    rig.port.feed(b'{"cmd": "ver')
    rig.tick(3)
    assert rig.port.lines() == []  # no newline yet: no reply
    rig.port.feed(b'sion", "id": 9}\n{"cmd": "limits.get", "id": "b"}\n')
    rig.tick(1)
    assert rig.con.requests == 1  # the second request waits for a later tick
    rig.tick(10)
    first, second = rig.port.replies()
    assert first["id"] == 9 and first["firmware"] == console.VERSION
    assert second["id"] == "b" and len(second["limit_ua"]) == len(rig.board.channels)
    assert rig.con.requests == 2


def test_an_oversize_line_gets_one_error_and_the_next_line_works() -> None:
    rig = Rig()
    rig.port.feed(b'{"cmd": "status", "pad": "' + b"x" * (3 * console.LINE_MAX) + b'"}\n{"cmd": "version"}\n')
    rig.tick(200)
    replies = rig.port.replies()
    assert len(replies) == 2, replies
    assert replies[0]["ok"] is False and "line too long" in replies[0]["error"]
    assert replies[1]["ok"] is True and replies[1]["firmware"] == console.VERSION
    assert rig.port.pending() == 0


def test_binary_garbage_invalid_utf8_and_ctrl_c_get_one_error_each() -> None:
    rig = Rig()
    for line, word in ((b"\xff\xfe\x00\x80", "UTF-8"), (b'{"cmd": "\xc3("}', "UTF-8"), (b"\x03", "JSON"),
                       (b"\x00\x01\x02", "JSON"), (b"[1, 2]", "object"), (b'"status"', "object"),
                       (b'{"cmd": 5}', "cmd"), (b'{"cmd": "status", "x": 1}', "unknown field"),
                       (b'{"cmd": "status", "id": [1]}', "id")):
        _error(rig.ask(line), word)
    assert rig.con.errors == 9
    assert rig.ctl.sup.state == sv.SAFE and rig.ctl.error is None


def test_a_reply_goes_out_in_bounded_chunks_and_waits_for_the_port() -> None:
    rig = Rig()
    rig.port.can_write = False
    rig.port.feed(b'{"cmd": "status"}\n{"cmd": "version"}\n')
    rig.tick(5)
    assert rig.port.out == bytearray()
    assert rig.port.pending() > 0 or rig.con.busy  # the second line is not taken while the reply waits
    rig.port.can_write = True
    sizes = []
    for _ in range(20):
        before = len(rig.port.out)
        rig.tick()
        sizes.append(len(rig.port.out) - before)
    assert max(sizes) <= console.OUT_PER_TICK
    assert sum(1 for s in sizes if s) >= 2  # the status reply is longer than one tick's budget
    replies = rig.port.replies()
    assert [r["ok"] for r in replies] == [True, True] and replies[0]["state"] == "SAFE"


def test_limits_set_without_the_key_is_refused_and_changes_nothing() -> None:
    rig = Rig()
    rig.ready()
    assert _one(rig.ask('{"cmd": "limits.set", "ch": 1, "ua": 50000}'))["ok"] is True
    rig.key(False)
    rig.tick(10)
    before = list(rig.ctl.sup.limit_ua)
    assert before[0] == 50000
    for ua in (45000, 55000):  # neither lowering nor raising without the key
        _error(rig.ask('{"cmd": "limits.set", "ch": 1, "ua": %d}' % ua), "key")
    rig.tick(5)
    assert rig.ctl.sup.limit_ua == before
    assert rig.ctl.recorder is not None and rig.ctl.recorder.store.settings.limits_ua == before


def test_limits_set_with_the_key_lowers_and_raises_and_is_persisted() -> None:
    rig = Rig()
    rig.ready()
    r = _one(rig.ask('{"cmd": "limits.set", "ch": 2, "ua": 20000, "id": 4}'))
    assert r == {"ok": True, "ch": 2, "limit_ua": 20000, "id": 4}
    assert rig.ctl.sup.limit_ua[1] == 20000
    r = _one(rig.ask('{"cmd": "limits.set", "ch": 2, "ua": 35000}'))
    assert r["ok"] is True and rig.ctl.sup.limit_ua[1] == 35000
    assert rig.ctl.recorder is not None and rig.ctl.recorder.store.settings.limits_ua[1] == 35000
    top = rig.ctl.sup.channel_max_ua[1]
    _error(rig.ask('{"cmd": "limits.set", "ch": 2, "ua": %d}' % (top + 1)), "out of range")
    _error(rig.ask('{"cmd": "limits.set", "ch": 0, "ua": 1000}'), "ch")
    _error(rig.ask('{"cmd": "limits.set", "ch": 1, "ua": 1000.0}'), "integer")
    _error(rig.ask('{"cmd": "limits.set", "ch": true, "ua": 1000}'), "integer")
    assert rig.ctl.sup.limit_ua[1] == 35000


def test_limits_set_reply_waits_for_a_panel_intent_that_takes_the_tick() -> None:
    # The line is read in one tick; the controller takes it at the next tick the panel leaves
    # free. A + acts on the tick that first sees it: pressed at each offset from the line, it
    # takes that tick once. The reply must still say what the supervisor did, once it did it.
    rig = Rig()
    rig.ready()
    waits = []
    for offset in range(4):
        ua = 40000 - 1000 * offset
        rig.port.feed(b'{"cmd": "limits.set", "ch": 1, "ua": %d}\n' % ua)
        replies: "List[Dict[str, Any]]" = []
        n = 0
        while not replies and n < 20:
            if n == offset:
                rig.button("plus", True)
            rig.tick()
            n += 1
            replies = rig.port.replies()
        r = _one(replies)
        assert r == {"ok": True, "ch": 1, "limit_ua": ua}, (offset, r)
        assert rig.ctl.sup.limit_ua[0] == ua
        waits.append(n)
        rig.button("plus", False)
        rig.tick(10)
    assert max(waits) > min(waits), waits  # some offset put the + intent on the line's tick


def test_stop_during_a_session_ends_it_at_once() -> None:
    rig = Rig()
    rig.ready()
    rig.press("start_pause")
    for _ in range(3):
        rig.press("plus")
    rig.tick(100)
    sup = rig.ctl.sup
    assert sup.state == sv.RUNNING and max(sup.level_ua) > 0
    rig.port.feed(b'{"cmd": "stop"}\n')
    rig.tick(1)  # the line is read in this step and stops the session inside it
    assert sup.state == sv.READY and sup.end_reason == sv.END_STOPPED
    assert max(sup.level_ua) == 0 and max(rig.ctl.out_ua) == 0
    rig.tick(10)
    r = _one(rig.port.replies())
    assert r == {"ok": True, "ended": True, "state": "READY"}


def test_no_command_starts_a_session() -> None:
    rig = Rig()
    rig.ready()
    for line in ('{"cmd": "stop"}', '{"cmd": "limits.set", "ch": 1, "ua": 50000}', '{"cmd": "status"}',
                 '{"cmd": "programs.put", "program": %s}' % PROG, '{"cmd": "start"}', '{"cmd": "plus"}',
                 '{"cmd": "time.set", "epoch_s": 1767225600}'):
        rig.ask(line)
        rig.tick(5)
        assert rig.ctl.sup.state == sv.READY and max(rig.ctl.sup.level_ua) == 0


def test_the_controller_takes_only_stop_and_limits_from_the_console() -> None:
    """Controller.request, the console's only way in, refuses every intent that could start or raise."""
    rig = Rig()
    rig.ready()
    for intent in (sv.START_PAUSE, sv.PLUS, sv.MINUS, sv.NONE):
        assert rig.ctl.request(intent) is False, intent
        rig.tick(5)
        assert rig.ctl.sup.state == sv.READY and max(rig.ctl.sup.level_ua) == 0
    assert rig.ctl.request(sv.SET_LIMIT, 0, 10_000) is True  # lowering: accepted
    assert rig.ctl.request(sv.STOP) is True


def test_programs_put_get_list_and_refusals() -> None:
    rig = Rig()
    rig.ready()
    names = [p["name"] for p in _one(rig.ask('{"cmd": "programs.list"}'))["programs"]]
    assert "lower_back" in names and "mine" not in names
    r = _one(rig.ask('{"cmd": "programs.put", "program": %s}' % PROG))
    assert r["ok"] is True and r["name"] == "mine"
    listed = _one(rig.ask('{"cmd": "programs.list"}'))["programs"]
    assert {"name": "mine", "builtin": False} in listed
    got = _one(rig.ask('{"cmd": "programs.get", "name": "mine"}'))
    assert got["program"]["freq_hz"] == 50 and got["program"]["max_ma"] == 30 and got["builtin"] is False
    assert rig.ctl.recorder is not None and "mine" in rig.ctl.recorder.store.programs
    _error(rig.ask('{"cmd": "programs.put", "program": {"name": "lower_back", "freq_hz": 50, "width_us": 200}}'),
           "built-in")
    _error(rig.ask('{"cmd": "programs.put", "program": {"name": "x", "freq_hz": 500, "width_us": 200}}'),
           "program.freq_hz")
    _error(rig.ask('{"cmd": "programs.put", "program": {"name": "a b", "freq_hz": 50, "width_us": 200}}'), "name")
    _error(rig.ask('{"cmd": "programs.put", "program": [1]}'), "program")
    _error(rig.ask('{"cmd": "programs.get", "name": "nothing"}'), "no program")
    assert len(listed) == len(_one(rig.ask('{"cmd": "programs.list"}'))["programs"])


def test_log_export_streams_records_in_bounded_steps() -> None:
    rig = Rig()
    st = rig.ctl.recorder.store if rig.ctl.recorder is not None else None
    assert st is not None
    for i in range(30):
        st.log_fault("test fault " + str(i), i)
        while st.flush(True):
            pass
    rig.port.feed(b'{"cmd": "log.export", "id": 1}\n')
    for _ in range(400):
        rig.tick()
        if not rig.con.busy and rig.port.pending() == 0:
            break
    replies = rig.port.replies()
    records = [r["log"] for r in replies if "log" in r]
    final = replies[-1]
    assert final["ok"] is True and final["id"] == 1 and final["records"] == len(records)
    faults = [r["fault"] for r in records if str(r.get("fault")).startswith("test fault")]
    assert faults == ["test fault " + str(i) for i in range(30)]
    ns = [r["n"] for r in records]
    assert ns == sorted(ns) and len(set(ns)) == len(ns)
    since = ns[-5]
    rig.port.feed(b'{"cmd": "log.export", "since": %d}\n' % since)
    rig.tick(100)
    tail = [r["log"]["n"] for r in rig.port.replies() if "log" in r]
    assert tail == ns[-5:]


def test_time_set_dates_the_log_and_rejects_nonsense() -> None:
    rig = Rig()
    rig.tick(5)
    r = _one(rig.ask('{"cmd": "time.set", "epoch_s": 1767225600}'))
    assert r["ok"] is True
    rec = rig.ctl.recorder
    assert rec is not None
    w = rec.wall(rig.now_ms())
    assert w is not None and 1767225600 <= w <= 1767225601
    for bad in ("-1", "1e9", "99999999999999999999999", '"1767225600"', "null"):
        _error(rig.ask('{"cmd": "time.set", "epoch_s": %s}' % bad), "epoch_s")
    w2 = rec.wall(rig.now_ms())
    assert w2 is not None and w2 - w <= 1


def test_status_reports_the_supervisor() -> None:
    rig = Rig()
    rig.ready()
    r = _one(rig.ask('{"cmd": "status"}'))
    sup = rig.ctl.sup
    assert r["state"] == "READY" and r["key"] is True and r["estop"] is False
    assert r["limit_ua"] == list(sup.limit_ua) and r["cap_ua"] == [sup.cap_ua(c) for c in range(rig.ctl.n)]
    assert r["program"] == rig.ctl.program.name


def test_a_board_without_a_store_refuses_what_needs_one() -> None:
    rig = Rig(store=False)
    _error(rig.ask('{"cmd": "log.export"}'), "no store")
    _error(rig.ask('{"cmd": "time.set", "epoch_s": 1767225600}'), "no store")
    assert _one(rig.ask('{"cmd": "status"}'))["warnings"] == []


def test_status_lines_go_out_whole_between_replies_and_are_bounded() -> None:
    rig = Rig()
    rig.port.feed(b'{"cmd": "status"}\n')
    rig.tick(1)
    assert 0 < len(rig.port.out) <= console.OUT_PER_TICK  # the reply is half out
    rig.con.emit('{"status": "TEST", "reason": ""}')
    rig.tick(10)
    lines = rig.port.lines()
    assert len(lines) == 2 and lines[0].startswith(b'{"') and b'"ok": true' in lines[0]
    assert lines[1] == b'{"status": "TEST", "reason": ""}'
    rig.port.can_write = False
    for i in range(console.EMIT_MAX + 3):
        rig.con.emit('{"status": "N%d"}' % i)
    assert rig.con.dropped == 3
    rig.port.can_write = True
    rig.tick(10)
    assert rig.port.lines() == [b'{"status": "N%d"}' % i for i in range(console.EMIT_MAX)]
    # Every write is one whole USB packet (lines are padded with spaces before the newline): the
    # board's TX FIFO then never holds part of a packet, and POLLOUT means a packet fits.
    assert set(rig.port.write_sizes) == {console.PACKET}, rig.port.write_sizes


def test_lines_are_padded_to_whole_packets_before_their_newline() -> None:
    for n in (0, 1, 62, 63, 64, 65, 200):
        line = b"x" * n
        p = console.packed(line)
        assert len(p) % console.PACKET == 0 and len(p) - n - 1 < console.PACKET, (n, len(p))
        assert p.endswith(b"\n") and p[:n] == line and p[n:-1] == b" " * (len(p) - n - 1)


def test_a_program_with_a_gap_or_the_positive_phase_first_is_stored_and_selected() -> None:
    """interphase_us and lead validate, are kept (console, store), and the program is selected with
    them: the pulse engine makes the gap and either order (docs/programs.md)."""
    rig = Rig()
    rig.ready()
    for prog in ('{"name": "gap", "freq_hz": 50, "width_us": 200, "interphase_us": 50}',
                 '{"name": "pos", "freq_hz": 50, "width_us": 200, "lead": "positive"}'):
        r = _one(rig.ask('{"cmd": "programs.put", "program": %s}' % prog))
        assert r["ok"] is True, r
        name = r["name"]
        got = _one(rig.ask('{"cmd": "programs.get", "name": "%s"}' % name))["program"]
        assert (got["interphase_us"], got["lead"]) == ((50, "negative") if name == "gap" else (0, "positive"))
        index = [p.name for p in rig.ctl.programs].index(name)
        assert rig.ctl.select_program(index) is True
        rig.tick()
        assert rig.ctl.program_index == index
        assert not str(rig.ctl.sup.alert).startswith("program refused"), rig.ctl.sup.alert
    _error(rig.ask('{"cmd": "programs.put", "program": {"name": "bad", "freq_hz": 50, "width_us": 200,'
                   ' "interphase_us": 2000}}'), "program.interphase_us: 2000 is out of range 0..1000 us")
    ok = _one(rig.ask('{"cmd": "programs.put", "program": {"name": "plain", "freq_hz": 50, "width_us": 200,'
                      ' "interphase_us": 0, "lead": "negative"}}'))
    assert ok["ok"] is True
    assert rig.ctl.select_program([p.name for p in rig.ctl.programs].index("plain")) is True
