"""The two register sequences that bound the kill latency, as Thumb code: loaded only on the rp2 port.

- park(plan): the kill path (stim.hal.rp2040.KillPath), from a hard IRQ.
- go_live(plan, mask): the tick's commit (stim.hal.outputs.ChannelOutputs.commit), with IRQs held
  back; its length is the masked window an edge may have to wait for.

As bytecode each `mem32[a] = v` costs about 4 us on a 125 MHz RP2040 (the
address is a boxed int): the 12 pads of stim4 took ~100 us from the edge.
Compiled by the viper emitter a whole plan takes a few microseconds (measured
on the silicon tier), allocates nothing and cannot raise, so it is safe in a
hard IRQ.

ptr32 writes raw memory: on a host VM (the model, tests/target) that would be
a wild write, so stim.hal imports this only when sys.platform is "rp2" and
otherwise makes the same writes, in the same order, through machine.mem32
(stim.hal.rp2040.park_mem32, stim.hal.outputs.ChannelOutputs.commit).
"""

import micropython

# park's plan (stim.hal.rp2040.kill_plan): [oe_reg, oe_mask, low, high, all, n, ctrl_0 .. ctrl_n-1]
# go_live's plan (stim.hal.outputs.ChannelOutputs): [oe_reg, oe_mask, n_channels, n_dac_pads,
#   per channel (D's trigger bit, CSR, CSR value, CTRL A, CTRL B), the DAC pads' CTRL ...]


@micropython.viper
def park(plan) -> int:  # type: ignore[no-untyped-def]  # viper: plan is an array('I')
    p = ptr32(plan)  # type: ignore[name-defined]  # noqa: F821 - a viper builtin
    ptr32(p[0])[0] = p[1]  # type: ignore[name-defined]  # noqa: F821 - output-enable inactive first
    ptr32(0xD0000018)[0] = p[2]  # type: ignore[name-defined]  # noqa: F821 - SIO OUT_CLR
    ptr32(0xD0000014)[0] = p[3]  # type: ignore[name-defined]  # noqa: F821 - SIO OUT_SET
    ptr32(0xD0000024)[0] = p[4]  # type: ignore[name-defined]  # noqa: F821 - SIO OE_SET
    n = int(p[5]) + 6
    i = 6
    while i < n:
        ptr32(p[i])[0] = 5  # type: ignore[name-defined]  # noqa: F821 - FUNCSEL SIO: the pad follows SIO
        i += 1
    return 0


@micropython.viper
def go_live(plan, chmask: int, dac_arm: int) -> int:  # type: ignore[no-untyped-def]
    """Each channel with its bit in chmask goes live; then the DAC pads if dac_arm; output-enable on last."""
    p = ptr32(plan)  # type: ignore[name-defined]  # noqa: F821 - a viper builtin
    nch = int(p[2])
    ch = 0
    while ch < nch:
        if chmask & (1 << ch):
            w = 4 + 5 * ch
            ptr32(0x50000430)[0] = p[w]  # type: ignore[name-defined]  # noqa: F821 - trigger D
            ptr32(p[w + 1])[0] = p[w + 2]  # type: ignore[name-defined]  # noqa: F821 - slice runs from 0
            ptr32(p[w + 3])[0] = 4  # type: ignore[name-defined]  # noqa: F821 - FUNCSEL PWM, pad A
            ptr32(p[w + 4])[0] = 4  # type: ignore[name-defined]  # noqa: F821 - FUNCSEL PWM, pad B
        ch += 1
    if dac_arm:
        i = 4 + 5 * nch
        n = i + int(p[3])
        while i < n:
            ptr32(p[i])[0] = 4  # type: ignore[name-defined]  # noqa: F821 - FUNCSEL PWM, DAC pad
            i += 1
    ptr32(p[0])[0] = p[1]  # type: ignore[name-defined]  # noqa: F821 - output-enable active last
    return 0
