"""patches/i2c.mjs and i2c_mcp4728.mjs: an MCP4728 DAC on the board's I2C bus, written by MicroPython.

The bus takes SCL time (IC_FS_SCL_HCNT + LCNT cycles per bit), an absent address NAKs at once,
and the DAC records each output update at the ACK that latches it.
"""

import itertools
import json
from pathlib import Path

from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl

ROOT = Path(__file__).resolve().parents[2]
BOARD = json.loads((ROOT / "boards" / "stim4.json").read_text())
BUS = BOARD["i2c"]["i2c0"]  # id 0, SDA 16, SCL 17, 400 kHz: where an MCP4728 would sit on stim4
BIT_NS = 2_504  # one SCL period at MicroPython's 399361 Hz

CALL = """
def call(f, *a):
    t0 = time.ticks_us()
    try:
        r = f(*a)
    except OSError as e:
        r = 'OSError %d' % e.errno
    print(repr(r), time.ticks_diff(time.ticks_us(), t0))
"""


def call(repl: RawRepl, expr: str) -> tuple[str, int]:
    """Run call(...) on the board: (repr of the result or 'OSError n', microseconds)."""
    out = repl.exec("call(%s)" % expr).strip()
    result, _, us = out.rpartition(" ")
    return result, int(us)


def test_absent_target_naks_at_once(chip: Silicon, repl: RawRepl) -> None:
    repl.exec("import time\nfrom machine import I2C, Pin\n" + CALL)
    repl.exec("i = I2C(%d, sda=Pin(%d), scl=Pin(%d), freq=%d)" % (BUS["id"], BUS["sda"], BUS["scl"], BUS["freq"]))
    # Nothing attached yet: the address NAKs, EIO after one START + address byte (rp2040js
    # without the patch spun to the 50 ms timeout and raised ETIMEDOUT).
    result, us = call(repl, "i.writeto, 0x60, b'\\x40\\x08\\x00'")
    assert result == "'OSError 5'" and us < 1_000


def test_target_answers_only_on_its_pins(chip: Silicon, repl: RawRepl) -> None:
    chip.attach_mcp4728(BUS["id"], sda=BUS["sda"], scl=BUS["scl"])
    assert chip.dac() == ([], [0, 0, 0, 0])
    # I2C0 muxed to GPIO 4/5 only (16/17 back to plain inputs): the DAC on 16/17 does not see it
    repl.exec("Pin(%d, Pin.IN)\nPin(%d, Pin.IN)" % (BUS["sda"], BUS["scl"]))
    repl.exec("j = I2C(0, sda=Pin(4), scl=Pin(5), freq=400000)")
    assert call(repl, "j.writeto, 0x60, b'\\x40\\x08\\x00'")[0] == "'OSError 5'"
    repl.exec("i = I2C(%d, sda=Pin(%d), scl=Pin(%d), freq=%d)" % (BUS["id"], BUS["sda"], BUS["scl"], BUS["freq"]))
    assert call(repl, "i.writeto, 0x60, b'\\x40\\x08\\x00'")[0] == "3"
    assert call(repl, "i.writeto, 0x61, b'\\x40\\x08\\x00'")[0] == "'OSError 5'"  # other addresses NAK
    assert call(repl, "i.readfrom, 0x3c, 1")[0] == "'OSError 5'"
    records, codes = chip.dac()
    assert [r[1:] for r in records] == [(0, 2048, 0)] and codes == [2048, 0, 0, 0]


def test_multi_write_latches_each_channel_at_its_ack(chip: Silicon, repl: RawRepl) -> None:
    chip.dac()
    before = chip.now_ns
    result, us = call(repl, "i.writeto, 0x60, bytes([0x42, 0x01, 0x23, 0x44, 0x9f, 0xff, 0x47, 0x00, 0x07])")
    assert result == "9"
    records, codes = chip.dac()
    # channel B, then C (VREF bit set: internal reference), then D with UDAC = 1 (LDAC is
    # tied low, so its output follows all the same)
    assert [r[1:] for r in records] == [(1, 0x123, 0), (2, 0xFFF, 0), (3, 7, 0)]
    assert codes == [2048, 0x123, 0xFFF, 7]
    assert before < records[0][0] < records[1][0] < records[2][0] < chip.now_ns
    # three bytes of 9 SCL periods between latches (plus pico-sdk's turn per byte)
    for a, b in itertools.pairwise(records):
        assert 27 * BIT_NS <= b[0] - a[0] < 27 * BIT_NS + 10_000
    # START + address + 9 bytes + STOP at 400 kHz is 227 us of bus time
    assert 227 < us < 600


