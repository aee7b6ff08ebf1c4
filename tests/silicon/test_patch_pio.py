"""PIO state machines on the emulated RP2040, cycle-exact, against the RP2040 datasheet (ch. 3).

What patches/pio.mjs gives, checked on the pin trace of the real MicroPython firmware: every
enabled state machine runs one instruction cycle per tick of its clock divider in step with
the emulated clock, delay cycles included (3.4, 3.5.5), so widths and gaps are whole cycles
to the nanosecond; side-set acts on an instruction's first cycle even when it stalls (3.5.1);
a joined TX FIFO holds 8 words and an FJOIN change flushes it (3.5.3); autopull fills an
empty OSR on one cycle and shifts out on the next, and stalls an OUT on an empty FIFO
(3.5.4.2); a DMA channel paced by the machine's TX DREQ keeps it fed without overflowing the
FIFO (2.5.3). Most tests run PicoStim's pulse program of docs/programs.md, written register
by register as the firmware will: one DMA-fed train, the firmware's restart chain and stop,
and prepare() after an abort."""

from itertools import pairwise
from typing import Optional

import pytest
from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl

PIO0 = 0x50200000
PIO1 = 0x50300000
SM0_CLKDIV, SM_STRIDE, INSTR = 0x0C8, 0x18, 0x10  # SMn_INSTR reads the instruction at the PC


def sm_reg(base: int, sm: int, reg: int) -> int:
    return base + SM0_CLKDIV + SM_STRIDE * sm + reg


def edges(chip: Silicon, gpio: int, since: int) -> list[tuple[int, Optional[int]]]:
    return [(ns, level) for ns, g, level in chip.pins if g == gpio and ns >= since]


def pulses(chip: Silicon, gpio: int, since: int) -> list[tuple[int, int]]:
    """(rise, fall) of each whole high pulse on the pin since `since`."""
    out = []
    start = None
    for ns, level in edges(chip, gpio, since):
        if level == 1:
            start = ns
        elif start is not None:
            out.append((start, ns))
            start = None
    return out


def cycle_ns(repl: RawRepl) -> float:
    hz = int(repl.exec("import machine\nprint(machine.freq())"))
    return 1e9 / hz


# -- rp2.asm_pio and rp2.StateMachine (PIO1, divider 125) ------------------------------------------
PAIR = """
import rp2
from machine import Pin, mem32

@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW, sideset_init=rp2.PIO.OUT_LOW)
def pair():
    pull()             .side(1)      # B high while it waits for a word
    mov(x, osr)        .side(0)
    set(pins, 1)       .side(0) [2]  # A rises
    label("hi")
    jmp(x_dec, "hi")   .side(0) [1]  # x + 1 times 2 cycles
    set(pins, 0)       .side(0)      # A falls

sm = rp2.StateMachine(4, pair, freq=1_000_000, set_base=Pin(%d), sideset_base=Pin(%d))
"""
PIN_A, PIN_B = 20, 21
WORDS = [10, 3, 0]


def test_asm_pio_program_runs_on_its_divided_clock(chip: Silicon, repl: RawRepl) -> None:
    """StateMachine(4) at freq=1 MHz (divider 125, exact): A is high 3 + 2 (x + 1) cycles of 1 us
    per word; between words the machine takes 3 cycles, of which the non-stalling `pull` raises
    B for exactly one; after the last word `pull` stalls with B high from its first cycle."""
    cyc = cycle_ns(repl) * 125
    repl.exec(PAIR % (PIN_A, PIN_B))
    t0 = chip.now_ns
    repl.exec("sm.active(1)")
    chip.run_for(50_000)
    stalled = pulses(chip, PIN_B, t0)
    t1 = chip.now_ns
    repl.exec("for w in %r:\n    sm.put(w)" % WORDS)
    chip.run_for(200_000)
    out = repl.exec("print(sm.tx_fifo(), mem32[%d] == pair[0][0])" % sm_reg(PIO1, 0, INSTR))
    repl.exec("sm.active(0)")
    assert out.split() == ["0", "True"]  # fed through, waiting at `pull` (SMn_INSTR reads it)
    assert stalled == []  # B rose at the enable and stays high while `pull` stalls
    assert [lv for _, lv in edges(chip, PIN_B, t0)][:1] == [1]
    a = pulses(chip, PIN_A, t1)
    b = pulses(chip, PIN_B, t0)
    assert [hi - lo for lo, hi in a] == [(3 + 2 * (x + 1)) * cyc for x in WORDS]
    assert [nxt[0] - prev[1] for prev, nxt in pairwise(a)] == [3 * cyc] * (len(WORDS) - 1)
    # B: the stall's pulse ends one cycle after the word lands, A rises one cycle later still;
    # between words B is high one cycle, one cycle after A falls.
    assert a[0][0] - b[0][1] == cyc
    between = [(lo - prev[1], hi - lo) for prev, (lo, hi) in zip(a, b[1:], strict=False)]
    assert between == [(cyc, cyc)] * (len(WORDS) - 1)
    last_b = edges(chip, PIN_B, a[-1][1])
    assert last_b == [(a[-1][1] + cyc, 1)]  # the final stalled `pull` holds B high


