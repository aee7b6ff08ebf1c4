"""PIO instruction words as pioasm text (RP2040 datasheet 3.4): tests compare the firmware's
program words (stim.pulse.PROGRAM) with the listing docs/programs.md gives.

Runs unchanged on CPython and on the MicroPython unix port.
"""

_JMP_COND = ("", "!x, ", "x--, ", "!y, ", "y--, ", "x!=y, ", "pin, ", "!osre, ")
_DEST = ("pins", "x", "y", "null", "pindirs", "pc", "isr", "exec")
_MOV_SRC = ("pins", "x", "y", "null", "?", "status", "isr", "osr")


def disasm(instr: int, sideset_count: int = 0, side_en: bool = False) -> str:
    """One instruction as pioasm text: "out x, 32 side 0", "jmp x--, 1 side 1 [2]", "nop side 0"."""
    op = instr >> 13
    arg = instr & 0xFF
    field = (instr >> 8) & 0x1F
    delay_bits = 5 - sideset_count
    delay = field & ((1 << delay_bits) - 1)
    if op == 0:
        text = "jmp %s%d" % (_JMP_COND[(arg >> 5) & 7], arg & 0x1F)
    elif op == 3:
        text = "out %s, %d" % (_DEST[(arg >> 5) & 7], (arg & 0x1F) or 32)
    elif op == 4 and arg & 0x80:
        text = "pull" + (" ifempty" if arg & 0x40 else "") + (" block" if arg & 0x20 else " noblock")
    elif op == 7:
        text = "set %s, %d" % (_DEST[(arg >> 5) & 7], arg & 0x1F)
    elif op == 5 and arg == 0x42:
        text = "nop"
    elif op == 5:
        text = "mov %s, %s%s" % (_DEST[(arg >> 5) & 7], "~" if (arg >> 3) & 3 == 1 else "", _MOV_SRC[arg & 7])
    else:
        text = "? " + hex(instr)
    if sideset_count:
        side = field >> delay_bits
        if side_en:
            if side >> (sideset_count - 1):
                text += " side %d" % (side & ((1 << (sideset_count - 1)) - 1))
        else:
            text += " side %d" % side
    if delay:
        text += " [%d]" % delay
    return text
