"""The model's virtual clock: ticks wrap at 2**30 like the board's, events run in order.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from _util import expect_raises
from picostim import fakehw
from picostim.fakehw import vtime
from picostim.fakehw.clock import TICKS_PERIOD, Clock, ticks_add, ticks_diff


def test_ticks_wrap_at_2_pow_30_us() -> None:
    # Start 5 ms before ticks_us wraps: the board's ticks run from a 64-bit us timer.
    c = Clock(boot_us=TICKS_PERIOD - 5000)
    before = c.ticks_us()
    assert before == TICKS_PERIOD - 5000
    c.advance(10_000_000)  # 10 ms
    after = c.ticks_us()
    assert after == 5000  # wrapped
    assert ticks_diff(after, before) == 10_000


def test_ticks_ms_wraps_at_2_pow_30_ms() -> None:
    c = Clock(boot_us=(TICKS_PERIOD - 3) * 1000)
    assert c.ticks_ms() == TICKS_PERIOD - 3
    c.advance(5_000_000)
    assert c.ticks_ms() == 2
    assert ticks_diff(c.ticks_ms(), TICKS_PERIOD - 3) == 5


def test_ticks_diff_is_signed_across_the_wrap() -> None:
    assert ticks_diff(1, TICKS_PERIOD - 1) == 2
    assert ticks_diff(TICKS_PERIOD - 1, 1) == -2
    assert ticks_diff(TICKS_PERIOD // 2 - 1, 0) == TICKS_PERIOD // 2 - 1


def test_ticks_add_wraps_and_rejects_huge_deltas() -> None:
    assert ticks_add(TICKS_PERIOD - 1, 3) == 2
    assert ticks_add(1, -3) == TICKS_PERIOD - 2
    e = expect_raises(OverflowError, ticks_add, 0, TICKS_PERIOD // 2)
    assert "overflow" in str(e)


def test_events_run_in_time_order_at_their_own_time() -> None:
    c = Clock()
    seen = []
    c.schedule(3000, lambda t: seen.append(("b", t, c.now_ns())))
    c.schedule(1000, lambda t: seen.append(("a", t, c.now_ns())))
    c.schedule(9000, lambda t: seen.append(("c", t, c.now_ns())))
    c.advance_to(5000)
    assert seen == [("a", 1000, 1000), ("b", 3000, 3000)]
    assert c.now_ns() == 5000
    c.advance_to(9000)
    assert seen[-1] == ("c", 9000, 9000)


def test_vtime_ticks_follow_the_installed_chip() -> None:
    chip = fakehw.install(fakehw.Chip(Clock(boot_us=TICKS_PERIOD - 1000)))
    t0 = vtime.ticks_us()
    vtime.sleep_ms(2)
    t1 = vtime.ticks_us()
    assert ticks_diff(t1, t0) == 2000
    assert t1 < t0  # it wrapped
    assert chip.clock.now_ns() == 2_000_000


def test_time_limit_calls_the_fence() -> None:
    c = Clock()
    hits = []

    def fence() -> None:
        hits.append(c.now_ns())
        c.limit_ns += 1000

    c.limit_ns = 1000
    c.at_limit = fence
    c.advance_to(3500)
    assert hits == [1000, 2000, 3000]
    assert c.now_ns() == 3500
