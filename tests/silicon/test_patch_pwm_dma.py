"""PWM slices and PWM-paced DMA on the emulated RP2040, against the RP2040 datasheet.

What patches/pwm.mjs and patches/dma.mjs fix, checked on the pin trace of the real
MicroPython firmware: a slice's outputs follow CC from the first period after the enable
(4.5.2); CC and TOP written while a slice is halted govern that first period ("Double
buffering"); INV flips the pin at once; the EN register reads back; a DMA channel paced by
DREQ_PWM_WRAPn does one transfer per wrap and keeps credits for wraps it has not served
(2.5.3.2, "Credit-based DREQ scheme"); and the firmware's pulse engine makes one biphasic
pair per pulse period.

Times are exact: the emulator places every edge on the nanosecond of its count, so a
count lasts DIV/16 sysclk cycles of 8 ns and widths and periods are compared exactly.
A marker pin, set just before the write under test, pins down when that write happened.
"""

from itertools import pairwise
from pathlib import Path
from typing import Optional

import pytest
from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
CYCLE_NS = 8  # 125 MHz clk_sys
MARK = 22  # marker pin, plain SIO output
NEAR_NS = 20_000  # a write and the pin edge it causes: a few MicroPython statements apart

PWM_BASE = 0x40050000
EN_SET = PWM_BASE + 0x20A0  # the EN register's atomic-set alias
DMA_BASE = 0x50000000

SETUP = """
from machine import Pin, PWM, mem32
from rp2 import DMA
from array import array
import time
m = Pin(%d, Pin.OUT, value=0)
def sl(n):
    return 0x40050000 + 0x14 * n
def halt(n, div16, top, cc, pin):
    s = sl(n)
    mem32[s] = 0
    mem32[s + 4] = div16
    mem32[s + 16] = top
    mem32[s + 12] = cc
    mem32[s + 8] = 0
    mem32[0x40014004 + 8 * pin] = 4
""" % MARK


@pytest.fixture(scope="module")
def board(repl: RawRepl) -> RawRepl:
    repl.exec(SETUP)
    return repl


def edges(chip: Silicon, gpio: int, since: int) -> list[tuple[int, Optional[int]]]:
    return [(ns, level) for ns, g, level in chip.pins if g == gpio and ns >= since]


def first_edge(chip: Silicon, gpio: int, since: int, level: int) -> int:
    return next(ns for ns, lv in edges(chip, gpio, since) if lv == level)


def pulses(chip: Silicon, gpio: int, since: int, high: int = 1) -> list[tuple[int, int]]:
    """(start, end) of each whole pulse at `high` on the pin since `since`."""
    out = []
    start = None
    for ns, level in edges(chip, gpio, since):
        if level == high:
            start = ns
        elif start is not None:
            out.append((start, ns))
            start = None
    return out


def widths(ps: list[tuple[int, int]]) -> list[int]:
    return [b - a for a, b in ps]


def periods(ps: list[tuple[int, int]]) -> list[int]:
    return [b[0] - a[0] for a, b in pairwise(ps)]


def count_ns(div16: int) -> float:
    """One counter step: DIV (8.4 fixed point) sysclk cycles."""
    return div16 * CYCLE_NS / 16


# -- PWM (datasheet 4.5) ----------------------------------------------------------------------------
def test_reference_figure_from_the_first_period(chip: Silicon, board: RawRepl) -> None:
    """PWM(Pin(0), freq=100, duty_ns=200_000): DIV 306/16, TOP 65358, CC 1307; the pulse starts
    at the enable (inside the constructor), not one period later."""
    t0 = chip.now_ns
    out = board.exec("p0 = PWM(Pin(0), freq=100, duty_ns=200_000)\nm(1)\nm(0)\n"
                     "print(mem32[sl(0) + 4], mem32[sl(0) + 16], mem32[sl(0) + 12] & 0xffff)")
    assert out.split() == ["306", "65358", "1307"]
    mark = first_edge(chip, MARK, t0, 1)
    chip.run_for(45_000_000)
    board.exec("p0.deinit()")
    period = round(65359 * count_ns(306))
    high = round(1307 * count_ns(306))
    assert (period, high) == (9_999_927, 199_971)
    ps = pulses(chip, 0, t0)
    assert len(ps) >= 5
    assert set(periods(ps[1:])) == {period}
    assert set(widths(ps[1:])) == {high}
    # The first period has its pulse: it rose before the constructor returned and ends at
    # the CC match of the period the enable began (one period before the second pulse).
    # It rises a few instructions after the enable, when the constructor selects the pin's
    # PWM function.
    enable = ps[1][0] - period
    assert ps[0][1] == enable + high
    assert enable <= ps[0][0] < mark


