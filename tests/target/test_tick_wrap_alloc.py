"""The tick path allocates nothing at the 2**30 tick wrap and with today's wall clock set.

On the RP2040, a 32-bit port, a small int holds -2**30..2**30-1. An int outside that range is
boxed on the heap, so any arithmetic that passes 2**30, even in an intermediate result that is
masked at once, allocates. Under micropython.heap_lock() that allocation raises MemoryError.
ticks_ms wraps at 2**30 every 12.4 days, and today's epoch seconds (about 1.8e9) are above 2**30.
The 64-bit unix VM (tier `target`) keeps such ints small and cannot show any of this. Tier `mvm32`
runs these tests on a 32-bit MicroPython VM, where they failed against the code before the fix.
On CPython and the 64-bit VM they check the behaviour only.

Runs under pytest and on the MicroPython VMs (tests/target/run.py).
"""

import gc
import sys

from picostim.consolerig import Rig
from stim import panel as pn
from stim import supervisor as sv
from stim import ticks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List

    def heap_locked(fn: "Callable[[], object]") -> bool: ...
else:
    from _util import heap_locked

ON_MPY = sys.implementation.name == "micropython"
TICK_NS = 10_000_000
WRAP = 1 << 30
HALF = 1 << 29
TODAY_EPOCH_S = 1_796_000_000  # 2026-12-01, above 2**30 = 1_073_741_824


def _diff(a: int, b: int) -> int:
    """The reference: a - b taken modulo 2**30 into [-2**29, 2**29)."""
    d = (a - b) % WRAP
    return d - WRAP if d >= HALF else d


# (a, b) pairs for diff and (t, delta) pairs for add, on both sides of the wrap.
_PAIRS = [
    (0, 0), (5, 3), (3, 5), (WRAP - 1, 0), (0, WRAP - 1), (WRAP - 10, 20), (20, WRAP - 10),
    (WRAP - 1, HALF), (HALF, WRAP - 1), (HALF - 1, WRAP - 1), (WRAP - 1, HALF - 1), (HALF, 0), (0, HALF),
]
_ADDS = [
    (0, 0), (WRAP - 1, 1), (WRAP - 400, 500), (WRAP - 5, 600), (WRAP - 1, HALF - 1), (0, -1),
    (5, -10), (0, -(HALF - 1)), (HALF, HALF - 1), (WRAP - 1, -(HALF - 1)),
]


def test_the_ticks_helpers_allocate_nothing_on_either_side_of_the_wrap() -> None:
    want_diff = [_diff(a, b) for a, b in _PAIRS]
    want_add = [(t + d) % WRAP for t, d in _ADDS]
    got_diff = [0] * len(_PAIRS)
    got_add = [0] * len(_ADDS)

    def body() -> None:
        i = 0
        for a, b in _PAIRS:
            got_diff[i] = ticks.diff(a, b)
            i += 1
        i = 0
        for t, d in _ADDS:
            got_add[i] = ticks.add(t, d)
            i += 1

    body()  # first unlocked, so that a failure inside shows the values
    assert got_diff == want_diff, got_diff
    assert got_add == want_add, got_add
    got_diff[0] = got_add[0] = -1
    assert heap_locked(body) or not ON_MPY
    assert got_diff == want_diff and got_add == want_add


def test_ticks_add_still_refuses_half_a_period_or_more() -> None:
    for d in (HALF, -HALF, WRAP):
        try:
            ticks.add(0, d)
        except OverflowError:
            continue
        raise AssertionError("ticks.add(0, %d) did not raise" % d)


def _running(boot_us: int, ma: int) -> Rig:
    """stim4 running its default program at `ma` mA on every used channel.

    At most 10 mA: the model's sense lines read no current, and above 10 mA the supervisor
    would take that for an open electrode."""
    gc.collect()
    rig = Rig(boot_us=boot_us)
    rig.ready()
    rig.press("start_pause")
    for _ in range(ma):
        rig.press("plus")  # 1 mA a press
    for _ in range(20):  # 2 s: at 5 mA/s the levels get there
        rig.tick(10)
        rig.chip.forget_before(rig.chip.clock.now_ns())  # the model's history: the VM's heap is small
    sup = rig.ctl.sup
    assert sup.state == sv.RUNNING and sup.level_ua[0] == sup.setpoint_ua[0] == ma * 1000
    return rig


def _locked_ticks(rig: Rig, n: int, seen: "List[int]") -> None:
    """n controller ticks 10 ms apart, each inside heap_lock on the VM; ticks_ms of each into seen."""
    ctl = rig.ctl
    clock = rig.chip.clock
    now = [0]

    def one_tick() -> None:
        ctl.tick(now[0])

    for _ in range(n):
        clock.advance(TICK_NS)  # the model's own events (pulse DMA) run here, outside the lock
        now[0] = clock.ticks_ms()
        seen.append(now[0])
        assert heap_locked(one_tick) or not ON_MPY, (now[0], ctl.error)
        assert ctl.error is None, ctl.error
        rig.chip.forget_before(clock.now_ns())  # the model's PWM history, outside the lock: the VM's heap is small