# -- PicoStim's pulse program, by register, fed by TX-DREQ-paced DMA (PIO0) -------------------------
# docs/programs.md "The program": lead pin on side-set, trail pin on `set`, SIDESET_COUNT 1.
PROGRAM = [
    0x6020,  # 0  out x, 32        side 0   R
    0x0041,  # 1  jmp x--, 1       side 0
    0x6020,  # 2  out x, 32        side 0   L
    0xB042,  # 3  nop              side 1   lead rises
    0x1044,  # 4  jmp x--, 4       side 1
    0x7040,  # 5  out y, 32        side 1   G
    0x0086,  # 6  jmp y--, 6       side 0   lead falls
    0x6020,  # 7  out x, 32        side 0   T
    0xE001,  # 8  set pins, 1      side 0   trail rises
    0x0049,  # 9  jmp x--, 9       side 0
    0xE000,  # 10 set pins, 0      side 0   trail falls
]
SM = 1
LEAD, TRAIL = 18, 19
# (R, L, G, T) per pulse: varied (the smallest gap, G = 0, among them), then a steady train. The
# first rest (400 us) covers the interpreted FUNCSEL writes after the enable, as the firmware's
# first stretch is a rest so the pads belong to the machine before the first phase.
TRAIN = [(50_000, 50, 20, 60), (200, 30, 0, 10), (1000, 7, 3, 7), (5, 1, 1, 1)] + [(300, 40, 12, 40)] * 4

LOAD = """
from machine import mem32
from rp2 import DMA
from array import array
P = %d
SM = %d
def r(reg):
    return P + 0xc8 + 0x18 * SM + reg
mem32[P + 0x3000] = 1 << SM                     # CTRL clear alias: SM_ENABLE off
for i, w in enumerate(%r):
    mem32[P + 0x48 + 4 * i] = w                 # INSTR_MEM
mem32[r(0x00)] = 1 << 16                        # CLKDIV 1
mem32[r(0x04)] = 10 << 12                       # EXECCTRL: wrap 10 -> 0
mem32[r(0x08)] = (1 << 17) | (1 << 30)          # SHIFTCTRL: autopull at 32 bits, TX joined
pinctrl = (1 << 29) | (1 << 26) | (%d << 10)    # one side-set pin (lead), one set pin
mem32[r(0x14)] = pinctrl | (%d << 5)
mem32[r(0x10)] = 0xe081                         # exec `set pindirs, 1`: trail
mem32[r(0x14)] = pinctrl | (%d << 5)
mem32[r(0x10)] = 0xe081                         # lead
mem32[r(0x14)] = pinctrl | (%d << 5)
""" % (PIO0, SM, PROGRAM, LEAD, TRAIL, LEAD, TRAIL)

