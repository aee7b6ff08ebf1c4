"""The PIO pulse engine: the program's words against its documented listing, and the model's PIO.

The firmware writes stim.pulse.PROGRAM into PIO instruction memory as numbers; docs/programs.md
gives it as pioasm. Here the words are disassembled and compared with the listing, and the
model's PIO block (fakehw/pio.py) is checked on each instruction kind and register the engine
uses, against the RP2040 datasheet (chapter 3), by cycle counts read from the pins.
"""

import re

from picostim import fakehw
from picostim.fakehw import machine as fmachine
from picostim.fakehw import pio, pioasm
from picostim.fakehw.chip import FUNC_PIO0
from picostim.pulserun import REPO, firmware_module

pulse = firmware_module("stim.pulse")
BASE = pio.PIO0_BASE
SM0 = BASE + pio.SM0_CLKDIV
NS = 8  # one cycle at 125 MHz


def _listing() -> list[str]:
    """The pioasm block of docs/programs.md's "The program", labels resolved to addresses."""
    text = (REPO / "docs" / "programs.md").read_text()
    block = text.split("**The program**", 1)[1].split("```", 2)[1]
    lines = [ln.split(";", 1)[0].strip() for ln in block.splitlines()]
    labels: dict[str, int] = {}
    instrs: list[str] = []
    for ln in lines:
        if not ln:
            continue
        if ln.endswith(":"):
            labels[ln[:-1]] = len(instrs)
        else:
            instrs.append(" ".join(ln.split()))
    out = []
    for ins in instrs:
        text = ins
        for name, addr in labels.items():
            text = re.sub(r"\b%s\b" % name, str(addr), text)
        out.append(text)
    return out


def test_the_programs_words_are_the_documented_listing() -> None:
    words = [pioasm.disasm(w, sideset_count=1) for w in pulse.PROGRAM]
    assert words == _listing()
    assert len(pulse.PROGRAM) == pulse.PROGRAM_WRAP_TOP + 1 <= 32


def test_only_the_lead_instructions_raise_the_side_set_pin_and_only_one_raises_the_set_pin() -> None:
    """The no-overlap argument of docs/programs.md, read from the words: side 1 only at 3..5, `set pins,
    1` only at 8, `set pins, 0` at 10, and 6..7 (the gap) between them."""
    text = [pioasm.disasm(w, sideset_count=1) for w in pulse.PROGRAM]
    assert [i for i, t in enumerate(text) if t.endswith("side 1")] == [3, 4, 5]
    assert [i for i, t in enumerate(text) if t.startswith("set pins, 1")] == [8]
    assert [i for i, t in enumerate(text) if t.startswith("set pins, 0")] == [10]
    assert text[6].startswith("jmp y--, 6") and text[7].startswith("out x, 32")


def _machine(chip: object, prog: list[int], side_pin: int, set_pin: int, words: list[int]) -> None:
    """Load prog on PIO0 SM0 (side-set 1 pin, set 1 pin, autopull 32, FIFO joined), push words."""
    mem32 = fmachine.mem32
    for i, w in enumerate(prog):
        mem32[BASE + pio.INSTR_MEM0 + 4 * i] = w
    mem32[SM0 + pio.EXECCTRL] = (len(prog) - 1) << 12
    mem32[SM0 + pio.SHIFTCTRL] = (1 << 30) | (1 << 19) | (1 << 18) | (1 << 17)
    for p in (side_pin, set_pin):
        mem32[SM0 + pio.PINCTRL] = (1 << 26) | (p << 5)
        mem32[SM0 + pio.INSTR] = 0xE081  # set pindirs, 1
    mem32[SM0 + pio.PINCTRL] = (1 << 29) | (1 << 26) | (side_pin << 10) | (set_pin << 5)
    mem32[BASE + 0x2000 + pio.CTRL] = 1 << 4  # SM_RESTART
    mem32[SM0 + pio.INSTR] = 0x0000  # jmp 0
    for w in words:
        mem32[BASE + pio.TXF0] = w


