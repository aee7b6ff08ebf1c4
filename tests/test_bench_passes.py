"""How the benches count a loop pass: the longest busy stretch of each 10 ms, and the busy total."""

from picostim.bench.passes import TICK_NS, window_busy, window_worst

US = 1_000


def test_a_period_s_pass_is_its_longest_stretch_and_its_busy_time_their_sum() -> None:
    t0 = 5 * TICK_NS
    stretches = [
        (t0 + 100 * US, 1_200 * US),  # period 0: the tick's stretch
        (t0 + 5_100 * US, 150 * US),  # period 0: the console's and the display's, half a tick on
        (t0 + TICK_NS + 100 * US, 1_800 * US),  # period 1: a ramp tick
        (t0 + TICK_NS + 5_100 * US, 600 * US),  # period 1: a display chunk
        (t0 + 3 * TICK_NS + 5_000 * US, 300 * US),  # period 3 (period 2 has none)
    ]
    assert window_worst(stretches, t0) == [300 * US, 1_200 * US, 1_800 * US]
    assert window_busy(stretches, t0) == [300 * US, 1_350 * US, 2_400 * US]
    assert window_worst([], t0) == [] and window_busy([], t0) == []
