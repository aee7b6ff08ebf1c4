"""USB OUT (host to device) on the emulated chip: a host with nothing to send sends nothing.

patches/usbout.mjs: rp2040js answered every OUT buffer the device armed with a zero-length
packet at once, so TinyUSB took a USB interrupt about 37 times a millisecond and the core
never slept. On silicon an idle REPL sleeps in WFE between USB frames.
"""

from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl

MS = 1_000_000


def busy_share(chip: Silicon, ns: int) -> float:
    a = chip.stats()
    chip.run_for(ns)
    b = chip.stats()
    return float(b["busy_ns"] - a["busy_ns"]) / float(b["now_ns"] - a["now_ns"])


def test_an_idle_repl_sleeps_and_input_still_arrives(repl: RawRepl, chip: Silicon) -> None:
    assert busy_share(chip, 200 * MS) < 0.05  # was 0.94 with the zero-length storm
    # Bytes sent after a long quiet spell reach the device whole and in order.
    text = "".join(chr(48 + i % 40) for i in range(700))
    assert repl.exec("print(len(%r), %r[-5:])" % (text, text)).strip() == "700 " + text[-5:]
    assert busy_share(chip, 200 * MS) < 0.05