def test_halted_writes_govern_the_first_period(chip: Silicon, board: RawRepl) -> None:
    """CC and TOP written while the slice is halted take effect at once; the counter does not run
    while halted (not even after a DIV write); the output follows CC from the enable."""
    board.exec("halt(2, 10 << 4, 12499, 500, 4)\n"
               "mem32[sl(2) + 16] = 9999\nmem32[sl(2) + 12] = 2500")  # halted: no wrap to wait for
    chip.run_for(3_000_000)
    t0 = chip.now_ns
    out = board.exec("c2 = sl(2)\nm(1)\nmem32[c2] = 1\nm(0)\nprint(mem32[sl(2) + 8] > 0, mem32[0x400500a0] & 4)")
    assert out.split() == ["True", "4"]  # counting, and EN reads the slice's CSR.EN
    mark = first_edge(chip, MARK, t0, 1)
    chip.run_for(5_000_000)
    board.exec("mem32[sl(2)] = 0")
    ps = pulses(chip, 4, t0)
    assert 0 < ps[0][0] - mark < NEAR_NS  # high from the enable
    assert set(widths(ps)) == {2500 * 80}  # 10 cycles a count
    assert set(periods(ps)) == {10000 * 80}


def test_en_register_enables_without_touching_other_slices(chip: Silicon, board: RawRepl) -> None:
    """An atomic set of one EN bit starts that slice at once and leaves the others running."""
    board.exec("halt(3, 1 << 4, 12499, 1250, 6)\nhalt(4, 1 << 4, 12499, 2500, 8)\nmem32[sl(4)] = 1")
    t0 = chip.now_ns
    out = board.exec("m(1)\nmem32[%d] = 1 << 3\nm(0)\nprint(mem32[0x400500a0] & 0x18)" % EN_SET)
    assert out.split() == ["24"]
    mark = first_edge(chip, MARK, t0, 1)
    chip.run_for(1_000_000)
    board.exec("mem32[sl(3)] = 0\nmem32[sl(4)] = 0")
    ps3 = pulses(chip, 6, t0)
    assert 0 < ps3[0][0] - mark < NEAR_NS
    assert set(widths(ps3)) == {10_000}
    assert set(periods(ps3)) == {100_000}
    assert set(periods(pulses(chip, 8, t0))) == {100_000}  # slice 4 ran on


def test_invert_flips_the_pin_at_once(chip: Silicon, board: RawRepl) -> None:
    """invert=True gives low pulses of the duty; flipping CSR.A_INV on a running slice shows at once."""
    t0 = chip.now_ns
    out = board.exec("p5 = PWM(Pin(10), freq=1000, duty_ns=100_000, invert=True)\n"
                     "print(mem32[sl(5) + 4], mem32[sl(5) + 16], mem32[sl(5) + 12] & 0xffff)")
    div16, top, cc = (int(v) for v in out.split())
    chip.run_for(5_500_000)
    t1 = chip.now_ns
    board.exec("x5 = sl(5) + 0x1000\nm(1)\nmem32[x5] = 4\nm(0)")  # XOR alias: A_INV off
    mark = first_edge(chip, MARK, t1, 1)
    chip.run_for(3_000_000)
    board.exec("p5.deinit()")
    low = pulses(chip, 10, t0, high=0)
    low = [p for p in low if p[1] <= mark]
    assert len(low) >= 4
    assert set(widths(low[1:])) == {round(cc * count_ns(div16))}
    assert set(periods(low)) == {round((top + 1) * count_ns(div16))}
    flips = [ns for ns, _ in edges(chip, 10, mark)]
    assert flips and flips[0] - mark < NEAR_NS  # the level follows the new A_INV at once
    high = [p for p in pulses(chip, 10, flips[0]) if p[0] > flips[0]]
    assert set(widths(high)) == {round(cc * count_ns(div16))}


# -- DMA paced by PWM wrap (datasheet 2.5.3) --------------------------------------------------------
WORDS = [1000, 2000, 3000, 4000, 5000, 6000]