FIFO_CHECK = """
mem32[P + 0x3000] = 1 << SM
for w in range(9):
    mem32[P + 0x10 + 4 * SM] = w                # 8 fit the joined FIFO, the 9th overflows
full = (mem32[P + 0x0c] >> (8 * SM)) & 0xf, (mem32[P + 4] >> (16 + SM)) & 1, (mem32[P + 8] >> (16 + SM)) & 1
mem32[r(0x08) + 0x1000] = 1 << 31              # XOR alias: FJOIN_RX toggled twice flushes both FIFOs
mem32[r(0x08) + 0x1000] = 1 << 31
mem32[P + 8] = 0xffffffff                       # FDEBUG: write 1 to clear
print(*full, (mem32[P + 0x0c] >> (8 * SM)) & 0xf, mem32[P + 8])
"""

START = """
mem32[P + 0x2000] = 1 << (4 + SM)               # SM_RESTART
mem32[r(0x10)] = 0x0000                         # exec `jmp 0`
words = array('I', %r)
d = DMA()
d.config(read=words, write=P + 0x10 + 4 * SM, count=len(words), trigger=True,
         ctrl=d.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=SM))
mem32[P + 0x2000] = 1 << SM                     # CTRL set alias: SM_ENABLE
mem32[0x40014004 + 8 * %d] = 6                  # FUNCSEL PIO0 on both pads
mem32[0x40014004 + 8 * %d] = 6
"""

AFTER = """
print(d.active(), mem32[r(0x0c)], (mem32[P + 0x0c] >> (8 * SM)) & 0xf, (mem32[P + 4] >> (24 + SM)) & 1,
      (mem32[P + 8] >> (24 + SM)) & 1, (mem32[P + 8] >> (16 + SM)) & 1)
mem32[P + 0x3000] = 1 << SM
d.close()
"""


@pytest.fixture(scope="module")
def train(chip: Silicon, repl: RawRepl) -> tuple[float, int]:
    """The program loaded and the train run to its end: (cycle ns, start ns)."""
    cyc = cycle_ns(repl)
    repl.exec(LOAD)
    t0 = chip.now_ns
    repl.exec(START % ([w for p in TRAIN for w in p], LEAD, TRAIL))
    total = sum(r + lead + g + t + 11 for r, lead, g, t in TRAIN)
    chip.run_for(round(total * cyc) + 100_000)
    return cyc, t0


def test_pulse_program_widths_gap_and_rest_to_the_cycle(chip: Silicon, train: tuple[float, int]) -> None:
    """docs/programs.md: lead L + 3, gap G + 2, trail T + 2, rest R + 4 cycles (8 ns each),
    one pulse per four words, in order, exactly."""
    cyc, t0 = train
    lead = pulses(chip, LEAD, t0)
    trail = pulses(chip, TRAIL, t0)
    assert len(lead) == len(trail) == len(TRAIN)
    assert [hi - lo for lo, hi in lead] == [(p[1] + 3) * cyc for p in TRAIN]
    assert [t[0] - ld[1] for ld, t in zip(lead, trail, strict=True)] == [(p[2] + 2) * cyc for p in TRAIN]
    assert [hi - lo for lo, hi in trail] == [(p[3] + 2) * cyc for p in TRAIN]
    assert [ld[0] - t[1] for t, ld in zip(trail, lead[1:], strict=False)] == [(p[0] + 4) * cyc for p in TRAIN[1:]]


def test_pulse_program_period_is_the_sum_plus_eleven(chip: Silicon, train: tuple[float, int]) -> None:
    """In the steady train (equal words) the period is R + L + G + T + 11 cycles, lead to lead."""
    cyc, t0 = train
    lead = pulses(chip, LEAD, t0)
    steady = [i for i, p in enumerate(TRAIN) if p == TRAIN[-1]]
    r, ld, g, t = TRAIN[-1]
    got = [lead[i][0] - lead[i - 1][0] for i in steady[1:]]
    assert got == [(r + ld + g + t + 11) * cyc] * (len(steady) - 1)


def test_pulse_program_pins_never_high_together(chip: Silicon, train: tuple[float, int]) -> None:
    """At no instant are lead and trail both high (levels replayed edge by edge)."""
    _, t0 = train
    level = {LEAD: 0, TRAIL: 0}
    both = []
    seen = 0
    for ns, g, lv in chip.pins:
        if ns < t0 or g not in level:
            continue
        level[g] = lv or 0
        seen += 1
        if level[LEAD] and level[TRAIL]:
            both.append(ns)
    assert seen >= 4 * len(TRAIN)  # both pins' pulses are in the trace
    assert both == []


