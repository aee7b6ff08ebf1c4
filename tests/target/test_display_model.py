"""The SSD1306 model (fakehw/ssd1306.py), the I2C bus time and fakehw's framebuf.

Runs under pytest and under the MicroPython VM (tests/target/run.py). On the
VM, fakehw.framebuf is compared pixel for pixel with MicroPython's own C
framebuf, font included.
"""

import sys

from picostim import fakehw
from picostim.fakehw import framebuf as fakefb
from picostim.fakehw import ssd1306 as model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List

    def expect_raises(exc_type: "type[BaseException]", fn: "Callable[..., object]", *args: object,
                      **kwargs: object) -> BaseException: ...
else:
    from _util import expect_raises

ON_MPY = sys.implementation.name == "micropython"


def _cmds(dev: model.Ssd1306, *cmds: int) -> None:
    """Commands as micropython-lib's driver sends them: one [0x80, byte] write each."""
    for c in cmds:
        dev.i2c_write(bytes([0x80, c]))


def _lit(dev: model.Ssd1306) -> model.Ssd1306:
    _cmds(dev, 0x8D, 0x14, 0xA1, 0xC8, 0xAF)  # charge pump on, upright, display on
    return dev


def test_reset_state_is_page_mode_and_dark() -> None:
    dev = model.Ssd1306()
    assert dev.mode == model.PAGE and not dev.lit()
    dev.gddram[0] = 0xFF
    assert dev.pixel(0, 0) == 0  # display off: nothing lit
    _lit(dev)
    assert [dev.pixel(0, y) for y in range(9)] == [1] * 8 + [0]


def test_horizontal_mode_wraps_columns_then_pages_inside_the_window() -> None:
    dev = _lit(model.Ssd1306())
    _cmds(dev, 0x20, 0x00, 0x21, 10, 12, 0x22, 2, 3)
    dev.i2c_write(bytes([0x40]) + bytes(range(1, 8)))  # 3 columns x 2 pages, then wraps to (page 2, col 10)
    g = dev.gddram
    assert [g[2 * 128 + c] for c in (10, 11, 12)] == [7, 2, 3]
    assert [g[3 * 128 + c] for c in (10, 11, 12)] == [4, 5, 6]
    assert dev.frames[-1][1] == 0b1100


def test_vertical_mode_walks_pages_first() -> None:
    dev = _lit(model.Ssd1306())
    _cmds(dev, 0x20, 0x01, 0x21, 0, 1, 0x22, 0, 1)
    dev.i2c_write(bytes([0x40, 1, 2, 3, 4]))
    g = dev.gddram
    assert (g[0], g[128], g[1], g[129]) == (1, 2, 3, 4)


def test_page_mode_uses_the_nibble_column_and_wraps_on_the_same_page() -> None:
    dev = _lit(model.Ssd1306())
    _cmds(dev, 0x20, 0x02, 0xB5, 0x0E, 0x17)  # page 5, column 0x7E
    dev.i2c_write(bytes([0x40, 0xA, 0xB, 0xC]))
    g = dev.gddram
    assert (g[5 * 128 + 126], g[5 * 128 + 127], g[5 * 128 + 126]) == (0xC, 0xB, 0xC)  # 127 -> back to 126


def test_control_byte_co_bit_mixes_commands_and_data_in_one_write() -> None:
    dev = _lit(model.Ssd1306())
    _cmds(dev, 0x20, 0x00)
    # Co=1 D/C#=0: one command; Co=1: its two arguments; Co=0 D/C#=1: data to the end.
    dev.i2c_write(bytes([0x80, 0x21, 0x80, 5, 0x80, 6, 0x80, 0x22, 0x80, 1, 0x80, 1, 0x40, 0x11, 0x22]))
    assert (dev.gddram[128 + 5], dev.gddram[128 + 6]) == (0x11, 0x22)
    assert dev.data_bytes == 2
    expect_raises(ValueError, dev.i2c_write, bytes([0x81, 0x00]))  # control byte with low bits set
    expect_raises(ValueError, dev.i2c_write, bytes([0x00, 0x99]))  # not an SSD1306 command


def test_panel_mapping_follows_remap_scan_offset_start_line_and_inverse() -> None:
    dev = _lit(model.Ssd1306())
    dev.gddram[3] = 0x01  # column 3, row 0
    assert dev.pixel(3, 0) == 1
    _cmds(dev, 0xA0)  # segment remap off: the image mirrors
    assert dev.pixel(124, 0) == 1 and dev.pixel(3, 0) == 0
    _cmds(dev, 0xA1, 0xC0)  # COM scan normal: it flips
    assert dev.pixel(3, 63) == 1
    _cmds(dev, 0xC8, 0x41)  # start line 1: RAM row 0 scrolls off the top
    assert dev.pixel(3, 63) == 1 and dev.pixel(3, 0) == 0
    _cmds(dev, 0x40, 0xD3, 62)  # offset 62: RAM row 0 shows on panel row 2
    assert dev.pixel(3, 2) == 1
    _cmds(dev, 0xD3, 0, 0xA7)
    assert dev.pixel(3, 0) == 0 and dev.pixel(4, 0) == 1  # inverse
    _cmds(dev, 0xA6, 0xA5)
    assert dev.pixel(100, 50) == 1  # entire display on
    _cmds(dev, 0xA4, 0xA8, 31)  # 32 multiplex: rows 32.. are not driven
    dev.gddram[5 * 128] = 0xFF
    assert dev.pixel(0, 40) == 0


