"""The RP2040 PWM model (fakehw/pwm.py): register behaviour and machine.PWM.

Runs under pytest and under the MicroPython unix port (tests/target/run.py).
Timing claims are measured from the edge lists, and the segment arithmetic is
checked against an independent cycle-by-cycle simulation of the slice.
"""

import sys

from picostim.fakehw.clock import Clock
from picostim.fakehw.pwm import (
    CC,
    CSR,
    CSR_A_INV,
    CSR_EN,
    CSR_PH_CORRECT,
    CTR,
    DIV,
    EN,
    INTR,
    PWM,
    SLICE_STRIDE,
    TOP,
    PwmBlock,
    gpio_to_channel,
    gpio_to_slice,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Tuple

    from picostim.fakehw.chip import Chip

    Edges = List[Tuple[int, int]]

    # _util is untyped (it runs on MicroPython); these are its signatures.
    def approx(a: int, b: int, tol: int) -> bool: ...
    def expect_raises(exc_type: "type[BaseException]", fn: "Callable[..., object]", *args: object,
                      **kwargs: object) -> BaseException: ...
else:
    from _util import approx, expect_raises

MS = 1_000_000


def _fresh() -> "Chip":
    from picostim.fakehw import install

    return install()


def _block() -> "Tuple[Clock, PwmBlock]":
    clk = Clock()
    return clk, PwmBlock(clk)


def _rises(edges: "Edges") -> "List[int]":
    return [t for t, v in edges if v]


def _high_widths(edges: "Edges") -> "List[int]":
    """Width of every complete high pulse in an edge list."""
    out: List[int] = []
    start = -1
    for t, v in edges:
        if v:
            start = t
        elif start >= 0:
            out.append(t - start)
            start = -1
    return out


def _periods(edges: "Edges") -> "List[int]":
    r = _rises(edges)
    return [r[i + 1] - r[i] for i in range(len(r) - 1)]


# -- mapping ---------------------------------------------------------------------------
def test_gpio_to_slice_and_channel() -> None:
    assert [gpio_to_slice(n) for n in (0, 1, 2, 3, 14, 15, 16, 17, 28, 29)] == [0, 0, 1, 1, 7, 7, 0, 0, 6, 6]
    assert [gpio_to_channel(n) for n in (0, 1, 2, 3, 16, 17, 29)] == [0, 1, 0, 1, 0, 1, 1]


def test_gpio_n_and_n_plus_16_alias() -> None:
    chip = _fresh()
    PWM(18, freq=1000, duty_u16=16384)  # slice 1 channel A, through GPIO 18
    p2 = PWM(2)  # the same static object in the C port; constructing resets only its duty type
    chip.clock.advance_to(5 * MS)
    e2 = chip.pwm.channel_edges(2, 0, 5 * MS)
    e18 = chip.pwm.channel_edges(18, 0, 5 * MS)
    assert len(e2) >= 8
    assert e2 == e18
    assert p2.freq() == 1000  # the slice is shared
    p2.duty_u16(49152)
    t = chip.clock.now_ns()
    chip.clock.advance_to(t + 5 * MS)
    widths = _high_widths(chip.pwm.channel_edges(18, t + 2 * MS, t + 5 * MS))
    assert widths and all(approx(w, 750_000, 16) for w in widths), widths


# -- frequency arithmetic (machine_pwm.c) ------------------------------------------------
def test_8hz_works_7hz_is_too_small() -> None:
    chip = _fresh()
    p = PWM(0, freq=8, duty_u16=32768)
    assert p.freq() == 8
    chip.clock.advance_to(chip.clock.now_ns() + 600 * MS)
    per = _periods(chip.pwm.channel_edges(0, 0, chip.clock.now_ns()))
    assert len(per) >= 3
    assert all(approx(x, 125_000_000, 10_000) for x in per), per
    e = expect_raises(ValueError, PWM, 2, freq=7)
    assert str(e) == "freq too small"
    e = expect_raises(ValueError, p.freq, 7)
    assert str(e) == "freq too small"
    assert p.freq() == 8  # a failed set leaves the slice alone


def test_freq_too_large_is_unreachable_at_125mhz_like_the_c_code() -> None:
    # machine_pwm.c only raises "freq too large" when div16 < 16, which its
    # DIV = 1 branch never produces at 125 MHz. Above sysclk TOP is 0, and past
    # 2 * sysclk the C expression wraps TOP to 0xFFFF: the model does the same.
    chip = _fresh()
    p = PWM(0, freq=126_000_000, duty_u16=32768)
    assert p.freq() == 125_000_000
    assert chip.pwm.read_reg(TOP) == 0
    p.freq(300_000_000)
    assert chip.pwm.read_reg(TOP) == 0xFFFF
    assert p.freq() == 1907
    e = expect_raises(ZeroDivisionError, p.freq, 0)
    assert "undefined on the board" in str(e)
    e = expect_raises(TypeError, p.freq, 1.5)
    assert str(e) == "can't convert float to int"


def test_div_and_top_registers_follow_machine_pwm_c() -> None:
    # Worked by hand from mp_machine_pwm_freq_set: DIV = 1 while F/f < TOP_MAX (65534),
    # else the smallest div16 = ceil(16F / (65534 f)) and TOP = round(16F / (div16 f)) - 1.
    chip = _fresh()
    p = PWM(0)
    for f, div16, top in ((8, 3815, 65530), (50, 611, 65465), (150, 204, 65358), (1000, 31, 64515),
                          (1907, 17, 61691), (1908, 16, 65513), (20_000, 16, 6249), (1_000_000, 16, 124)):
        p.freq(f)
        assert (chip.pwm.read_reg(DIV), chip.pwm.read_reg(TOP)) == (div16, top), f
    p.freq(50)
    p.duty_u16(32768)  # CC = round(32768 * 65466 / 65535)
    assert chip.pwm.read_reg(CC) == 32733
    assert p.duty_u16() == 32768
    p.duty_u16(1)
    assert chip.pwm.read_reg(CC) == 1


def test_period_measured_from_edges_matches_requested_freq() -> None:
    chip = _fresh()
    for s, f in enumerate((8, 50, 150, 1000, 1907, 1908, 20_000, 125_000)):
        p = PWM(2 * s, freq=f, duty_u16=32768)  # a fresh slice each: its counter starts at 0
        assert p.freq() == f
        div16 = chip.pwm.read_reg(s * SLICE_STRIDE + DIV)
        tick_ns = div16 * 8 // 16
        t0 = chip.clock.now_ns() + 1_000_000_000 // f  # skip the period in progress
        n = 8 if f < 1000 else 200
        t1 = t0 + (n + 1) * 1_000_000_000 // f
        chip.clock.advance_to(t1)
        r = _rises(chip.pwm.channel_edges(2 * s, t0, t1))
        assert len(r) >= n, (f, len(r))
        mean_x1000 = (r[n - 1] - r[0]) * 1000 // (n - 1)
        want_x1000 = 1_000_000_000_000 // f
        # MicroPython rounds TOP: the period is off by at most half a count
        # (half a cycle with DIV = 1); the mean over n - 1 periods adds 8 ns / (n - 1).
        tol_x1000 = (tick_ns * 1000) // 2 + 8000 // (n - 1) + 1000
        assert abs(mean_x1000 - want_x1000) <= tol_x1000, (f, mean_x1000, want_x1000)


def test_duty_tick_at_50hz_is_305_5ns() -> None:
    chip = _fresh()
    p = PWM(4, freq=50, duty_u16=0)
    blk = chip.pwm
    clk = chip.clock
    top = blk.read_reg(2 * SLICE_STRIDE + TOP)

    def width_at(cc: int) -> int:
        blk.set_chan_level(2, 0, cc)
        t = clk.now_ns()
        clk.advance_to(t + 45 * MS)  # latch at the next wrap, then a whole period
        w = _high_widths(blk.channel_edges(4, t + 20 * MS, t + 45 * MS))
        assert len(w) == 1, w
        return w[0]

    w0 = width_at(1000)
    w1 = width_at(1001)
    w1000 = width_at(2000)
    # One count is 611/16 = 38.1875 cycles: a single step is 38 or 39 cycles.
    assert w1 - w0 in (38 * 8, 39 * 8), w1 - w0
    # Over 1000 counts the mean is 305.5 ns within 1 ns.
    assert abs((w1000 - w0) - 305_500) <= 1000, w1000 - w0
    # And from the period: (TOP + 1) counts per period.
    t = clk.now_ns()
    clk.advance_to(t + 220 * MS)
    blk.set_chan_level(2, 0, 5000)
    clk.advance_to(clk.now_ns() + 240 * MS)
    r = _rises(blk.channel_edges(4, t + 30 * MS, clk.now_ns()))
    assert len(r) >= 11
    span = r[10] - r[0]
    assert abs(span * 2 - 611 * 10 * (top + 1)) <= 2 * 10 * (top + 1), (span, top)
    assert p.duty_u16() == (5000 * 65535 + (top + 1) // 2) // (top + 1)


def test_freq_on_gpio2_retimes_gpio3_and_reapplies_its_duty() -> None:
    chip = _fresh()
    clk = chip.clock
    b = PWM(3, freq=1000, duty_u16=16384)  # 25 %
    a = PWM(2)
    t = clk.now_ns()
    clk.advance_to(t + 5 * MS)
    per = _periods(chip.pwm.channel_edges(3, t, t + 5 * MS))
    assert per and all(approx(x, 1_000_000, 8) for x in per), per
    a.freq(2000)
    assert b.freq() == 2000
    t = clk.now_ns()
    clk.advance_to(t + 6 * MS)
    e = chip.pwm.channel_edges(3, t + 2 * MS, t + 6 * MS)
    per = _periods(e)
    assert len(per) >= 6 and all(approx(x, 500_000, 8) for x in per), per
    widths = _high_widths(e)
    assert widths and all(approx(w, 125_000, 16) for w in widths), widths  # still 25 %
    assert b.duty_u16() == 16384


# -- double buffering ----------------------------------------------------------------------
def test_cc_write_latches_at_wrap_so_a_pulse_is_never_cut_short() -> None:
    chip = _fresh()
    clk = chip.clock
    p = PWM(4, freq=50, duty_u16=32768)  # 10 ms high in each 20 ms period
    t_start = chip.pwm.channel_edges(4, 0, clk.now_ns() + 1)[-1][0]
    clk.advance_to(t_start + 40 * MS + 3 * MS)  # 3 ms into a high pulse
    assert chip.pwm.channel_level(4, clk.now_ns()) == 1
    p.duty_u16(6554)  # 10 %: 2 ms
    t_w = clk.now_ns()
    clk.advance_to(t_w + 60 * MS)
    e = chip.pwm.channel_edges(4, t_start + 40 * MS, clk.now_ns())
    widths = _high_widths([(t_start + 40 * MS, 1)] + e)
    assert approx(widths[0], 10 * MS, 1000), widths  # the pulse in progress keeps its length
    assert all(approx(w, 2 * MS, 1000) for w in widths[1:]), widths  # new width from the next period
    assert len(widths) >= 3
    # Raising the duty after this period's pulse ended adds no pulse in this period.
    r = _rises(e)
    clk.advance_to(r[-1] + 5 * MS)
    p.duty_u16(52428)  # 80 %
    t_w = clk.now_ns()
    clk.advance_to(t_w + 40 * MS)
    e2 = chip.pwm.channel_edges(4, t_w, clk.now_ns())
    assert e2[0][1] == 1 and approx(e2[0][0], r[-1] + 20 * MS, 1000), e2
    assert approx(_high_widths(e2)[0], 16 * MS, 1000)


def test_top_is_double_buffered_too() -> None:
    clk, blk = _block()
    blk.write_reg(TOP, 999)
    blk.write_reg(CC, 500)
    blk.write_reg(CSR, CSR_EN)  # DIV 1: 1000 cycles = 8 us period
    clk.advance_to(20_000)
    blk.write_reg(TOP, 1999)  # mid-period
    assert blk.read_reg(TOP) == 1999  # the software copy reads back at once
    clk.advance_to(60_000)
    r = _rises(blk.channel_edges(0, 0, 60_000))
    per = [r[i + 1] - r[i] for i in range(len(r) - 1)]
    # Periods before the write's wrap stay 8 us, then 16 us.
    assert per[:3] == [8000, 8000, 8000], per
    assert per[3:] and all(x == 16000 for x in per[3:]), per
    assert r[3] == 24000  # the wrap after the write (at 20 us) is at 24 us


def test_writes_to_a_stopped_slice_latch_at_once() -> None:
    clk, blk = _block()
    blk.write_reg(TOP, 99)
    blk.write_reg(CC, 10)
    clk.advance_to(1000)
    blk.write_reg(CC, 60)  # not running: latched now, not at a wrap
    blk.write_reg(CSR, CSR_EN)
    clk.advance_to(5000)
    w = _high_widths(blk.channel_edges(0, 0, 5000))
    assert w and all(x == 60 * 8 for x in w), w


# -- enable, deinit, invert ------------------------------------------------------------------
def test_deinit_stops_whole_slice_and_outputs_hold_their_level() -> None:
    chip = _fresh()
    clk = chip.clock
    a = PWM(6, freq=1000, duty_u16=49152)  # 75 %
    b = PWM(7, freq=1000, duty_u16=16384)  # 25 %
    t = clk.now_ns()
    clk.advance_to(t + 3 * MS + 500_000)  # mid-period: A high, B low
    la = chip.pwm.channel_level(6, clk.now_ns())
    lb = chip.pwm.channel_level(7, clk.now_ns())
    assert (la, lb) == (1, 0)
    a.deinit()
    t_off = clk.now_ns()
    ctr = chip.pwm.read_reg(3 * SLICE_STRIDE + CTR)
    clk.advance_to(t_off + 10 * MS)
    assert chip.pwm.channel_edges(6, t_off, clk.now_ns()) == []
    assert chip.pwm.channel_edges(7, t_off, clk.now_ns()) == []
    assert chip.pwm.channel_level(6, clk.now_ns()) == 1  # stuck HIGH: deinit is no kill path
    assert chip.pwm.read_reg(3 * SLICE_STRIDE + CSR) & CSR_EN == 0
    assert chip.pwm.read_reg(3 * SLICE_STRIDE + CTR) == ctr  # the counter halted
    # As in machine_pwm.c: a later duty write on either channel starts the slice again.
    b.duty_u16(16384)
    t_on = clk.now_ns()
    clk.advance_to(t_on + 3 * MS)
    assert len(chip.pwm.channel_edges(6, t_on, clk.now_ns())) >= 4


def test_invert() -> None:
    chip = _fresh()
    clk = chip.clock
    PWM(8, freq=1000, duty_u16=16384, invert=1)
    PWM(9, freq=1000, duty_u16=16384)  # latched at the next wrap: the slice already runs
    assert chip.pwm.read_reg(4 * SLICE_STRIDE + CSR) & CSR_A_INV
    t = clk.now_ns() + 1 * MS
    clk.advance_to(t + 4 * MS)
    assert chip.pwm.channel_level(8, t - 1 * MS + 100_000) == chip.pwm.channel_level(9, t - 1 * MS + 100_000)
    ea = chip.pwm.channel_edges(8, t, t + 4 * MS)
    eb = chip.pwm.channel_edges(9, t, t + 4 * MS)
    assert len(ea) >= 6
    assert [x[0] for x in ea] == [x[0] for x in eb]
    assert [x[1] for x in ea] == [1 - x[1] for x in eb]
    for k in range(40):
        s = t + k * 97_001
        assert chip.pwm.channel_level(8, s) != chip.pwm.channel_level(9, s)


def test_duty_clamps_like_the_c_code() -> None:
    chip = _fresh()
    clk = chip.clock
    p = PWM(10, freq=1000, duty_u16=70000)  # clamped to 65535: CC = TOP + 1, always high
    top = chip.pwm.read_reg(5 * SLICE_STRIDE + TOP)
    assert chip.pwm.read_reg(5 * SLICE_STRIDE + CC) & 0xFFFF == top + 1
    assert p.duty_u16() == 65535
    t = clk.now_ns()
    clk.advance_to(t + 3 * MS)
    assert chip.pwm.channel_edges(10, t, clk.now_ns()) == []
    assert chip.pwm.channel_level(10, clk.now_ns()) == 1
    p.duty_ns(5_000_000)  # longer than the 1 ms period: CC clamps to TOP + 1
    assert chip.pwm.read_reg(5 * SLICE_STRIDE + CC) & 0xFFFF == top + 1
    p.duty_ns(250_000)
    assert approx(p.duty_ns(), 250_000, 8)
    assert approx(p.duty_u16(), 16384, 2)


def test_failed_init_leaves_starts_deferred_as_in_c() -> None:
    # machine_pwm.c sets defer_start before the setters and clears it after
    # them, so a ValueError in between leaves it set until the next good init.
    chip = _fresh()
    p = PWM(10)
    expect_raises(ValueError, PWM, 12, freq=7)
    p.freq(1000)
    p.duty_u16(30000)
    assert chip.pwm.read_reg(EN) & (1 << 5) == 0
    PWM(14)
    p.duty_u16(30000)
    assert chip.pwm.read_reg(EN) & (1 << 5)


def test_facade_calls_do_not_allocate_under_heap_lock() -> None:
    chip = _fresh()
    p = PWM(0, freq=150, duty_u16=1000)
    import micropython  # type: ignore[import-not-found]  # the real one, or fakehw's shim on CPython

    on_mpy = sys.implementation.name == "micropython"
    locked = False
    micropython.heap_lock()
    try:
        p.duty_u16(2000)
        p.duty_u16(3000)
        p.deinit()
        if on_mpy:
            try:
                bytearray(16)
            except MemoryError:
                locked = True  # the lock really was on around the calls
    finally:
        micropython.heap_unlock()
    assert locked or not on_mpy
    assert chip.pwm.read_reg(CC) & 0xFFFF == (3000 * (chip.pwm.read_reg(TOP) + 1) + 32767) // 65535


# -- divider and counter -------------------------------------------------------------------
def test_fractional_divider_mean_period() -> None:
    clk, blk = _block()
    blk.write_reg(DIV, 611)  # 38.1875
    blk.write_reg(TOP, 99)  # 100 counts: 3818.75 cycles per period
    blk.write_reg(CC, 50)
    blk.write_reg(CSR, CSR_EN)
    clk.advance_to(40 * 30_600)
    per = _periods(blk.channel_edges(0, 0, clk.now_ns()))
    assert len(per) >= 33
    cyc = [x // 8 for x in per[:32]]
    assert sorted(set(cyc)) == [3818, 3819], cyc  # single periods dither by one cycle
    assert sum(cyc) == 32 * 3818 + 24  # 32 * 3818.75 exactly


def test_phase_correct_mode() -> None:
    clk, blk = _block()
    blk.write_reg(TOP, 9)
    blk.write_reg(CC, 3)
    blk.write_reg(CSR, CSR_EN | CSR_PH_CORRECT)
    clk.advance_to(2000)
    e = blk.channel_edges(0, 0, 2000)
    # 2 * (TOP + 1) = 20 cycles per period, high 2 * CC = 6 cycles centred on the 0 -> 0 turn.
    per = _periods(e)[1:]  # the first rise is the enable at t = 0
    assert len(per) >= 10 and all(x == 160 for x in per), e
    assert all(w == 48 for w in _high_widths(e)[1:]), e
    assert e[0] == (0, 1) and e[1] == (24, 0) and e[2] == (136, 1)
    assert blk.wrap_times(0, 0, 400) == [160, 320]


def test_registers_and_en_alias() -> None:
    clk, blk = _block()
    for s in range(8):
        base = s * SLICE_STRIDE
        assert blk.read_reg(base + CSR) == 0
        assert blk.read_reg(base + DIV) == 0x10
        assert blk.read_reg(base + CTR) == 0
        assert blk.read_reg(base + CC) == 0
        assert blk.read_reg(base + TOP) == 0xFFFF
    assert blk.read_reg(EN) == 0
    for s in (2, 5):
        blk.write_reg(s * SLICE_STRIDE + TOP, 49)
        blk.write_reg(s * SLICE_STRIDE + CC, (40 << 16) | 10)
    blk.write_reg(EN, (1 << 2) | (1 << 5))  # both start in the same cycle
    assert blk.read_reg(2 * SLICE_STRIDE + CSR) & CSR_EN
    clk.advance_to(4000)
    assert blk.wrap_times(2, 0, 4000) == blk.wrap_times(5, 0, 4000) == [400 * k for k in range(1, 10)]
    assert blk.read_reg(2 * SLICE_STRIDE + CTR) == (4000 // 8) % 50
    assert blk.read_reg(INTR) == (1 << 2) | (1 << 5)
    blk.write_reg(INTR, 1 << 2)
    assert blk.read_reg(INTR) == 1 << 5
    clk.advance_to(4400)
    assert blk.read_reg(INTR) == (1 << 2) | (1 << 5)
    w = _high_widths(blk.channel_edges(5, 0, 4000))  # channel B uses CC bits 31:16
    assert w and all(x == 40 * 8 for x in w)
    blk.write_reg(2 * SLICE_STRIDE + CTR, 45)
    assert blk.read_reg(2 * SLICE_STRIDE + CTR) == 45
    assert blk.next_wrap_ns(2, clk.now_ns()) == 4400 + 5 * 8


def test_reset_returns_to_reset_values_and_keeps_past_history() -> None:
    chip = _fresh()
    clk = chip.clock
    p = PWM(0, freq=1000, duty_u16=32768)
    clk.advance_to(clk.now_ns() + 2_600_000)
    before = chip.pwm.channel_edges(0, 0, clk.now_ns())
    chip.pwm.reset()
    t = clk.now_ns()
    assert chip.pwm.read_reg(CSR) == 0 and chip.pwm.read_reg(DIV) == 0x10
    assert chip.pwm.read_reg(TOP) == 0xFFFF and chip.pwm.read_reg(CC) == 0
    assert chip.pwm.read_reg(CTR) == 0
    assert p.freq() == 0 and p.duty_u16() == 0  # RAM state of machine.PWM restarted too
    clk.advance_to(t + 5 * MS)
    assert chip.pwm.channel_level(0, clk.now_ns()) == 0
    after = chip.pwm.channel_edges(0, t + 8, clk.now_ns())
    assert after == []
    assert chip.pwm.channel_edges(0, 0, t) == before


def test_forget_before_bounds_history() -> None:
    clk, blk = _block()
    blk.write_reg(TOP, 99)
    blk.write_reg(CSR, CSR_EN)
    for k in range(50):
        clk.advance_to(clk.now_ns() + 1000)
        blk.write_reg(CC, (k % 90) + 1)
    n = blk.history_len(0)
    assert n > 20
    level = blk.channel_level(0, 30_000)
    blk.forget_before(30_001)
    assert blk.history_len(0) < n
    assert blk.channel_level(0, 30_000) == level
    expect_raises(ValueError, blk.channel_level, 0, 1000)


def test_edge_listing_1s_at_150hz_on_all_slices() -> None:
    chip = _fresh()
    for s in range(8):
        PWM(2 * s, freq=150, duty_u16=19661)  # 30 %
    t0 = chip.clock.now_ns()
    chip.clock.advance_to(t0 + 1_000_000_000)
    for s in range(8):
        e = chip.pwm.channel_edges(2 * s, t0, t0 + 1_000_000_000)
        assert 299 <= len(e) <= 301, len(e)
        w = _high_widths(e)
        assert all(approx(x, 2_000_000, 400) for x in w)


# -- against an independent cycle-by-cycle simulation ---------------------------------------
class _Ref:
    """One slice stepped cycle by cycle, written straight from the datasheet rules."""

    def __init__(self) -> None:
        self.en = 0
        self.ph = 0
        self.inv = [0, 0]
        self.d16 = 16
        self.acc = 0
        self.ctr = 0
        self.up = True
        self.top = self.lat_top = 0xFFFF
        self.cc = [0, 0]
        self.lat_cc = [0, 0]
        self.hold = [0, 0]

    def step_cycle(self) -> None:
        if not self.en:
            return
        self.acc += 16
        if self.acc < self.d16:
            return
        self.acc -= self.d16
        wrap = False
        if not self.ph:
            if self.ctr == self.lat_top:
                self.ctr = 0
                wrap = True
            else:
                self.ctr = (self.ctr + 1) & 0xFFFF
        elif self.up:
            if self.ctr == self.lat_top:
                self.up = False
            else:
                self.ctr = (self.ctr + 1) & 0xFFFF
        elif self.ctr == 0:
            self.up = True
            wrap = True
        else:
            self.ctr -= 1
        if wrap:
            self.lat_top = self.top
            self.lat_cc = list(self.cc)

    def level(self, ch: int) -> int:
        raw = self.hold[ch] if not self.en else (1 if self.ctr < self.lat_cc[ch] else 0)
        return raw ^ self.inv[ch]

    def write(self, what: str, v: int) -> None:
        if what == "cc":
            self.cc = [v & 0xFFFF, v >> 16]
        elif what == "top":
            self.top = v
        elif what == "div":
            i = (v >> 4) & 0xFF
            self.d16 = ((i if i else 256) << 4) | (v & 15)
            self.acc = min(self.acc, self.d16 - 1)
        elif what == "ctr":
            self.ctr = v
        elif what == "csr":
            en = v & 1
            if self.en and not en:
                self.hold = [1 if self.ctr < self.lat_cc[ch] else 0 for ch in (0, 1)]
            self.en = en
            self.ph = (v >> 1) & 1
            self.inv = [(v >> 2) & 1, (v >> 3) & 1]
        if not self.en:
            self.lat_top = self.top
            self.lat_cc = list(self.cc)


def _run_against_reference(script: "List[Tuple[int, str, int]]", end_cycle: int) -> None:
    clk, blk = _block()
    ref = _Ref()
    regs = {"cc": CC, "top": TOP, "div": DIV, "ctr": CTR, "csr": CSR}
    ref_levels: List[List[int]] = [[], []]
    k = 0
    for cyc in range(end_cycle):
        if cyc:
            ref.step_cycle()
        while k < len(script) and script[k][0] == cyc:
            _c, what, v = script[k]
            clk.advance_to(cyc * 8 - 3 if cyc else 0)  # mid-cycle: acts at cycle `cyc`
            blk.write_reg(regs[what], v)
            ref.write(what, v)
            k += 1
        ref_levels[0].append(ref.level(0))
        ref_levels[1].append(ref.level(1))
    clk.advance_to(end_cycle * 8)
    for ch in (0, 1):
        want = []
        prev = 0
        for cyc in range(end_cycle):
            lv = ref_levels[ch][cyc]
            if lv != prev:
                want.append((cyc * 8, lv))
                prev = lv
        got = blk.channel_edges(ch, 0, end_cycle * 8)
        bad = [i for i in range(min(len(got), len(want))) if got[i] != want[i]][:1]
        assert got == want, (ch, bad, got[bad[0]] if bad else None, want[bad[0]] if bad else None)
        for cyc in range(0, end_cycle, 7):
            assert blk.channel_level(ch, cyc * 8 + 5) == ref_levels[ch][cyc], (ch, cyc)


def test_matches_cycle_reference_trailing_edge() -> None:
    script = [
        (0, "top", 9), (0, "cc", (7 << 16) | 3), (0, "div", 0x25), (0, "csr", 1),
        (100, "cc", (2 << 16) | 9),  # latched at the next wrap
        (230, "top", 5), (231, "cc", 4),
        (300, "div", 0x1F),  # fractional, takes effect at once
        (420, "csr", 1 | 4),  # invert A
        (500, "ctr", 200),  # above TOP: counts on to 0xFFFF, rolls over
        (520, "ctr", 3),
        (640, "csr", 0),  # stop mid-period, holds
        (700, "cc", (11 << 16) | 1), (760, "csr", 1),
        (900, "div", 0x30), (901, "cc", 6), (1100, "top", 11),
    ]
    _run_against_reference(script, 1500)


def test_matches_cycle_reference_phase_correct() -> None:
    script = [
        (0, "top", 7), (0, "cc", (8 << 16) | 3), (0, "div", 0x18), (0, "csr", 3),
        (90, "cc", (1 << 16) | 5), (200, "top", 4),
        (333, "csr", 1),  # switch to trailing-edge mid-count
        (400, "csr", 3),
        (470, "ctr", 30),  # above TOP while counting
        (620, "csr", 2), (700, "ctr", 2), (701, "csr", 3 | 8),
        (850, "div", 0x10), (900, "cc", 4),
    ]
    _run_against_reference(script, 1200)
