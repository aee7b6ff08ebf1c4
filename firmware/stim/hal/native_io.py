# Viper builtins (ptr32) and the inline assembler's instructions are no Python names:
# mypy: ignore-errors
# ruff: noqa: F821
"""The two register sequences that bound the kill latency, as Thumb code: loaded only on the rp2 port.

- park(plan): the kill path (stim.hal.rp2040.KillPath), from a hard IRQ.
- commit(plan, chmask, dac_arm, kills): the tick's commit (stim.hal.outputs.ChannelOutputs.commit).
  It holds IRQs back itself (cpsid/cpsie, inline assembler), checks the kill count and makes the
  writes: the masked window an edge may have to wait for is a few hundred nanoseconds. Calling
  machine.disable_irq() and enable_irq() from Python around the same writes held IRQs back for
  ~40-75 us (measured on the silicon tier), nearly all of it call overhead.

As bytecode each `mem32[a] = v` costs about 4 us on a 125 MHz RP2040 (the
address is a boxed int): the 12 pads of stim4 took ~100 us from the edge.
Compiled by the viper emitter a whole plan takes a few microseconds (measured
on the silicon tier), allocates nothing and cannot raise, so it is safe in a
hard IRQ.

ptr32 and the assembler write raw memory: on a host VM (the model, tests/target) that would be
a wild write, so stim.hal imports this only when sys.platform is "rp2" and
otherwise makes the same writes, in the same order, through machine.mem32
(stim.hal.rp2040.park_mem32, stim.hal.outputs.ChannelOutputs.commit), holding IRQs back
with machine.disable_irq() around the commit.
"""

import micropython

# park's plan (stim.hal.rp2040.KillPath): [oe_reg, oe_mask, low, high, all, n, ctrl_0 .. ctrl_n-1]


@micropython.viper
def park(plan) -> int:  # plan: an array('I')
    p = ptr32(plan)  # a viper builtin
    ptr32(p[0])[0] = p[1]  # output-enable inactive first
    ptr32(0xD0000018)[0] = p[2]  # SIO OUT_CLR
    ptr32(0xD0000014)[0] = p[3]  # SIO OUT_SET
    ptr32(0xD0000024)[0] = p[4]  # SIO OE_SET
    n = int(p[5]) + 6
    i = 6
    while i < n:
        ptr32(p[i])[0] = 5  # FUNCSEL SIO: the pad follows SIO
        i += 1
    return 0


@micropython.asm_thumb
def commit(r0, r1, r2, r3):
    """commit(plan, chmask, dac_arm, kills) -> 1 if it went live, 0 if a kill fired (then nothing).

    With IRQs held back (cpsid): if kills[0] still equals plan[4], each channel with its bit in
    chmask goes live (trigger D, enable its PIO state machine, FUNCSEL PIO on pads A and B), then
    the DAC pads (FUNCSEL PWM) if dac_arm, then output-enable, then the charge pump's toggle if its
    mask is not 0 (so no kill can land between the check and the toggle). Plan: [oe_reg, oe_mask,
    n_channels, n_dac_pads, kills seen, DMA MULTI_CHAN_TRIGGER, SIO GPIO_OUT_XOR, pump mask, per
    channel (D's bit, PIO CTRL SET alias, machine bit, CTRL A, CTRL B, FUNCSEL), DAC pad CTRLs].
    r0 plan, r1 chmask (shifted right per channel), r2 dac_arm, r3 kills; r4-r7 scratch.
    """
    cpsid(i)  # IRQs held back: an edge from here waits for cpsie, a few hundred ns
    ldr(r4, [r0, 16])  # plan[4]: the kill count the tick saw
    ldr(r7, [r3, 0])  # the kill count now
    cmp(r7, r4)
    bne(KILLED)  # a kill fired since: nothing goes live
    ldr(r5, [r0, 8])
    mov(r6, r0)
    add(r6, 32)
    label(CHAN)
    cmp(r5, 0)
    beq(DACS)
    mov(r7, 1)
    and_(r7, r1)
    beq(NEXT)
    ldr(r3, [r0, 20])
    ldr(r4, [r6, 0])
    str(r4, [r3, 0])
    ldr(r3, [r6, 4])
    ldr(r4, [r6, 8])
    str(r4, [r3, 0])
    ldr(r4, [r6, 20])
    ldr(r3, [r6, 12])
    str(r4, [r3, 0])
    ldr(r3, [r6, 16])
    str(r4, [r3, 0])
    label(NEXT)
    lsr(r1, r1, 1)
    add(r6, 24)
    sub(r5, 1)
    b(CHAN)
    label(DACS)
    cmp(r2, 0)
    beq(OE)
    ldr(r5, [r0, 12])
    mov(r4, 4)
    label(DAC)
    cmp(r5, 0)
    beq(OE)
    ldr(r3, [r6, 0])
    str(r4, [r3, 0])
    add(r6, 4)
    sub(r5, 1)
    b(DAC)
    label(OE)
    ldr(r3, [r0, 0])
    ldr(r4, [r0, 4])
    str(r4, [r3, 0])
    ldr(r4, [r0, 28])  # plan[7]: the charge pump's mask, 0 for no toggle
    cmp(r4, 0)
    beq(PUMPED)
    ldr(r3, [r0, 24])  # plan[6]: SIO GPIO_OUT_XOR
    str(r4, [r3, 0])
    label(PUMPED)
    cpsie(i)
    mov(r0, 1)
    b(END)
    label(KILLED)
    cpsie(i)
    mov(r0, 0)
    label(END)
