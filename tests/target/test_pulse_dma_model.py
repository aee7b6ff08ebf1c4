"""The DMA model (fakehw/dma.py) and its rp2.DMA facade, as ports/rp2/rp2_dma.c and datasheet 2.5 say.

Runs under pytest and under the MicroPython VM (tests/target/run.py). Paced
transfers are checked from the PWM pin's edge list, not from the model's own
bookkeeping.
"""

from array import array

from picostim import fakehw
from picostim.fakehw import dma as fdma
from picostim.fakehw.dma import DMA
from picostim.fakehw.probe import pulses

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from picostim.fakehw.chip import Chip

    def expect_raises(exc_type: "type[BaseException]", fn: "Callable[..., object]", *args: object,
                      **kwargs: object) -> BaseException: ...
else:
    from _util import expect_raises

PWM_BASE = 0x40050000
SLICE1 = PWM_BASE + 0x14  # GPIO 2 / 3
US = 1000


def _chip() -> "Chip":
    return fakehw.install()


def _slice1(chip: "Chip", top: int, cc: int) -> None:
    """Slice 1 on GPIO 2 (channel A): DIV 1, TOP, CC, running; a period is (top + 1) * 8 ns."""
    chip.mem_write(SLICE1 + 0x04, 1 << 4)
    chip.mem_write(SLICE1 + 0x10, top)
    chip.mem_write(SLICE1 + 0x0C, cc)
    chip.gpio_set_function(2, 4)
    chip.mem_write(SLICE1 + 0x00, 1)


def test_pack_ctrl_default_is_rp2_dma_cs_and_fields_pack_and_unpack() -> None:
    _chip()
    d = DMA()
    assert d.channel == 0
    # DEFAULT_DMA_CONFIG | chain_to = own channel: quiet, PERMANENT, inc write/read, words, enabled.
    assert d.pack_ctrl() == 0x3F8039
    v = d.pack_ctrl(size=0, inc_write=False, treq_sel=25, chain_to=5, irq_quiet=False)
    u = DMA.unpack_ctrl(v)
    assert (u["size"], u["inc_write"], u["inc_read"], u["treq_sel"], u["chain_to"], u["irq_quiet"]) == (0, 0, 1, 25,
                                                                                                        5, 0)
    assert d.pack_ctrl(**u) == v  # unpack's output packs back (busy, ahb_err are read-only: ignored)
    assert d.pack_ctrl(default=0, enable=1) == 1
    e = expect_raises(ValueError, d.pack_ctrl, size=4)
    assert str(e) == "bad field value"
    expect_raises(TypeError, d.pack_ctrl, colour=1)


def test_claims_twelve_channels_then_ebusy_and_close_frees() -> None:
    _chip()
    chans = [DMA() for _ in range(12)]
    assert [c.channel for c in chans] == list(range(12))
    e = expect_raises(OSError, DMA)
    assert e.args[0] == 16  # EBUSY
    chans[3].close()
    assert DMA().channel == 3
    assert str(expect_raises(ValueError, chans[3].config, count=1)) == "channel closed"


def test_unpaced_memory_copy_with_increment_and_read_ring() -> None:
    _chip()
    d = DMA()
    src = bytearray(b"hello world!")
    dst = bytearray(12)
    d.config(read=src, write=dst, count=3, ctrl=d.pack_ctrl(), trigger=True)
    assert dst == src
    assert not d.active() and d.count == 0
    r0 = d.read
    assert r0 % 4 == 0
    # Read ring of 8 bytes (ring_size=3): a 2-word source repeats. Buffers are 16-byte aligned, as GC blocks.
    two = array("I", [0x11111111, 0x22222222])
    out = array("I", [0] * 5)
    d.config(read=two, write=out, count=5, ctrl=d.pack_ctrl(ring_size=3), trigger=True)
    assert list(out) == [0x11111111, 0x22222222, 0x11111111, 0x22222222, 0x11111111]
    assert d.read == fdma.block().address_of(two) + 4  # wrapped inside the ring
    # Half-word transfers into a non-incrementing byte buffer keep the last one.
    h = array("H", [1, 2, 3])
    last = bytearray(2)
    d.config(read=h, write=last, count=3, ctrl=d.pack_ctrl(size=1, inc_write=False), trigger=True)
    assert bytes(last) == b"\x03\x00"