def test_pulse_program_stalls_at_out_r_with_both_pins_low(chip: Silicon, repl: RawRepl,
                                                          train: tuple[float, int]) -> None:
    """After the DMA's last word: the DMA is idle, the machine waits at `out x` (R, address 0)
    on an empty FIFO (FDEBUG.TXSTALL), no word was ever lost (no TXOVER), both pins low."""
    out = repl.exec(AFTER)
    assert out.split() == ["False", "0", "0", "1", "1", "0"]
    assert chip.levels[LEAD] == 0 and chip.levels[TRAIL] == 0


def test_joined_fifo_holds_eight_and_an_fjoin_change_flushes(repl: RawRepl, train: tuple[float, int]) -> None:
    """SHIFTCTRL.FJOIN_TX (datasheet 3.5.4): the TX FIFO takes the RX FIFO's storage, 8 words, so
    FLEVEL reads 8 and FSTAT.TXFULL is set after 8 writes, and a 9th sets FDEBUG.TXOVER; toggling
    FJOIN_RX twice (pico-sdk pio_sm_clear_fifos) flushes it to 0; FDEBUG clears by writing 1s."""
    out = repl.exec(FIFO_CHECK)
    assert out.split() == ["8", "1", "1", "0", "0"]


# -- the firmware's feeding: D paced by the TX DREQ, C restarting D (docs/programs.md) --------------
CHAIN_SM = 2
CHAIN_LEAD, CHAIN_TRAIL = 6, 7
CHAIN_PROGRAM = [(400, 20, 5, 20), (600, 30, 10, 30)]  # two pulses a program

CHAIN = """
from uctypes import addressof
SM = %d
def r(reg):
    return P + 0xc8 + 0x18 * SM + reg
mem32[P + 0x3000] = 1 << SM
mem32[r(0x00)] = 1 << 16
mem32[r(0x04)] = 10 << 12
mem32[r(0x08)] = (1 << 17) | (1 << 30)
pinctrl = (1 << 29) | (1 << 26) | (%d << 10)
mem32[r(0x14)] = pinctrl | (%d << 5)
mem32[r(0x10)] = 0xe081
mem32[r(0x14)] = pinctrl | (%d << 5)
mem32[r(0x10)] = 0xe081
mem32[r(0x14)] = pinctrl | (%d << 5)
mem32[r(0x10)] = 0xe000                         # exec `set pins, 0 side 0`: both low
mem32[r(0x08) + 0x1000] = 1 << 31               # flush the FIFOs
mem32[r(0x08) + 0x1000] = 1 << 31
mem32[P + 0x2000] = 1 << (4 + SM)               # SM_RESTART: OSR empty, no stall
mem32[r(0x10)] = 0x0000                         # exec `jmp 0`
prog = array('I', %r)
restart = array('I', [addressof(prog)])
dd = DMA()
cc = DMA()
dd.config(read=prog, write=P + 0x10 + 4 * SM, count=len(prog), trigger=False,
          ctrl=dd.pack_ctrl(size=2, inc_read=True, inc_write=False, treq_sel=SM, chain_to=cc.channel))
cc.config(read=restart, write=0x50000000 + 0x40 * dd.channel + 0x3c, count=1, trigger=False,
          ctrl=cc.pack_ctrl(size=2, inc_read=False, inc_write=False))
mem32[0x40014004 + 8 * %d] = 6
mem32[0x40014004 + 8 * %d] = 6
dd.active(1)
mem32[P + 0x2000] = 1 << SM
"""


