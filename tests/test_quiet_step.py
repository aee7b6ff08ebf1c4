"""The supervisor's quiet step changes exactly what its full step would.

Supervisor.advance takes a short path (a "quiet step": the session's time, the ramp of levels not
yet at their set points, then the self-check) when the last step settled (_settled: running, key
in, e-stop released, the self-check passed, no pause or end under way) and nothing but time moved
since: no intent, the same raw inputs, the same caps, and the session not yet at its ramp-down.
That saves most of the supervisor's time in a steady session on silicon, and ~0.3 ms a tick while a
trainer holds + and the levels ramp (issue 12).

The invariant, in words: for any sequence of steps, inputs, sense checks, faults and direct
writes to the limits or levels, a supervisor that may take quiet steps ends every step in exactly
the state (every attribute but the quiet flag itself) of one that always takes the full step.
"""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stim import supervisor as sv
from stim.ticks import PERIOD


class _AlwaysFull(sv.Supervisor):
    """The reference: never settled, so every step is a full one."""

    def _settled(self) -> bool:
        return False


def _make(cls: type) -> Any:
    s = cls(channel_max_ua=(80_000, 80_000, 50_000), board_max_ua=100_000, ramp_ua_per_s=20_000,
            max_session_ms=1_500, step_ua=5_000, ramp_down_ms=500)
    s.set_program((60_000, 60_000, 30_000), (True, True, False), 1_500, 500)
    return s


def _state(s: Any) -> dict[str, Any]:
    # The quiet flag and the self-check's memo of what it passed are how the quick one gets there.
    memo = ("_quiet", "_ok_levels", "_ok_limits", "_ok_prog", "full_steps")  # full_steps: _Counting's
    return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(s).items() if k not in memo}