def test_wrap_paced_transfers_write_cc_once_per_wrap_and_latch_at_the_next() -> None:
    chip = _chip()
    _slice1(chip, 999, 50)  # 8 us periods, 50 counts (400 ns) high
    d = DMA()
    words = array("I", [100, 200, 300, 400])
    ctrl = d.pack_ctrl(inc_write=False, treq_sel=fdma.DREQ_PWM_WRAP0 + 1)
    chip.clock.advance_to(20 * US)  # inside the period that started at 16 us
    fdma.block().write_reg(fdma.DBG_BASE + 0x40 * d.channel, 0)  # no credits from earlier wraps
    d.config(read=words, write=SLICE1 + 0x0C, count=4, ctrl=ctrl, trigger=True)
    assert d.active()
    chip.clock.advance_to(80 * US)
    assert not d.active()
    w = [f - r for r, f in pulses(chip.edges(2, 16 * US, 80 * US))]
    # Period from 16 us: 50 counts. Wrap at 24 us: word 100 written in that period, latched at 32 us.
    assert w == [400, 400, 800, 1600, 2400, 3200, 3200, 3200], w
    rises = [r for r, _f in pulses(chip.edges(2, 16 * US, 80 * US))]
    assert rises[:4] == [16 * US, 24 * US, 32 * US, 40 * US]


def test_credits_from_idle_wraps_fire_at_once_until_cleared() -> None:
    chip = _chip()
    _slice1(chip, 999, 50)
    d = DMA()
    sink = array("I", [0])
    blk = fdma.block()
    ch = blk.ch[d.channel]
    dbg = fdma.DBG_BASE + 0x40 * d.channel
    d.config(read=sink, write=SLICE1 + 0x0C, count=0,
             ctrl=d.pack_ctrl(inc_read=False, inc_write=False, treq_sel=fdma.DREQ_PWM_WRAP0 + 1))
    t = chip.clock.now_ns()
    chip.clock.advance_to(t + 10 * 8 * US)  # ten wraps while the channel is idle
    assert blk.read_reg(dbg) == 10
    n0 = blk.transfers
    d.config(count=4, trigger=True)  # triggers on TRANS_COUNT: four credits spent at once
    assert blk.transfers - n0 == 4 and not ch.busy
    assert blk.read_reg(dbg) == 6  # (facade calls cost 2 us of virtual time: read the block directly)
    chip.clock.advance_to(chip.clock.now_ns() + 100 * 8 * US)
    assert blk.read_reg(dbg) == fdma.CREDIT_MAX  # saturates
    chip.clock.advance_to(chip.pwm.next_wrap_ns(1, chip.clock.now_ns()) + 100)  # just after a wrap
    blk.write_reg(dbg, 0)
    d.config(count=2, trigger=True)
    assert ch.busy and blk.transfers - n0 == 4  # nothing until the next wrap
    chip.clock.advance_to(chip.clock.now_ns() + 2 * 8 * US)
    assert not ch.busy and blk.transfers - n0 == 6


def test_chain_restarts_through_al3_read_addr_trig_and_null_trigger_halts() -> None:
    chip = _chip()
    _slice1(chip, 999, 0)
    d = DMA()
    c = DMA()
    prog = array("I", [300, 0])  # one 2.4 us pulse every two periods
    d.config(read=prog, write=SLICE1 + 0x0C, count=2,
             ctrl=d.pack_ctrl(inc_write=False, treq_sel=fdma.DREQ_PWM_WRAP0 + 1, chain_to=c.channel))
    ctl = array("I", [d.read])
    # C copies ctl[0] into D's AL3_READ_ADDR_TRIG (register 15); a registers slice stands for its address.
    c.config(read=ctl, write=d.registers[15:16], count=1, ctrl=c.pack_ctrl(inc_read=False, inc_write=False))
    assert c.write == fdma.DMA_BASE + 0x40 * d.channel + fdma.AL3_READ_ADDR_TRIG
    t0 = chip.clock.now_ns()
    d.active(1)
    chip.clock.advance_to(t0 + 20 * 8 * US)
    assert d.active()
    n = len(pulses(chip.edges(2, t0, chip.clock.now_ns())))
    assert 8 <= n <= 10, n  # the 2-word program repeats: a pulse every other period
    ctl[0] = 0  # the next restart is a null trigger
    chip.clock.advance_to(chip.clock.now_ns() + 3 * 8 * US)
    assert not d.active()
    t1 = chip.clock.now_ns()
    chip.clock.advance_to(t1 + 10 * 8 * US)
    assert pulses(chip.edges(2, t1, chip.clock.now_ns())) == []  # ended on the idle word
    assert fdma.block().intr & (1 << d.channel)  # IRQ_QUIET: the null trigger raised the interrupt
    # registers[]: index by word, all four aliases.
    assert d.registers[2] == 0 and d.registers[3] & fdma.CTRL_EN and d.registers[4] == d.registers[3]


