"""The safety supervisor, stepped directly (pure: time and levels are arguments).

Runs under pytest and under the MicroPython VM (tests/target/run.py). The
end-to-end invariants through the real controller on the hardware model are
in tests/test_safety_stateful.py.
"""

import sys

from stim import supervisor as sv
from stim.ticks import PERIOD

TICK = 10


def _sup(**kw: int) -> sv.Supervisor:
    s = sv.Supervisor(
        channel_max_ua=(80_000, 80_000),
        board_max_ua=100_000,
        ramp_ua_per_s=kw.pop("ramp", 5_000),
        max_session_ms=kw.pop("session", 600_000),
        step_ua=1000,
        ramp_down_ms=kw.pop("ramp_down", 1000),
        watchdog_reset=bool(kw.pop("wdt", 0)),
    )
    s.set_program((60_000, 60_000), (True, True), kw.pop("duration", 600_000), s.ramp_down_ms)
    return s


class Driver:
    """Steps a supervisor in 10 ms ticks with held input levels."""

    def __init__(self, s: sv.Supervisor, t0: int = 0) -> None:
        self.s = s
        self.t = t0
        self.key = False
        self.estop_released = True

    def step(self, intent: int = sv.NONE, ch: int = sv.ALL, arg: int = 0) -> None:
        self.s.step(self.t, self.key, self.estop_released, intent, ch, arg)
        self.t = (self.t + TICK) % PERIOD

    def run(self, ms: int) -> None:
        for _ in range(ms // TICK):
            self.step()

    def ready(self) -> None:
        self.key = True
        self.run(100)
        assert self.s.state == sv.READY


def test_starts_safe_and_needs_stable_key_and_estop_for_ready() -> None:
    d = Driver(_sup())
    d.run(100)
    assert d.s.state == sv.SAFE
    d.key = True
    d.step()
    assert d.s.state == sv.SAFE  # the enabling direction is debounced
    d.run(40)
    assert d.s.state == sv.SAFE  # 40 ms of a stable key: not yet
    d.run(20)
    assert d.s.state == sv.READY  # 50 ms: ENABLE_STABLE_MS
    d.key = False
    d.step()
    assert d.s.state == sv.SAFE  # the stopping direction acts on its first sample
    for i in range(30):  # a key contact that bounces every other tick never enables
        d.key = i % 2 == 0
        d.step()
        assert d.s.state == sv.SAFE


def test_a_stalled_tick_does_not_make_the_ramp_jump() -> None:
    """After a stall (a late tick, a long collection) a level rises by at most 100 ms of ramp."""
    d = Driver(_sup(ramp=5_000))
    d.ready()
    d.step(sv.START_PAUSE)
    for _ in range(20):
        d.step(sv.PLUS, 0)  # ask for 20 mA
    before = d.s.level_ua[0]
    d.t = (d.t + 3_000) % PERIOD  # the next tick comes 3 s late
    d.step()
    assert d.s.state == sv.RUNNING
    assert 0 < d.s.level_ua[0] - before <= 5_000 * sv.MAX_DT_MS // 1000


def test_start_begins_at_zero_and_ramps_at_the_rate() -> None:
    d = Driver(_sup(ramp=5_000))
    d.ready()
    d.step(sv.START_PAUSE)
    assert d.s.state == sv.RUNNING
    assert d.s.level_ua == [0, 0]
    levels = []
    for _ in range(20):
        d.step(sv.PLUS, 0)  # ask for 20 mA at once
        levels.append(d.s.level_ua[0])
    for _ in range(400):
        d.step()
        levels.append(d.s.level_ua[0])
    rises = [b - a for a, b in zip([0] + levels, levels)]
    assert max(rises) <= 5_000 * TICK // 1000  # 50 uA per 10 ms tick
    assert levels[-1] == 20_000


def test_plus_stops_at_the_cap_with_feedback() -> None:
    d = Driver(_sup())
    d.ready()
    d.step(sv.START_PAUSE)
    alerts = []
    for _ in range(70):
        d.step(sv.PLUS, 1)
        alerts.append(d.s.alert)
    assert d.s.setpoint_ua[1] == 60_000  # the program cap
    assert sv.ALERT_AT_CAP in alerts


def test_key_removed_stops_at_once_and_ends_the_session() -> None:
    d = Driver(_sup(ramp=100_000))
    d.ready()
    d.step(sv.START_PAUSE)
    for _ in range(5):
        d.step(sv.PLUS)
    d.run(200)
    assert d.s.level_ua[0] > 0
    d.key = False
    d.step()
    assert d.s.level_ua == [0, 0]
    assert d.s.state == sv.SAFE
    assert d.s.end_reason == sv.END_KEY


def test_estop_latches_until_released_and_key_cycled() -> None:
    d = Driver(_sup(ramp=100_000))
    d.ready()
    d.step(sv.START_PAUSE)
    d.step(sv.PLUS)
    d.run(50)
    d.estop_released = False
    d.step()
    assert d.s.state == sv.FAULT and d.s.fault == sv.FAULT_ESTOP
    assert d.s.level_ua == [0, 0]
    assert d.s.end_reason == sv.END_ESTOP
    d.estop_released = True
    d.run(500)
    assert d.s.state == sv.FAULT  # released alone does not clear it
    d.key = False
    d.run(50)
    d.key = True
    d.run(100)
    assert d.s.state == sv.READY


def test_watchdog_reset_boots_into_fault_until_key_cycle() -> None:
    d = Driver(_sup(wdt=1))
    d.key = True
    d.run(200)
    assert d.s.state == sv.FAULT and d.s.fault == sv.FAULT_WDT
    d.step(sv.START_PAUSE)
    assert d.s.state == sv.FAULT and d.s.alert == sv.ALERT_FAULT
    d.key = False
    d.run(20)
    d.key = True
    d.run(100)
    assert d.s.state == sv.READY


def test_pause_ramps_down_and_resume_ramps_from_zero_to_previous_levels() -> None:
    d = Driver(_sup(ramp=10_000, ramp_down=500))
    d.ready()
    d.step(sv.START_PAUSE)
    for _ in range(10):
        d.step(sv.PLUS, 0)
    d.run(2000)
    assert d.s.level_ua[0] == 10_000
    d.step(sv.START_PAUSE)
    assert d.s.state == sv.RUNNING  # still ramping down: not PAUSED before 0
    d.run(250)
    assert 0 < d.s.level_ua[0] < 10_000
    d.run(300)
    assert d.s.state == sv.PAUSED and d.s.level_ua == [0, 0]
    d.step(sv.PLUS, 0)
    assert d.s.alert == sv.ALERT_PAUSED_PLUS and d.s.setpoint_ua[0] == 10_000
    d.step(sv.START_PAUSE)
    assert d.s.state == sv.RUNNING and d.s.level_ua[0] <= 100
    d.run(2000)
    assert d.s.level_ua[0] == 10_000  # back to the previous level, not above


def test_session_ends_with_ramp_down_inside_the_limit() -> None:
    d = Driver(_sup(ramp=100_000, duration=5_000))
    d.ready()
    d.step(sv.START_PAUSE)
    d.step(sv.PLUS, 0)
    worst = 0
    for _ in range(700):
        d.step()
        if d.s.level_ua[0] and d.s.session_ms > worst:
            worst = d.s.session_ms
    assert d.s.state == sv.READY and d.s.end_reason == sv.END_COMPLETED
    assert worst <= 5_000


def test_stop_intent_always_stops() -> None:
    d = Driver(_sup(ramp=100_000))
    d.ready()
    d.step(sv.START_PAUSE)
    d.step(sv.PLUS)
    d.run(100)
    d.step(sv.STOP)
    assert d.s.level_ua == [0, 0] and d.s.state == sv.READY and d.s.end_reason == sv.END_STOPPED


def test_limits_lower_without_key_raise_only_with_key() -> None:
    d = Driver(_sup())
    d.step(sv.SET_LIMIT, 0, 30_000)  # lowering: always allowed
    assert d.s.limit_ua[0] == 30_000
    d.step(sv.SET_LIMIT, 0, 70_000)  # raising without the key: refused
    assert d.s.limit_ua[0] == 30_000 and d.s.alert == sv.ALERT_NO_KEY_LIMIT
    d.ready()
    d.step(sv.SET_LIMIT, 0, 200_000)  # with the key: up to the channel maximum only
    assert d.s.limit_ua[0] == 80_000


def test_ticks_wrap_does_not_disturb_ramps() -> None:
    d = Driver(_sup(ramp=5_000), t0=PERIOD - 500)
    d.ready()
    d.step(sv.START_PAUSE)
    d.step(sv.PLUS, 0)
    d.run(1000)  # crosses the 2**30 wrap
    assert d.s.level_ua[0] == 1000
    assert d.s.session_ms == 1010


def test_overcurrent_latches_and_open_electrode_alerts() -> None:
    d = Driver(_sup(ramp=100_000))
    d.ready()
    d.step(sv.START_PAUSE)
    for _ in range(15):
        d.step(sv.PLUS, 0)
    d.run(500)
    for _ in range(3):
        d.s.check_sense(0, 15_000, 0)
    assert d.s.alert == "open electrode CH1" and d.s.level_ua[0] == 0
    assert d.s.state == sv.RUNNING
    d.s.check_sense(1, 10_000, 40_000)
    assert d.s.state == sv.FAULT and d.s.fault == "overcurrent CH2"


def _running_pair() -> "list[sv.Supervisor]":
    pair = []
    for _ in range(2):
        d = Driver(_sup(ramp=100_000))
        d.ready()
        d.step(sv.START_PAUSE)
        for _ in range(15):
            d.step(sv.PLUS, 0)
        d.run(500)
        pair.append(d.s)
    return pair


def _sense_state(s: sv.Supervisor) -> "tuple[object, ...]":
    return (s.state, s.fault, s.alert, s.alert_ch, list(s.level_ua), list(s.setpoint_ua), list(s._open_count))


def test_the_tick_s_sense_screen_ends_where_check_sense_on_every_channel_would() -> None:
    """check_senses (the tick's call, which skips a channel whose reading check_sense would leave as
    it is) ends in the state of check_sense called for every channel with a sense line, over
    readings at and around each threshold: overcurrent against the level and against the channel's
    maximum, an open electrode counting up, and a count to clear."""
    m = sv.OVERCURRENT_MARGIN_UA
    applied = (0, 5_000, sv.OPEN_ELECTRODE_UA, sv.OPEN_ELECTRODE_UA + 1, 15_000)
    seed = 12345
    faults = 0
    for _run in range(40):
        screened, every = _running_pair()
        for _tick in range(12):
            a = [0, 0]
            r = [0, 0]
            for c in range(2):
                seed = (seed * 1103515245 + 12345) % 2147483648
                a[c] = applied[seed % len(applied)]
                lim = a[c] + a[c] // 5 + m
                sensed = (-1, 0, sv.OPEN_SENSE_UA - 1, sv.OPEN_SENSE_UA, lim, lim + 1, a[c],
                          80_000 + m, 80_000 + m + 1)
                r[c] = sensed[(seed >> 8) % len(sensed)]
            screened.check_senses(a, r)
            for c in range(2):
                if r[c] >= 0:
                    every.check_sense(c, a[c], r[c])
            assert _sense_state(screened) == _sense_state(every), (a, r)
            if screened.state == sv.FAULT:
                faults += 1
                break
    assert faults >= 5  # the grid reached the overcurrent branch, not only the quiet one


def test_the_quiet_step_checks_again_a_level_the_self_check_did_not_pass() -> None:
    """In a settled session the quiet step reuses the self-check's verdict only for the very lists it
    passed with: a level corrupted together with its set point (so the step stays quiet) is
    checked again, and latches FAULT; so do a corrupted limit and program cap."""
    for what in ("level", "limit", "prog"):
        d = Driver(_sup(ramp=100_000))
        d.ready()
        d.step(sv.START_PAUSE)
        for _ in range(5):
            d.step(sv.PLUS, 0)
        d.run(500)
        s = d.s
        assert s.state == sv.RUNNING and s._quiet and s.level_ua[0] > 0 and s.feed_wdt
        d.step()
        assert s.state == sv.RUNNING and s.feed_wdt  # quiet, and fed
        if what == "level":
            s.level_ua[0] = s.setpoint_ua[0] = s.limit_ua[0] + 1_000
        elif what == "limit":
            s.limit_ua[0] = s._lim_seen[0] = s.level_ua[0] - 1  # the caps' refresh sees no change
        else:
            s._prog_ua[0] = s._prog_seen[0] = s.level_ua[0] - 1
        d.step()
        assert s.state == sv.FAULT and not s.feed_wdt, what


def test_feed_only_when_consistent() -> None:
    d = Driver(_sup())
    d.ready()
    assert d.s.feed_wdt
    d.s.level_ua[0] = 5_000  # corrupt: output outside RUNNING
    d.step()
    assert d.s.level_ua[0] == 0  # not RUNNING: levels forced to 0, so consistent again
    d.step(sv.START_PAUSE)
    d.s._cap_guard = lambda ua: None  # type: ignore[method-assign]
    d.s.limit_ua[0] = 0
    d.s.setpoint_ua[0] = 50_000
    d.s.level_ua[0] = 50_000
    d.step()
    assert not d.s.feed_wdt and d.s.state == sv.FAULT


def test_steady_tick_allocates_nothing() -> None:
    if sys.implementation.name != "micropython":
        return  # the proof needs the real VM's heap_lock
    import micropython  # type: ignore[import-not-found]

    d = Driver(_sup(ramp=100_000))
    d.ready()
    d.step(sv.START_PAUSE)
    d.step(sv.PLUS, sv.ALL)
    d.run(200)
    s = d.s
    t = d.t
    micropython.heap_lock()
    try:
        for i in range(50):
            s.step(t + i * 10, True, True, sv.NONE, sv.ALL, 0)
            s.check_sense(0, 1000, 1000)
    finally:
        micropython.heap_unlock()
    assert s.state == sv.RUNNING


# -- the dose guard's caps (Supervisor.set_guard; the guard itself: tests/target/test_doseguard.py) --
def test_the_guard_ceiling_only_lowers_and_holds_the_level() -> None:
    d = Driver(_sup())
    s = d.s
    assert s.set_guard((20_000, 100_000), 600_000)
    assert (s.cap_ua(0), s.cap_ua(1)) == (20_000, 60_000)  # ch 2: the program's 60 mA stays the cap
    assert (s.base_cap_ua(0), s.base_cap_ua(1)) == (60_000, 60_000)
    d.ready()
    d.step(sv.START_PAUSE)
    for _ in range(40):
        d.step(sv.PLUS)
        d.run(200)
    assert s.state == sv.RUNNING and s.level_ua[0] == 20_000 and s.level_ua[1] == 40_000
    d.step(sv.SET_LIMIT, 0, 80_000)  # raising the limit with the key in does not lift the guard's ceiling
    d.run(500)
    assert s.level_ua[0] == 20_000
    assert not s.set_guard((80_000, 80_000), 600_000)  # never while a session runs
    assert s.cap_ua(0) == 20_000


def test_the_guard_duration_ends_the_session_like_the_session_limit() -> None:
    d = Driver(_sup(duration=600_000))
    s = d.s
    s.set_guard((80_000, 80_000), 5_000)
    assert s.session_limit_ms == 5_000
    s.set_program((60_000, 60_000), (True, True), 600_000, s.ramp_down_ms)  # a program change keeps it
    assert s.session_limit_ms == 5_000
    d.ready()
    d.step(sv.START_PAUSE)
    d.step(sv.PLUS)
    d.run(4_000)
    assert s.state == sv.RUNNING
    d.run(1_200)
    assert s.state == sv.READY and s.end_reason == sv.END_COMPLETED and s.level_ua == [0, 0]
    s.set_guard((80_000, 80_000), 900_000)  # longer than the program: the program's 600 s hold
    assert s.session_limit_ms == 600_000


def test_a_zero_guard_ceiling_refuses_the_start() -> None:
    d = Driver(_sup())
    d.s.set_guard((0, 0), 0)
    d.ready()
    d.step(sv.START_PAUSE)
    assert d.s.state == sv.READY and d.s.alert == "start refused: no program"


def test_a_fault_latched_after_the_step_stops_the_charge_pump_at_once() -> None:
    """The controller's sense check, an exception or a stuck button may latch a fault after the
    step of the same tick: the pump the step allowed must not toggle in that tick (the safety
    search found one more toggle in FAULT)."""
    d = Driver(_sup())
    d.ready()
    d.step(sv.START_PAUSE)
    d.step(sv.PLUS)
    d.run(100)
    assert d.s.state == sv.RUNNING and d.s.pump
    d.s.check_sense(0, 10_000, 70_000)  # an overcurrent, after this tick's step
    assert d.s.state == sv.FAULT and not d.s.pump