# One event per tick; most ticks are plain steps so that sessions settle and run quiet.
_EVENT = st.one_of(
    st.just(("step", sv.NONE)),
    st.sampled_from([("step", sv.START_PAUSE), ("step", sv.PLUS), ("step", sv.MINUS), ("step", sv.STOP),
                     ("limit", 0), ("limit", 1), ("key", 0), ("estop", 0), ("dt", 0), ("dt", 250),
                     ("sense_open", 0), ("sense_over", 1), ("poke_limit", 0), ("poke_level", 1),
                     ("fault", 0)]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(st.tuples(_EVENT, st.integers(min_value=0, max_value=40)), min_size=1, max_size=40))
def test_a_quiet_step_ends_in_the_state_a_full_step_would(events: list[tuple[tuple[str, int], int]]) -> None:
    """Each event happens once (with its tick), then `quiet` plain 10 ms ticks follow."""
    quick = _make(sv.Supervisor)
    full = _make(_AlwaysFull)
    clock = [0]
    inputs = {"key": True, "estop": True}

    def tick(intent: int = sv.NONE, ch: int = sv.ALL, a: int = 0, dt: int = 10) -> None:
        quick.step(clock[0], inputs["key"], inputs["estop"], intent, ch, a)
        full.step(clock[0], inputs["key"], inputs["estop"], intent, ch, a)
        assert _state(quick) == _state(full), (events, clock[0])
        clock[0] = (clock[0] + dt) % PERIOD

    for _ in range(20):
        tick()
    tick(sv.START_PAUSE)
    tick(sv.PLUS)
    for (kind, arg), quiet in events:
        if kind == "step":
            tick(arg)
        elif kind == "limit":
            tick(sv.SET_LIMIT, arg, 20_000 + 10_000 * arg)
        elif kind in ("key", "estop"):
            inputs[kind] = not inputs[kind]
            tick()
        elif kind == "dt":
            tick(dt=arg)
        else:
            for s in (quick, full):
                if kind == "sense_open":
                    s.check_sense(arg, 20_000, 0)
                elif kind == "sense_over":
                    s.check_sense(arg, 10_000, 60_000)
                elif kind == "poke_limit":  # a write outside the step, as the guard's panel makes at READY
                    s.limit_ua[arg] = 15_000
                elif kind == "poke_level":  # a level written outside the step (a corrupt one)
                    s.level_ua[arg] = 3_000
                else:
                    s.latch_fault("test fault")
            tick()
        for _ in range(quiet):
            tick()


class _Counting(sv.Supervisor):
    """Counts its full steps (each debounces its inputs; a quiet step does not)."""

    full_steps = 0

    def _debounce(self, now_ms: int, key_raw: bool, estop_raw: bool) -> None:
        self.full_steps += 1
        super()._debounce(now_ms, key_raw, estop_raw)


def test_a_steady_session_and_a_ramp_take_quiet_steps_and_an_intent_does_not() -> None:
    """The quiet path is taken where it saves time: a steady session, and levels ramping to their
    set points (a trainer holding + between its repeats); an intent or an input change takes the
    full step."""
    s = _make(_Counting)
    t = 0
    for _ in range(20):
        s.step(t, True, True)
        t += 10
    s.step(t, True, True, sv.START_PAUSE)
    t += 10
    s.step(t, True, True, sv.PLUS)  # set points to 5 mA: the levels ramp there at 20 mA/s
    t += 10
    assert s._quiet and s.level_ua[0] < 5_000  # ramping, and the next step may be quiet
    full = s.full_steps
    levels = []
    for _ in range(30):
        s.step(t, True, True)
        levels.append(s.level_ua[0])
        t += 10
    assert s.full_steps == full  # every ramp step was a quiet one
    assert levels[:3] == [400, 600, 800] and levels[22:25] == [4_800, 5_000, 5_000]  # 20 mA/s, then the set point
    assert s.level_ua[:2] == [5_000, 5_000] and s._quiet  # settled
    before = s.session_ms
    s.step(t, True, True)
    assert s.session_ms == before + 10 and s.feed_wdt and s.pump and s.full_steps == full
    s.step(t + 10, True, True, sv.PLUS)  # an intent: the full step
    assert s.full_steps == full + 1
    s.step(t + 20, True, False)  # e-stop: a full step, which latches
    assert s.state == sv.FAULT and not s._quiet


class _NoCapQuick(_Counting):
    """A supervisor whose cap guard is broken (as hazards.md's M04 breaks it): the self-check is
    what stops a level past its cap."""

    def _cap_guard(self, ua: Any) -> None:
        return None


class _NoCapFull(_AlwaysFull):
    def _cap_guard(self, ua: Any) -> None:
        return None


def test_a_quiet_ramp_runs_the_self_check_that_faults_a_level_past_its_cap() -> None:
    """With the cap guard broken, a set point corrupted past its cap ramps a level there; the
    self-check latches the fault at the step the level passes the cap, in a quiet ramp step as in
    a full one (a quiet step that skipped the self-check would ramp on unchecked)."""
    def make(cls: type) -> Any:
        s = cls(channel_max_ua=(80_000, 80_000, 50_000), board_max_ua=100_000, ramp_ua_per_s=20_000,
                max_session_ms=60_000, step_ua=5_000, ramp_down_ms=500)
        s.set_program((10_000, 10_000, 10_000), (True, True, False), 60_000, 500)
        return s

    quick = make(_NoCapQuick)
    full = make(_NoCapFull)
    for s in (quick, full):
        for i in range(20):
            s.step(10 * i, True, True)
        s.step(200, True, True, sv.START_PAUSE)
        s.step(210, True, True, sv.PLUS)
    t = 220
    for s in (quick, full):
        s.setpoint_ua[0] = 10_000 + 1_000  # 1 mA past the program's 10 mA cap: a corrupt write
    full_steps = []
    prev = quick.level_ua[0]
    for _ in range(400):
        full_steps.append(quick.full_steps)
        for s in (quick, full):
            s.step(t, True, True)
        assert _state(quick) == _state(full), t
        if quick.state == sv.FAULT:
            break
        prev = quick.level_ua[0]
        t += 10
    assert quick.fault == "internal error: supervisor invariant"
    assert prev <= 10_000 < prev + 200  # at the step that took the level past its cap (200 uA a step)
    assert full_steps[0] == full_steps[-1]  # every step up to it was a quiet one