def test_abort_stops_a_paced_channel() -> None:
    chip = _chip()
    _slice1(chip, 999, 0)
    d = DMA()
    words = array("I", [100, 200, 300, 400])
    d.config(read=words, write=SLICE1 + 0x0C, count=4,
             ctrl=d.pack_ctrl(inc_write=False, treq_sel=fdma.DREQ_PWM_WRAP0 + 1), trigger=True)
    chip.clock.advance_to(chip.clock.now_ns() + 12 * US)
    blk = fdma.block()
    done = 4 - blk.ch[d.channel].count
    assert 1 <= done < 4
    blk.abort(d.channel)  # what d.active(0) does, without the 2 us a facade call costs
    assert not d.active() and d.count == 0
    t = chip.clock.now_ns() + 8 * US
    chip.clock.advance_to(t + 40 * US)
    w = {f - r for r, f in pulses(chip.edges(2, t, chip.clock.now_ns()))}
    assert w == {8 * words[done - 1]}, (w, done)  # the last word before the abort, and no later one


def test_bus_fault_on_sio_sets_write_error_and_halts() -> None:
    _chip()
    d = DMA()
    src = array("I", [1, 2])
    d.config(read=src, write=0xD0000014, count=2, ctrl=d.pack_ctrl(inc_write=False), trigger=True)
    u = DMA.unpack_ctrl(d.ctrl)
    assert (u["write_err"], u["ahb_err"], u["busy"]) == (1, 1, 0)
    assert "write error at 0xd0000014" in fdma.block().errors[-1]
    d.config(count=2, trigger=True)
    assert DMA.unpack_ctrl(d.ctrl)["busy"] == 0  # refuses to start until the error is cleared
    d.ctrl = d.pack_ctrl(default=d.ctrl, write_err=1)  # write 1 to clear
    assert DMA.unpack_ctrl(d.ctrl)["write_err"] == 0


def test_completion_irq_runs_the_handler() -> None:
    _chip()
    d = DMA()
    seen = []
    d.irq(lambda dma: seen.append(dma.channel))
    a = bytearray(4)
    b = bytearray(4)
    d.config(read=a, write=b, count=1, ctrl=d.pack_ctrl(irq_quiet=False), trigger=True)
    assert seen == [d.channel]
    d.config(read=a, write=b, count=1, ctrl=d.pack_ctrl(), trigger=True)  # quiet: no IRQ on completion
    assert seen == [d.channel]


def test_chip_reset_resets_the_block_and_claims() -> None:
    chip = _chip()
    _slice1(chip, 999, 0)
    d = DMA()
    words = array("I", [100] * 50)
    d.config(read=words, write=SLICE1 + 0x0C, count=50,
             ctrl=d.pack_ctrl(inc_write=False, treq_sel=fdma.DREQ_PWM_WRAP0 + 1), trigger=True)
    chip.clock.advance_to(chip.clock.now_ns() + 20 * US)
    chip.reset(3, "test")
    assert DMA().channel == 0  # claims are RAM state: gone
    n = fdma.block().transfers
    chip.clock.advance_to(chip.clock.now_ns() + 100 * US)
    assert fdma.block().transfers == n


def test_machine_mem32_reaches_the_same_dma_registers() -> None:
    """The firmware's mem32 and the rp2.DMA facade see one DMA block (CHn_READ_ADDR at 0x40 n)."""
    from picostim.fakehw.machine import mem32

    _chip()
    d = DMA()
    buf = array("I", [1, 2, 3])
    d.config(read=buf, write=SLICE1 + 0x0C, count=3, ctrl=d.pack_ctrl(treq_sel=0x3F))
    assert mem32[0x50000000 + 0x40 * d.channel] == d.read  # type: ignore[attr-defined]
    assert mem32[0x50000000 + 0x40 * d.channel + 0x04] == SLICE1 + 0x0C  # WRITE_ADDR
    mem32[0x50000000 + 0x40 * d.channel + 0x04] = SLICE1 + 0x10
    assert d.write == SLICE1 + 0x10  # type: ignore[attr-defined]
    d.close()