def test_dma_paced_by_wrap_moves_one_word_per_period(chip: Silicon, board: RawRepl) -> None:
    """A channel paced by DREQ_PWM_WRAP6 writes one CC word per wrap; CC latches at the next wrap,
    so each period's width follows the list, one word per period."""
    t0 = chip.now_ns
    out = board.exec(
        "halt(6, 10 << 4, 12499, 500, 12)\nmem32[sl(6)] = 1\n"
        "w6 = array('I', %r)\nd6 = DMA()\n"
        "d6.config(read=w6, write=sl(6) + 12, count=len(w6), trigger=True,"
        " ctrl=d6.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=24 + 6))\n"
        "print(d6.active(), d6.count)" % WORDS)
    assert out.split() == ["True", str(len(WORDS))]  # waiting for the first wrap
    chip.run_for(12_000_000)
    assert board.exec("print(d6.active(), d6.count)").split() == ["False", "0"]
    board.exec("mem32[sl(6)] = 0\nd6.close()")
    got = [w // 80 for w in widths(pulses(chip, 12, t0))]
    k = next(i for i, w in enumerate(got) if w != 500)
    assert k >= 1  # a word written in a period governs the next one
    assert got[k:k + len(WORDS)] == WORDS
    assert set(got[k + len(WORDS):]) == {WORDS[-1]}


def test_dma_keeps_credits_for_wraps_while_idle(chip: Silicon, board: RawRepl) -> None:
    """The channel's DREQ counter (CHn_DBG_CTDREQ) counts wraps while it waits untriggered and
    saturates at 63; on the trigger it spends them at once, then goes one word per wrap."""
    words = [100 + 10 * i for i in range(70)]
    board.exec(
        "halt(7, 16 << 4, 12499, 50, 14)\n"  # 1.6 ms periods
        "w7 = array('I', %r)\nd7 = DMA()\n"
        "d7.config(read=w7, write=sl(7) + 12, count=len(w7), trigger=False,"
        " ctrl=d7.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=24 + 7))\n"
        "ct = 0x50000800 + 0x40 * d7.channel\nmem32[ct] = 0\nmem32[sl(7)] = 1" % words)
    chip.run_for(8_000_000)
    few = int(board.exec("print(mem32[ct])"))
    chip.run_for(110_000_000)
    t0 = chip.now_ns
    out = board.exec("s = mem32[ct]\nd7.active(1)\nprint(s, d7.count, mem32[ct])")
    assert 3 <= few <= 6
    assert out.split() == ["63", str(len(words) - 63), "0"]
    chip.run_for(16_000_000)
    board.exec("mem32[sl(7)] = 0\nd7.close()")
    got = [w // 128 for w in widths(pulses(chip, 14, t0))]
    k = got.index(words[62])  # the 63 credited words landed at once; the last of them shows
    assert got[k:k + 8] == words[62:]
    assert words[61] not in got


# -- the firmware's pulse engine (firmware/stim/hal/pulse_hw.py) --------------------------------
ENGINE = ["stim/__init__.py", "stim/boardspec.py", "stim/pulse.py", "stim/hal/__init__.py", "stim/hal/pulse_hw.py"]
PIN_A, PIN_B = 16, 17  # slice 0, channels A and B


def test_pulse_engine_one_pair_per_pulse_period(chip: Silicon, board: RawRepl) -> None:
    """stim.hal.pulse_hw (a PIO state machine fed by DMA): per pulse period one biphasic pair, B,
    the board's 2 us dead time, then A, both w wide; after stop() the programs already in the FIFO
    end and nothing follows; a second start() paces per period again."""
    board.exec("import os\nfor d in ('/stim', '/stim/hal'):\n try: os.mkdir(d)\n except OSError: pass")
    for rel in ENGINE:
        board.put_file("/" + rel, (FIRMWARE / rel).read_bytes(), chunk=2048)
    out = board.exec(
        "from stim.pulse import settings_for\nfrom stim.hal.pulse_hw import PulseChannel\n"
        "s = settings_for(200, 100, 125_000_000, 20, 0, 0, 2)\npc = PulseChannel(%d, %d)\npc.configure(s)\n"
        "print(s.period_cycles, s.width_cycles, s.gap_cycles, s.program_cycles)" % (PIN_A, PIN_B))
    per, w, g, prog = (int(v) * CYCLE_NS for v in out.split())
    assert per == 5_000_000 and w == 100_000 and g == 2_000 and prog == per  # 200 Hz, 100 us, 2 us
    for _ in range(2):
        t0 = chip.now_ns
        assert board.exec("m(1)\nok = pc.start()\nm(0)\nprint(ok)").split() == ["True"]
        start = first_edge(chip, MARK, t0, 1)
        started = first_edge(chip, MARK, start, 0)  # start() returned: the train went live before
        chip.run_for(6 * prog)  # six programs, here six pulse periods
        t1 = chip.now_ns
        board.exec("m(1)\npc.stop()\nm(0)")
        stop = first_edge(chip, MARK, t1, 1)
        chip.run_for(4 * prog)
        assert board.exec("print(pc.running)").split() == ["False"]
        a = pulses(chip, PIN_A, t0)
        b = pulses(chip, PIN_B, t0)
        assert len(a) == len(b) >= 6
        assert set(widths(a)) == set(widths(b)) == {w}
        assert all(pa[0] == pb[1] + g for pa, pb in zip(a, b, strict=True))  # A starts the gap after B ends
        assert set(periods(b)) == {per}  # one pair per pulse period
        assert started < b[0][0] < started + 1_000_000  # the first pair ends the first rest (1 ms)
        assert a[-1][1] < stop + 3 * prog  # the programs in the 8-word FIFO (two) ended the train