def test_a_running_tick_with_plus_held_allocates_nothing_across_the_tick_wrap() -> None:
    """+ held through the wrap. The panel's repeat deadline is ticks.add(now, 500), and every held
    tick compares ticks.diff(now, deadline), also while the deadline has wrapped and now has not.

    A tick that repeats the press runs unlocked: a press builds its intent tuple (allocation
    accepted for a press, as in test_controller_alloc); every other held tick is locked.
    """
    rig = _running((WRAP - 10_000) * 1000, 3)  # power-on 10 s before the wrap
    ctl = rig.ctl
    sup = ctl.sup
    clock = rig.chip.clock
    while ticks.diff(WRAP - 1, rig.now_ms()) > 1_000:  # to 1 s before it
        rig.tick(1)
        rig.chip.forget_before(clock.now_ns())  # keep the model's history small on the VM
    rig.button("plus", True)
    rig.tick(1)  # the press acts on its first sample
    before = sup.setpoint_ua[0]
    deadline = ctl.panel._next_repeat  # the panel's own list, read outside the lock
    now = [0]

    def one_tick() -> None:
        ctl.tick(now[0])

    first = -1
    repeats = 0
    split = 0  # locked ticks where the deadline had wrapped and now had not
    for _ in range(250):  # 2.5 s held: repeats at 0.6, 1.1, 1.6 and 2.1 s, across the wrap
        clock.advance(TICK_NS)  # the model's own events (pulse DMA) run here, outside the lock
        now[0] = clock.ticks_ms()
        if first < 0:
            first = now[0]
        d = deadline[pn.B_PLUS]
        if ticks.diff(now[0], d) >= 0:
            one_tick()
            repeats += 1
        else:
            if now[0] > d:
                split += 1
            assert heap_locked(one_tick) or not ON_MPY, (now[0], d, ctl.error)
        assert ctl.error is None, ctl.error
        rig.chip.forget_before(clock.now_ns())  # the model's PWM history, outside the lock: the VM's heap is small
    rig.chip.forget_before(clock.now_ns())
    rig.button("plus", False)
    rig.tick(5)
    assert first > now[0] and split > 0  # ticks_ms wrapped inside, with a wrapped deadline before it
    assert ctl.error is None and sup.fault is None and sup.state == sv.RUNNING
    assert repeats == 4 and sup.setpoint_ua[0] == before + 4 * 1000  # 1 mA a repeat


def test_a_running_tick_with_todays_wall_clock_allocates_nothing_at_the_minute() -> None:
    """The host sets the time over the console; each minute the recorder moves its anchor on.

    The board idles through most of the minute (cheaper for the model than a running session),
    then starts a session whose ticks, ramping up, are locked across the minute."""
    gc.collect()
    rig = Rig()
    rig.ready()
    r = rig.ask('{"cmd": "time.set", "epoch_s": %d}' % TODAY_EPOCH_S)
    assert r and r[-1].get("ok") is True, r
    rec = rig.ctl.recorder
    assert rec is not None
    set_ms = rig.now_ms()
    w = rec.wall(set_ms)
    assert w is not None and 0 <= w - TODAY_EPOCH_S <= 1
    while ticks.diff(rig.now_ms(), set_ms) < 58_000:
        rig.tick(10)
        rig.chip.forget_before(rig.chip.clock.now_ns())
    rig.press("start_pause")
    for _ in range(3):
        rig.press("plus")
    seen: "List[int]" = []
    _locked_ticks(rig, 200, seen)
    # The time was set during ask(), up to 0.4 s before set_ms: the minute is inside the locked ticks.
    assert ticks.diff(seen[0], set_ms) < 59_500 and ticks.diff(seen[-1], set_ms) > 60_000
    now = rig.now_ms()
    w2 = rec.wall(now)
    assert w2 is not None and 0 <= w2 - w - ticks.diff(now, set_ms) // 1000 <= 1, (w, w2)
    sup = rig.ctl.sup
    assert sup.state == sv.RUNNING and rig.ctl.error is None and sup.level_ua[0] == 3_000


def test_the_recorder_at_the_tick_wrap_with_todays_wall_clock_allocates_nothing() -> None:
    """The recorder alone, idle: the time set 30 s before the tick wrap, a minute of 10 ms ticks."""
    gc.collect()
    rig = Rig()
    rig.tick(5)
    rec = rig.ctl.recorder
    sup = rig.ctl.sup
    assert rec is not None and sup.state != sv.RUNNING
    t0 = WRAP - 30_000
    rec.set_wall(TODAY_EPOCH_S, t0)
    rec.observe(t0, sup, "x", False)
    now = [t0]

    def observe() -> None:
        rec.observe(now[0], sup, "x", False)

    for i in range(1, 6_200):  # 62 s, across the wrap at 30 s and the re-anchor at 60 s
        now[0] = (t0 + 10 * i) % WRAP
        if i % 50 == 0 or 2_995 <= i <= 3_005 or 5_995 <= i <= 6_005:
            assert heap_locked(observe) or not ON_MPY, i
        else:
            observe()
    assert rec.wall(now[0]) == TODAY_EPOCH_S + 61
    assert rec.wall((t0 + 120_000) % WRAP) == TODAY_EPOCH_S + 120