def test_restart_chain_keeps_the_machine_fed_and_stop_ends_the_program(chip: Silicon, repl: RawRepl,
                                                                        train: tuple[float, int]) -> None:
    """C restarts D from the restart word after each program; the FIFO keeps the machine fed
    across every restart, so lead-to-lead periods take only the program's two values. One
    store (restart word := 0) stops it: D ends the program in progress, the machine waits at
    `out x` (R) with both pins low, and the train holds whole programs."""
    cyc, _ = train
    t0 = chip.now_ns
    words = [w for p in CHAIN_PROGRAM for w in p]
    repl.exec(CHAIN % (CHAIN_SM, CHAIN_LEAD, CHAIN_TRAIL, CHAIN_LEAD, CHAIN_TRAIL, words, CHAIN_LEAD, CHAIN_TRAIL))
    chip.run_for(1_000_000)
    # SMn_ADDR read back while the loops run (each read works the loop's state out at that
    # instant, and must not move a single edge: the period check below covers these reads)
    seen = repl.exec("seen = set()\nfor i in range(400):\n    seen.add(mem32[r(0x0c)])\nprint(*sorted(seen))")
    chip.run_for(1_000_000)
    t1 = chip.now_ns
    repl.exec("restart[0] = 0")
    program_ns = sum(r + ld + g + t + 11 for r, ld, g, t in CHAIN_PROGRAM) * cyc
    chip.run_for(round(5 * program_ns))
    out = repl.exec(AFTER.replace("d.", "dd."))
    lead = pulses(chip, CHAIN_LEAD, t0)
    trail = pulses(chip, CHAIN_TRAIL, t0)
    (r0, l0, g0, t0_), (r1, l1, g1, t1_) = CHAIN_PROGRAM
    steps = {(l0 + 3 + g0 + 2 + t0_ + 2 + r1 + 4) * cyc, (l1 + 3 + g1 + 2 + t1_ + 2 + r0 + 4) * cyc}
    addrs = [int(a) for a in seen.split()]
    assert {1, 4, 9} <= set(addrs) <= set(range(len(PROGRAM)))  # all three loops seen
    assert len(lead) == len(trail)
    assert sum(1 for p in lead if p[0] < t1) > 100  # over 50 restarts before the stop
    assert {b[0] - a[0] for a, b in pairwise(lead)} == steps
    assert len(lead) % len(CHAIN_PROGRAM) == 0  # whole programs only
    assert lead[-1][0] > t1  # the program in progress when the stop was stored ended
    assert out.split() == ["False", "0", "0", "1", "1", "0"]
    assert chip.levels[CHAIN_LEAD] == 0 and chip.levels[CHAIN_TRAIL] == 0


# -- autopull: an empty OSR is filled on one cycle and shifted out on the next ----------------------
AUTOPULL = """
from machine import mem32
P = 0x50200000
A, B = 0, 3
def s(sm, reg):
    return P + 0xc8 + 0x18 * sm + reg
mem32[P + 0x3000] = (1 << A) | (1 << B)
for i, w in enumerate([0x6020, 0xb042, 0x100d, 0xe001, 0x000f]):
    mem32[P + 0x48 + 4 * (11 + i)] = w   # A: 11 out x, 32 side 0; 12 nop side 1; 13 jmp 13 side 1
for sm, wrap in ((A, (13 << 12) | (11 << 7)), (B, (15 << 12) | (14 << 7))):   # B: 14 set pins, 1; 15 jmp 15
    mem32[s(sm, 0x00)] = 1 << 16
    mem32[s(sm, 0x04)] = wrap
mem32[s(A, 0x08)] = (1 << 17) | (1 << 30)                  # autopull at 32 bits, TX joined
mem32[s(A, 0x14)] = (1 << 29) | (1 << 26) | (%d << 10) | (%d << 5)
mem32[s(A, 0x10)] = 0xe081                                 # pindirs of A's side-set pin
mem32[s(B, 0x14)] = (1 << 26) | (%d << 5)
mem32[s(B, 0x10)] = 0xe081
mem32[s(B, 0x10)] = 0xe000
for pin in (%d, %d):
    mem32[0x40014004 + 8 * pin] = 6
mem32[P + 0x2000] = (1 << (4 + A)) | (1 << (4 + B))        # SM_RESTART: A's OSR empty
mem32[s(A, 0x10)] = 11                                     # exec jmp 11
mem32[s(B, 0x10)] = 14
for w in (7, 8, 9):
    mem32[P + 0x10 + 4 * A] = w
mem32[P + 0x2000] = (1 << A) | (1 << B)                    # both start on the same cycle
"""
SIDE_A, SET_B = 10, 11