def test_fast_write_and_read_back(chip: Silicon, repl: RawRepl) -> None:
    chip.dac()
    # Fast Write: A = 0x0ab, B = 0x3ff powered down (PD = 01), C = 0, D = 0xfff
    assert call(repl, "i.writeto, 0x60, bytes([0x00, 0xab, 0x13, 0xff, 0x00, 0x00, 0x0f, 0xff])")[0] == "8"
    records, _ = chip.dac()
    assert [r[1:] for r in records] == [(0, 0x0AB, 0), (1, 0x3FF, 1), (2, 0, 0), (3, 0xFFF, 0)]
    for a, b in itertools.pairwise(records):
        assert 18 * BIT_NS <= b[0] - a[0] < 18 * BIT_NS + 10_000
    out = repl.exec("print(list(i.readfrom(0x60, 24)))").strip()
    data = json.loads(out)
    regs = [data[6 * ch:6 * ch + 3] for ch in range(4)]  # input registers (EEPROM follows each)
    # fast write keeps VREF and gain (C has VREF = 1, gain 2 from the multi-write)
    assert regs == [[0xC0, 0x00, 0xAB], [0xD0, 0x23, 0xFF], [0xE0, 0x90, 0x00], [0xF0, 0x0F, 0xFF]]
    assert [data[6 * ch + 3:6 * ch + 6] for ch in range(4)] == [[0xC0 | ch << 4, 0, 0] for ch in range(4)]


def test_firmware_mcp4728_driver(chip: Silicon, repl: RawRepl) -> None:
    """firmware/stim/hal/dac.py's Mcp4728Dac, as shipped, against the model."""
    repl.exec("import os\nfor d in ('stim', 'stim/hal'):\n    try:\n        os.mkdir(d)\n"
              "    except OSError:\n        pass")
    repl.put_file("stim/__init__.py", b"")
    repl.put_file("stim/hal/__init__.py", b"")
    repl.put_file("stim/boardspec.py", b"def pwm_slice(pin):\n    return (pin >> 1) & 7\n")
    repl.put_file("stim/hal/dac.py", (ROOT / "firmware" / "stim" / "hal" / "dac.py").read_bytes())
    chip.dac()
    repl.exec("from stim.hal.dac import Mcp4728Dac\n"
              "class O:\n    def __init__(self, **k):\n"
              "        for n, v in k.items():\n            setattr(self, n, v)\n"
              "board = O(amplitude=O(bus='i2c0', address=0x60, code_max=4095),"
              " channels=[O(amp=a) for a in (3, 2, 1, 0)])\n"
              "dac = Mcp4728Dac(board, i)")
    records, codes = chip.dac()
    assert [r[1:] for r in records] == [(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0)]  # init: all on, 0
    repl.exec("dac.set_code(0, 1234)\ndac.set_code(2, 5000)")  # channel 0 -> output D; 5000 clamps
    records, codes = chip.dac()
    assert [r[1:] for r in records] == [(3, 1234, 0), (1, 4095, 0)] and codes == [0, 4095, 0, 1234]
    repl.exec("dac.zero_all()")
    records, codes = chip.dac()
    assert [r[1:] for r in records] == [(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0)] and codes == [0] * 4
    # the kill path's zero_all: one Fast Write, all four outputs at 0 within 8 bytes of bus time
    assert records[3][0] - records[0][0] < 3 * 18 * BIT_NS + 10_000


def test_registers_survive_a_reset_and_a_power_cut_loads_eeprom(chip: Silicon, repl: RawRepl) -> None:
    # Sequential Write from channel C: C and D input registers and EEPROM
    assert call(repl, "i.writeto, 0x60, bytes([0x54, 0x01, 0x11, 0x02, 0x22])")[0] == "5"
    assert chip.dac()[1] == [0, 0, 0x111, 0x222]
    resets = len(chip.stats()["resets"])
    chip.write(b"import machine\nmachine.reset()\x04")
    chip.run_for(300_000_000)
    assert len(chip.stats()["resets"]) == resets + 1
    assert chip.dac() == ([], [0, 0, 0x111, 0x222])  # a chip reset leaves the DAC alone
    chip.power_cut(10_000_000)
    records, codes = chip.dac()
    assert codes == [0, 0, 0x111, 0x222]  # EEPROM, loaded at power-on
    assert [r[1:] for r in records] == [(0, 0, 0), (1, 0, 0), (2, 0x111, 0), (3, 0x222, 0)]
    assert all(r[0] == chip.now_ns for r in records)
