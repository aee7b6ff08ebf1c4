"""The envelope's flat stretches, which the tick asks for once instead of every 10 ms (issue 12).

pulse.envelope_flat_until(program, t) names a time u > t; the controller keeps the envelope it
computed at t for every session time in [t, u) and asks envelope_permille again from u on.

The invariants, in words:
- for every valid program and every session time t, envelope_permille is the same at every
  millisecond of [t, envelope_flat_until(program, t));
- in a real session on the model, the envelope the tick used is, at every tick, the one
  envelope_permille gives for that tick's session time (so no ramp is skipped: no jump).
"""

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picostim.consolerig import Rig
from stim import programs, pulse
from stim import supervisor as sv

_EXHAUSTIVE_MS = 20_000  # stretches up to this long are checked at every millisecond


def _check_stretch(p: programs.Program, t: int) -> None:
    u = pulse.envelope_flat_until(p, t)
    assert u > t, (t, u)
    e = pulse.envelope_permille(p, t)
    points: range | list[int] = range(t, u)
    if u - t > _EXHAUSTIVE_MS:  # both ends, and many points between
        rnd = random.Random(t)
        points = [t, t + 1, u - 2, u - 1] + [rnd.randrange(t, u) for _ in range(2_000)]
    for x in points:
        assert pulse.envelope_permille(p, x) == e, (p.to_dict(), t, u, x)


_RAMP_S = st.sampled_from([0, 0.001, 0.01, 0.25, 0.5, 1, 1.5, 2.5, 5])


@st.composite
def _programs(draw: st.DrawFn) -> programs.Program:
    d: dict[str, object] = {"freq_hz": 50, "width_us": 200, "duration_min": draw(st.integers(1, 3)),
                            "ramp_up_s": draw(_RAMP_S), "ramp_down_s": draw(_RAMP_S)}
    if draw(st.booleans()):
        d["on_s"] = draw(st.integers(1, 12))
        d["off_s"] = draw(st.integers(1, 12))
    try:
        return programs.validate(d, 4)
    except programs.ProgramError:  # e.g. ramps longer than a contraction: not a program
        return programs.validate({"freq_hz": 50, "width_us": 200, "duration_min": 1}, 4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_programs(), st.data())
def test_the_envelope_is_the_same_over_every_flat_stretch_named(p: programs.Program, data: st.DataObject) -> None:
    """Every millisecond of [t, envelope_flat_until(t)) has the envelope of t, for any t of the
    session, its edges (the ramps' ends, the session's ramp-down and end) included."""
    edges = [0, p.ramp_up_ms, p.duration_ms - p.ramp_down_ms, p.duration_ms]
    if p.on_ms:
        cyc = p.on_ms + p.off_ms
        k = data.draw(st.integers(0, p.duration_ms // cyc))
        edges += [k * cyc + x for x in (p.ramp_up_ms, p.on_ms - p.ramp_down_ms, p.on_ms, cyc)]
    base = data.draw(st.sampled_from(edges))
    t = max(0, base + data.draw(st.integers(-3, 3)))
    _check_stretch(p, t)
    _check_stretch(p, data.draw(st.integers(0, p.duration_ms + 1_000)))


def test_every_built_in_program_keeps_each_flat_stretch_flat_at_every_tick_of_its_session() -> None:
    """For each built-in program, at 10 ms steps over the whole session: the stretch named is flat."""
    for name in programs.names():
        p = programs.by_name(name, 4)
        t = 0
        while t < p.duration_ms + 100:
            _check_stretch(p, t)
            t = max(t + 10, pulse.envelope_flat_until(p, t))  # jump over checked stretches


def test_the_tick_uses_the_envelope_of_its_own_session_time_at_every_tick() -> None:
    """A whole (short) session on the model: after every running tick, the controller's envelope is
    envelope_permille at the supervisor's session time."""
    rig = Rig()
    ctl = rig.ctl
    p = programs.validate({"name": "short", "freq_hz": 50, "width_us": 200, "on_s": 1, "off_s": 1,
                           "ramp_up_s": 0.3, "ramp_down_s": 0.2, "duration_min": 1}, len(ctl.out_ua))
    ctl.add_program(p)
    if not ctl.select_program(len(ctl.programs) - 1):
        raise AssertionError("the short program could not be selected")
    rig.ready()
    rig.press("start_pause")
    rig.button("plus", True)
    ran = 0
    for _ in range(6_200):
        rig.tick()
        if ctl.sup.state == sv.RUNNING:
            ran += 1
            assert ctl.envelope == pulse.envelope_permille(ctl.program, ctl.sup.session_ms), ctl.sup.session_ms
    assert ran > 5_000, ran  # the session ran (and ended by its time)
    assert ctl.sup.state == sv.READY and ctl.sup.end_reason == sv.END_COMPLETED