def test_text_reads_normal_and_inverse_cells_back() -> None:
    dev = _lit(model.Ssd1306())
    buf = bytearray(1024)
    fb = fakefb.FrameBuffer(buf, 128, 64, fakefb.MONO_VLSB)
    fb.text("Hi 42 mA", 0, 0, 1)
    fb.fill_rect(0, 8, 128, 8, 1)
    fb.text("FAULT", 8, 8, 0)
    _cmds(dev, 0x20, 0x00, 0x21, 0, 127, 0x22, 0, 7)
    dev.i2c_write(b"\x40" + bytes(buf))
    t = dev.text()
    assert t[0] == "Hi 42 mA        " and t[1] == " FAULT          " and t[2] == " " * 16
    fb.pixel(0, 20, 1)  # a cell that is no glyph
    dev.i2c_write(b"\x40" + bytes(buf))
    assert dev.text()[2][0] == "?"


def test_png_has_the_panel_size_and_its_lit_pixels() -> None:
    if ON_MPY:
        return  # png() needs CPython's zlib
    import struct
    import zlib

    dev = _lit(model.Ssd1306())
    dev.gddram[0] = 0x0F
    png = dev.png(scale=2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", png[16:24])
    assert (w, h) == (256, 128)
    idat = png.index(b"IDAT")
    (n,) = struct.unpack(">I", png[idat - 4:idat])
    raw = zlib.decompress(png[idat + 4:idat + 4 + n])
    assert raw.count(b"\xff") == 4 * 2 * 2  # 4 lit pixels, each 2 x 2


def test_i2c_transfers_take_bus_time() -> None:
    """A write blocks for START, address, every byte (8 bits + ACK) and STOP at the SCL period."""
    chip = fakehw.install()
    model.attach(chip, 0, 0x3C)
    machine = __import__("machine")
    i2c = machine.I2C(0, scl=machine.Pin(17), sda=machine.Pin(16), freq=400_000)
    bit_ns = 313 * 8  # pico-sdk: round(125 MHz / 400 kHz) = 313 cycles of 8 ns
    t = chip.clock.now_ns()
    i2c.writeto(0x3C, bytes([0x40]) + bytes(1024))  # a whole frame in one write
    dt = chip.clock.now_ns() - t
    bus = bit_ns * (9 * (1 + 1025) + 2)
    assert bus <= dt <= bus + 10_000  # plus the model's call cost
    assert 23_000_000 < dt < 26_000_000  # ~25 ms: why stim.hal.oled sends one page per tick
    t = chip.clock.now_ns()
    expect_raises(OSError, i2c.writeto, 0x3D, b"\x00")  # no device: NAK after the address byte
    assert chip.clock.now_ns() - t >= bit_ns * 11


def _draw(m: "Any") -> bytes:
    b = bytearray(128 * 8)
    fb = m.FrameBuffer(b, 128, 64, m.MONO_VLSB)
    fb.fill(0)
    fb.text("Hello, World! 0123 ~\x7f\xe9", -3, 5, 1)
    fb.text(b"bytes", 0, 56)
    fb.fill_rect(10, 20, 30, 9, 1)
    fb.text("inv", 12, 21, 0)
    fb.rect(-5, 40, 50, 30, 1)
    fb.rect(60, 30, 20, 10, 1, True)
    fb.hline(0, 63, 200, 1)
    fb.vline(127, -10, 30, 1)
    fb.line(0, 0, 127, 50, 1)
    fb.line(100, 60, 90, 2, 1)
    fb.pixel(3, 3, 1)
    s = bytearray(16)
    sf = m.FrameBuffer(s, 8, 16, m.MONO_VLSB)
    sf.text("Q", 0, 3)
    fb.blit(sf, 120, 58)
    fb.blit(sf, -2, -5, 0)
    fb.scroll(3, -2)
    h = bytearray(16 * 4)
    hf = m.FrameBuffer(h, 10, 4, m.MONO_HLSB)
    hf.text("AB", 0, -2)
    fb.blit(hf, 50, 50)
    return bytes(b) + bytes(h) + bytes([fb.pixel(60, 30), 255 if fb.pixel(200, 0) is None else 0])


def test_fake_framebuf_draws_as_micropythons_framebuf() -> None:
    mine = _draw(fakefb)
    if ON_MPY:
        assert mine == _draw(__import__("framebuf"))  # the real C module
    # Checks that hold on either interpreter: the font's 'A' and the clipping rules.
    b = bytearray(8)
    fb = fakefb.FrameBuffer(b, 8, 8, fakefb.MONO_VLSB)
    fb.text("A", 0, 0)
    assert bytes(b) == bytes([0x00, 0x7C, 0x7E, 0x0B, 0x0B, 0x7E, 0x7C, 0x00])
    assert fb.pixel(8, 0) is None and fb.pixel(-1, 0) is None
    expect_raises(ValueError, fakefb.FrameBuffer, bytearray(7), 8, 8, fakefb.MONO_VLSB)
    expect_raises(TypeError, fb.text, bytearray(b"x"), 0, 0)
    assert len(fakefb.FONT) == 96 * 8
    glyphs: "List[bytes]" = [bytes(fakefb.FONT[i * 8:i * 8 + 8]) for i in range(96)]
    assert glyphs[0] == bytes(8) and glyphs[95] == bytes([0xAA, 0x55] * 4)  # space, and 127's checkerboard
