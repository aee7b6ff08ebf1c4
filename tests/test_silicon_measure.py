"""The pad-trace figures of the silicon tier (picostim.silicon.measure), on hand-made traces."""

from pathlib import Path

from picostim.silicon.measure import PinTrace, kill_latency_ns
from picostim.sim.session import load_board

STIM4 = load_board(str(Path(__file__).resolve().parents[1] / "boards" / "stim4.json"))
OE = STIM4.outputs.output_enable.pin


def test_settled_is_the_last_arrival_at_the_level_that_then_holds() -> None:
    t = PinTrace([(100, 15, 0), (200, 15, 1), (300, 15, 0)], [1] * 30)
    assert t.settled(15, 0, 50, 1000) == 300  # the dip at 100 does not count: it went back up
    assert t.settled(15, 0, 350, 1000) == 350  # already there at t0
    assert t.settled(15, 1, 150, 250) == 200
    assert t.settled(15, 1, 150, 1000) is None  # not at the level at the end


def test_kill_latency_waits_for_output_enable_and_every_stim_pin() -> None:
    levels: list[int | None] = [0] * 30
    levels[OE] = 1
    levels[2] = 1
    pins = [(1_000, 2, 0), (1_500, 2, 1), (2_000, 2, 0), (3_000, OE, 0)]
    # Edge at 500: the stim pin is low for good at 2,000, output-enable off at 3,000.
    assert kill_latency_ns(PinTrace(pins, levels), STIM4, 500, 10_000) == 2_500
    # A pin left floating counts as low (the gate drivers' pull-downs).
    assert kill_latency_ns(PinTrace([*pins, (4_000, 3, None)], levels), STIM4, 500, 10_000) == 2_500
    # Output-enable back on before the window ends: not killed.
    assert kill_latency_ns(PinTrace([*pins, (5_000, OE, 1)], levels), STIM4, 500, 10_000) is None


def test_changes_counts_the_pad_changes_in_a_half_open_window() -> None:
    trace = PinTrace([(10, 3, 1), (20, 3, 0), (30, 3, 1), (30, 4, 1)], [0] * 30)
    assert trace.changes(3, 0, 100) == 3
    assert trace.changes(3, 10, 30) == 2  # 10 in, 30 out
    assert trace.changes(3, 31, 100) == 0 and trace.changes(5, 0, 100) == 0


def test_the_watchdog_margin_is_each_feeds_own_timeout_minus_the_wait_for_the_next() -> None:
    from picostim.bench.silicon import wdt_margin_ms

    ms = 1_000_000
    # 100 ms timeouts fed every 10 ms, then a 2 s one (idle) followed by a 450 ms wait (an erase).
    feeds = [[0, 100 * ms], [10 * ms, 100 * ms], [30 * ms, 2_000 * ms], [480 * ms, 2_000 * ms]]
    assert wdt_margin_ms(feeds) == 80.0  # the 20 ms gap under a 100 ms timeout is the tightest
    assert wdt_margin_ms(feeds[2:]) == 1550.0
    assert wdt_margin_ms(feeds, reset_ns=500 * ms) == 0.0  # an expiry leaves nothing
    assert wdt_margin_ms(feeds[:1]) == 0.0  # one feed shows no margin


def test_allocation_per_tick_as_the_mean_and_as_the_worst_window() -> None:
    """The mean over the whole window subtracts each read in between; the worst window keeps a burst."""
    from picostim.bench.silicon import _alloc_per_tick, _alloc_per_tick_mean

    samples = [{"ticks": 0, "mem_alloc": 1000}, {"ticks": 10, "mem_alloc": 3100},  # a 2 KB burst
               {"ticks": 20, "mem_alloc": 3300}, {"ticks": 30, "mem_alloc": 3500}]
    assert _alloc_per_tick(samples, 100) == 200.0  # (2100 - 100) / 10
    assert _alloc_per_tick_mean(samples, 100) == (2500 - 300) / 30
    assert _alloc_per_tick_mean(samples[1:], 100) == (400 - 200) / 20
    collected = [{"ticks": 0, "mem_alloc": 5000}, {"ticks": 10, "mem_alloc": 900}]
    assert _alloc_per_tick_mean(collected, 100) == 0.0  # a collection between: no figure