def test_autopull_fills_an_empty_osr_then_shifts_on_the_next_cycle(chip: Silicon, repl: RawRepl) -> None:
    """Datasheet 3.5.4.2: an OUT that finds the OSR empty and data in the FIFO fills the OSR and
    stalls that cycle (it "cannot fill an empty OSR and OUT it on the same cycle"); after the OUT
    the next word refills the OSR in the background. A and B start on the same cycle: B's `set`
    on its first cycle, A's `nop side 1` on its third (fill, out, nop). Of three words the FIFO
    keeps one (one shifted out, one waiting in the OSR); A then halts in `jmp 13` to itself."""
    cyc = cycle_ns(repl)
    t0 = chip.now_ns
    repl.exec(AUTOPULL % (SIDE_A, SIDE_A, SET_B, SIDE_A, SET_B))
    chip.run_for(10_000)
    out = repl.exec("print(mem32[P + 0x0c] & 0xf, mem32[s(A, 0x0c)], mem32[s(B, 0x0c)])\n"
                    "mem32[P + 0x3000] = (1 << A) | (1 << B)")
    a = [ns for ns, lv in edges(chip, SIDE_A, t0) if lv == 1]
    b = [ns for ns, lv in edges(chip, SET_B, t0) if lv == 1]
    assert len(a) == len(b) == 1
    assert a[0] - b[0] == 2 * cyc
    assert out.split() == ["1", "13", "15"]


def alternate(values: list[int], n: int) -> list[int]:
    return [values[i % len(values)] for i in range(n)]


def test_prepare_after_an_abort_mid_program_runs_only_the_new_program(chip: Silicon, repl: RawRepl,
                                                                      train: tuple[float, int]) -> None:
    """Machine disabled and D aborted mid-program (words left in the FIFO, one in the OSR, the PC
    inside a loop); then the firmware's prepare(): both pins low by an exec'd `set pins, 0 side 0`,
    FJOIN toggled (the FIFO flushed), SM_RESTART (the OSR emptied), exec `jmp 0`. The new program's
    pulses are exact from the first; nothing of the old one shows."""
    cyc, _ = train
    old = [w for p in CHAIN_PROGRAM for w in p]
    repl.exec(CHAIN % (CHAIN_SM, CHAIN_LEAD, CHAIN_TRAIL, CHAIN_LEAD, CHAIN_TRAIL, old, CHAIN_LEAD, CHAIN_TRAIL))
    chip.run_for(300_000)
    left = repl.exec("mem32[P + 0x3000] = 1 << SM\ndd.active(0)\ncc.active(0)\ndd.close()\ncc.close()\n"
                     "print((mem32[P + 0x0c] >> (8 * SM)) & 0xf, mem32[r(0x0c)])")
    t0 = chip.now_ns
    new = [(500, 11, 4, 11), (700, 25, 7, 25)]
    repl.exec(CHAIN % (CHAIN_SM, CHAIN_LEAD, CHAIN_TRAIL, CHAIN_LEAD, CHAIN_TRAIL, [w for p in new for w in p],
                       CHAIN_LEAD, CHAIN_TRAIL))
    chip.run_for(300_000)
    repl.exec("restart[0] = 0")
    chip.run_for(100_000)
    out = repl.exec(AFTER.replace("d.", "dd.") + "cc.close()")
    lead = pulses(chip, CHAIN_LEAD, t0)
    trail = pulses(chip, CHAIN_TRAIL, t0)
    level, addr = (int(v) for v in left.split())
    assert level == 8 and addr in range(len(PROGRAM))  # aborted with a full FIFO
    assert len(lead) == len(trail) > 10
    assert [hi - lo for lo, hi in lead] == [(x + 3) * cyc for x in alternate([p[1] for p in new], len(lead))]
    assert [hi - lo for lo, hi in trail] == [(x + 2) * cyc for x in alternate([p[3] for p in new], len(trail))]
    assert [t[0] - ld[1] for ld, t in zip(lead, trail, strict=True)] == [
        (x + 2) * cyc for x in alternate([p[2] for p in new], len(lead))]
    assert out.split() == ["False", "0", "0", "1", "1", "0"]