def test_the_model_runs_the_program_to_the_cycle() -> None:
    """R, L, G, T words give a rest of R + 4, a lead of L + 3, a gap of G + 2 and a trail of T + 2
    cycles, on the pads, once FUNCSEL is PIO0 (a rest counted from the trail's fall, at the start of
    `set pins, 0`). From the enable at instruction 0 the first rest is R + 3 cycles, plus one: that
    OUT finds the OSR empty and refills it first, where later words are prefetched (datasheet
    3.5.4.2). Then the machine waits at `out x` (the next R) with both pins low."""
    chip = fakehw.install()
    mem32 = fmachine.mem32
    lead, trail = 5, 4
    r, l_, g, t, r2 = 100, 50, 7, 60, 30
    _machine(chip, list(pulse.PROGRAM), lead, trail, [r, l_, g, t, r2, l_, g, t])
    chip.gpio_set_function(lead, FUNC_PIO0)
    chip.gpio_set_function(trail, FUNC_PIO0)
    mem32[BASE + 0x2000 + pio.CTRL] = 1  # enable SM0 through the SET alias
    t0 = -(-chip.clock.now_ns() // NS) * NS  # the write took effect at the end of its call: the next edge
    chip.clock.advance(100_000)
    el = chip.edges(lead, 0, chip.clock.now_ns())
    et = chip.edges(trail, 0, chip.clock.now_ns())
    assert [v for _t, v in el] == [1, 0, 1, 0] and [v for _t, v in et] == [1, 0, 1, 0]
    assert el[0][0] - t0 == (r + 3 + 1) * NS  # the first rest, with the refill's cycle
    for k in (0, 2):
        assert el[k + 1][0] - el[k][0] == (l_ + 3) * NS
        assert et[k][0] - el[k + 1][0] == (g + 2) * NS
        assert et[k + 1][0] - et[k][0] == (t + 2) * NS
    assert el[2][0] - et[1][0] == (r2 + 4) * NS  # a prefetched rest
    # Idle: both pins low, back at instruction 0 (`out x` for the next R) with an empty FIFO, stalled.
    assert mem32[SM0 + pio.ADDR] == 0
    assert mem32[BASE + pio.FSTAT] & (1 << 24)  # TXEMPTY
    assert mem32[SM0 + pio.EXECCTRL] >> 31 == 1  # EXEC_STALLED
    assert mem32[BASE + pio.FDEBUG] & (1 << pio.FDEBUG_TXSTALL)


def test_the_fifo_holds_eight_words_when_joined_and_loses_the_ninth() -> None:
    chip = fakehw.install()
    mem32 = fmachine.mem32
    _machine(chip, list(pulse.PROGRAM), 5, 4, list(range(9)))
    assert (mem32[BASE + pio.FLEVEL] & 0xF) == 8
    assert mem32[BASE + pio.FSTAT] & (1 << 16)  # TXFULL
    assert mem32[BASE + pio.FDEBUG] & (1 << pio.FDEBUG_TXOVER)  # the ninth word was lost
    mem32[BASE + pio.FDEBUG] = 1 << pio.FDEBUG_TXOVER  # write 1 to clear
    assert not mem32[BASE + pio.FDEBUG] & (1 << pio.FDEBUG_TXOVER)
    # A change of FJOIN empties the FIFOs (pico-sdk pio_sm_clear_fifos toggles FJOIN_RX twice).
    mem32[SM0 + 0x1000 + pio.SHIFTCTRL] = 1 << 31
    mem32[SM0 + 0x1000 + pio.SHIFTCTRL] = 1 << 31
    assert (mem32[BASE + pio.FLEVEL] & 0xF) == 0 and mem32[BASE + pio.FSTAT] & (1 << 24)


def test_disable_mid_loop_keeps_the_count_and_exec_runs_at_once() -> None:
    """A machine disabled in the middle of a `jmp x--` loop stops there (ADDR the loop, the pins as
    they were); an SMn_INSTR write runs its instruction at once, here `set pins, 0 side 0`."""
    chip = fakehw.install()
    mem32 = fmachine.mem32
    _machine(chip, list(pulse.PROGRAM), 5, 4, [10, 1_000_000, 0, 0])
    chip.gpio_set_function(5, FUNC_PIO0)
    mem32[BASE + 0x2000 + pio.CTRL] = 1
    chip.clock.advance(2_000_000)  # 2 ms into a lead of 8 ms
    assert chip.level(5) == 1 and mem32[SM0 + pio.ADDR] == 4
    mem32[BASE + 0x3000 + pio.CTRL] = 1  # disable through the CLR alias
    t = chip.clock.now_ns()
    chip.clock.advance(10_000_000)
    assert chip.level(5) == 1 and chip.edges(5, t, chip.clock.now_ns()) == []  # frozen, still high
    mem32[SM0 + pio.INSTR] = pulse.PROGRAM[10]  # set pins, 0 side 0
    assert chip.level(5) == 0 and chip.level(4) == 0
