"""The console under fuzz: random and mutated request lines into the firmware's console, with an oracle.

The full 100,000-line run is `make bench` (console.fuzz_lines, console.crashes,
console.state_changes_on_reject); here a share of it runs on every `make test`, and a hypothesis
property sends arbitrary bytes through the byte framing.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picostim import bench
from picostim.bench import console as bench_console
from picostim.consolerig import Rig
from stim import console as fw_console
from stim import supervisor as sv

CI_LINES = 30_000


def test_console_is_a_bench_area_with_its_figures() -> None:
    assert "console" in bench.AREAS
    r = bench_console.measure(lambda _s: None, lines=300)
    assert {"console.fuzz_lines", "console.crashes", "console.state_changes_on_reject"} <= set(r)
    assert r["console.fuzz_lines"] == 300


def test_fuzzed_lines_never_crash_never_change_state_when_refused_never_start_or_raise() -> None:
    """Invariant: for every line, random or a mutation of a valid request, no exception escapes the
    console, it gets exactly one final reply, a refused line leaves supervisor, controller, store and
    recorder exactly as they were, and nothing the console does starts a session or raises a set
    point or level (it only ever asks for STOP or SET_LIMIT)."""
    f = bench_console.Fuzz(seed=11)
    f.run(CI_LINES)
    assert f.examples == []
    assert f.crashes == 0 and f.bad_replies == 0
    assert f.state_changes_on_reject == 0 and f.starts_or_raises == 0
    assert f.lines == CI_LINES
    # The fuzz reaches both sides: most lines are refused, and valid ones are accepted too.
    assert CI_LINES // 2 < f.rejected < CI_LINES - 1000
    assert set(f.intents) == {sv.STOP, sv.SET_LIMIT}


def test_the_mutations_cover_every_command_and_the_framing() -> None:
    import random

    rng = random.Random(3)
    lines = [bench_console.random_line(rng) for _ in range(5000)]
    joined = b"\n".join(lines)
    for cmd in fw_console.COMMANDS:
        assert cmd.encode() in joined, cmd
    assert any(len(x) > fw_console.LINE_MAX for x in lines)
    assert any(b"\x00" in x for x in lines) and any(b"\xff" in x for x in lines)
    assert any(b"\n" in x for x in lines)


_RIG: list[Rig] = []


def _rig() -> Rig:
    if not _RIG:
        _RIG.append(Rig())
    return _RIG[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_any_bytes_get_one_reply_per_nonblank_line_and_change_nothing(data: bytes) -> None:
    """Invariant: whatever bytes arrive, each non-blank line (and each over LINE_MAX bytes) gets
    exactly one JSON reply with "ok" true or false, and the bytes change no supervisor state, no
    limit, no program list and queue no intent."""
    rig = _rig()
    rig.port.lines()
    before = (rig.ctl.sup.state, tuple(rig.ctl.sup.limit_ua), rig.ctl._q_len, len(rig.ctl.programs))
    rig.port.feed(data + b"\n")
    for _ in range(400):
        rig.con.step(rig.now_ms())
        if not rig.con.busy and rig.port.pending() == 0 and rig.con._rx_pos >= rig.con._rx_len:
            break
    segments = [s for s in data.split(b"\n") if s.strip() or len(s) > fw_console.LINE_MAX]
    replies = rig.port.replies()
    assert len(replies) == len(segments)
    assert all(isinstance(r, dict) and isinstance(r.get("ok"), bool) for r in replies)
    assert (rig.ctl.sup.state, tuple(rig.ctl.sup.limit_ua), rig.ctl._q_len, len(rig.ctl.programs)) == before
