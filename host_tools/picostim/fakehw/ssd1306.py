"""SSD1306 128x64 OLED controller (Solomon Systech SSD1306 datasheet rev 1.1) on the model's I2C bus.

Attach it with `attach(chip, bus_id, address)`; the machine.I2C stand-in hands
it every write. It decodes what a driver sends, byte by byte, as the chip does:

- Every I2C write starts with a control byte: Co (bit 7) and D/C# (bit 6)
  (datasheet 8.1.5.2). Co = 1: one command or data byte follows, then another
  control byte; Co = 0: every following byte of the transaction is data
  (D/C# = 1) or command (D/C# = 0).
- Commands (datasheet 9, table 9-1) with their argument bytes, which may come
  in later transactions (micropython-lib's driver sends each byte in its own
  [0x80, byte] write): contrast 81h, entire display A4h/A5h, normal/inverse
  A6h/A7h, display off/on AEh/AFh, memory addressing mode 20h (00 horizontal,
  01 vertical, 10 page), column address 21h, page address 22h, page-mode
  column start 00h-0Fh/10h-1Fh and page start B0h-B7h, display start line
  40h-7Fh, segment remap A0h/A1h, multiplex ratio A8h, COM scan direction
  C0h/C8h, display offset D3h, COM pins D5h, clock D5h, pre-charge D9h, VCOMH
  DBh, NOP E3h, charge pump 8Dh (application note), IREF select ADh (SSD1306B),
  and the scroll commands (26h/27h/29h/2Ah/A3h with their arguments, 2Eh/2Fh:
  stored, the model does not scroll).
- Data bytes go to GDDRAM (8 pages of 128 columns, bit 0 the top row of the
  page) at the current page and column, which then advance as the addressing
  mode says (datasheet 10.1.3): horizontal: column, wrapping to the column
  start and the next page inside the 21h/22h window; vertical: page first;
  page mode: column only, from the page-mode start column, wrapping to it
  at column 127 on the same page.

`pixels()` is what the panel shows: GDDRAM through the display start line,
display offset, segment remap and COM scan direction, the multiplex ratio,
inverse and entire-on; all dark while the display is off, or while the
internal charge pump is off (no external VCC on these modules). With the
usual module wiring, segment remap A1h and COM scan C8h (what the driver
sets) show GDDRAM upright: pixel (x, y) is column x, row y.

`text()` reads the panel as 8x8 text cells with the framebuf font (MicroPython's
font_petme128_8x8, normal or inverse): what a person would read.
`ascii()` and `png()` draw the pixels. `writes` and `data_bytes` count the
traffic, `frames` records (time_ns, pages written) per data transaction.

Runs unchanged on CPython and on the MicroPython unix port (png() needs CPython's zlib).
"""

from . import framebuf as _fb

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from .clock import Clock

WIDTH = 128
PAGES = 8
HEIGHT = 64

# Commands with their number of argument bytes (datasheet table 9-1 and the charge-pump note).
_ARGS = {
    0x81: 1,  # contrast
    0x20: 1,  # memory addressing mode
    0x21: 2,  # column address
    0x22: 2,  # page address
    0xA8: 1,  # multiplex ratio
    0xD3: 1,  # display offset
    0xDA: 1,  # COM pins configuration
    0xD5: 1,  # display clock divide / oscillator
    0xD9: 1,  # pre-charge period
    0xDB: 1,  # VCOMH deselect level
    0x8D: 1,  # charge pump
    0xAD: 1,  # IREF select (SSD1306B)
    0x26: 6,  # right horizontal scroll setup
    0x27: 6,  # left horizontal scroll setup
    0x29: 5,  # vertical and right horizontal scroll setup
    0x2A: 5,  # vertical and left horizontal scroll setup
    0xA3: 2,  # vertical scroll area
}

HORIZONTAL = 0
VERTICAL = 1
PAGE = 2


class Ssd1306:
    """One SSD1306 with a 128x64 panel. Power-on state as the datasheet's reset values (8.9)."""

    def __init__(self, clock: "Optional[Clock]" = None, address: int = 0x3C) -> None:
        self.clock = clock
        self.address = address
        self.gddram = bytearray(WIDTH * PAGES)  # content at power-on is undefined; the model starts blank
        # Registers, at their reset values.
        self.display_on = False
        self.contrast = 0x7F
        self.entire_on = False
        self.inverse = False
        self.mode = PAGE  # memory addressing mode after reset: page
        self.col_start = 0
        self.col_end = WIDTH - 1
        self.page_start = 0
        self.page_end = PAGES - 1
        self.col = 0
        self.page = 0
        self.start_line = 0
        self.seg_remap = False
        self.mux = 63  # multiplex ratio - 1
        self.com_remap = False
        self.offset = 0
        self.com_pins = 0x12
        self.clock_div = 0x80
        self.precharge = 0x22
        self.vcomh = 0x20
        self.charge_pump = False
        self.iref = 0
        self.scroll_active = False
        self.scroll_setup: Tuple[int, ...] = ()
        # Command decoding state: the command waiting for arguments, and the arguments so far.
        self._cmd = -1
        self._args: List[int] = []
        # Traffic.
        self.writes = 0
        self.data_bytes = 0
        self.command_bytes = 0
        self.frames: List[Tuple[int, int]] = []  # (time_ns, bitmask of pages written) per data run
        self.last_write_ns = -1

    def _now(self) -> int:
        return self.clock.now_ns() if self.clock is not None else 0

    # -- I2C -------------------------------------------------------------------------
    def i2c_write(self, data: bytes) -> None:
        self.writes += 1
        self.last_write_ns = self._now()
        i = 0
        n = len(data)
        pages = 0
        while i < n:
            ctrl = data[i]
            i += 1
            if ctrl & 0x3F:
                raise ValueError("fakehw.ssd1306: control byte %s has bits 5..0 set (must be 0)" % hex(ctrl))
            is_data = bool(ctrl & 0x40)
            last = i + 1 if ctrl & 0x80 else n  # Co = 1: one byte, then a control byte
            last = min(last, n)
            while i < last:
                if is_data:
                    pages |= 1 << self._write_ram(data[i])
                    self.data_bytes += 1
                else:
                    self._command(data[i])
                    self.command_bytes += 1
                i += 1
        if pages:
            self.frames.append((self.last_write_ns, pages))

    def i2c_read(self, n: int) -> bytes:
        """Status byte reads (datasheet 8.1.5.2: D7 reserved, D6 display off)."""
        return bytes([0x40 if not self.display_on else 0x00] * n)

    # -- commands --------------------------------------------------------------------
    def _command(self, b: int) -> None:
        if self._cmd >= 0:
            self._args.append(b)
            if len(self._args) == _ARGS[self._cmd]:
                cmd = self._cmd
                self._cmd = -1
                self._with_args(cmd, self._args)
                self._args = []
            return
        if b in _ARGS:
            self._cmd = b
            self._args = []
            return
        if b <= 0x0F:  # page mode: lower nibble of the column start
            self.col_start = (self.col_start & 0xF0) | b
            self.col = self.col_start
        elif b <= 0x1F:  # page mode: upper nibble of the column start
            self.col_start = ((b & 0x07) << 4) | (self.col_start & 0x0F)
            self.col = self.col_start
        elif 0x40 <= b <= 0x7F:
            self.start_line = b & 0x3F
        elif b in (0xA0, 0xA1):
            self.seg_remap = b == 0xA1
        elif b in (0xA4, 0xA5):
            self.entire_on = b == 0xA5
        elif b in (0xA6, 0xA7):
            self.inverse = b == 0xA7
        elif b in (0xAE, 0xAF):
            self.display_on = b == 0xAF
        elif 0xB0 <= b <= 0xB7:
            self.page = b & 7
        elif b in (0xC0, 0xC8):
            self.com_remap = b == 0xC8
        elif b == 0x2E:
            self.scroll_active = False
        elif b == 0x2F:
            self.scroll_active = True
        elif b == 0xE3:
            pass  # NOP
        else:
            raise ValueError("fakehw.ssd1306: command byte %s is not an SSD1306 command" % hex(b))

    def _with_args(self, cmd: int, a: "List[int]") -> None:
        if cmd == 0x81:
            self.contrast = a[0]
        elif cmd == 0x20:
            if a[0] & 3 == 3:
                raise ValueError("fakehw.ssd1306: addressing mode 11b is invalid")
            self.mode = a[0] & 3
        elif cmd == 0x21:
            self.col_start = a[0] & 0x7F
            self.col_end = a[1] & 0x7F
            self.col = self.col_start
        elif cmd == 0x22:
            self.page_start = a[0] & 7
            self.page_end = a[1] & 7
            self.page = self.page_start
        elif cmd == 0xA8:
            if a[0] & 0x3F < 15:
                raise ValueError("fakehw.ssd1306: multiplex ratio %d is below 16" % ((a[0] & 0x3F) + 1))
            self.mux = a[0] & 0x3F
        elif cmd == 0xD3:
            self.offset = a[0] & 0x3F
        elif cmd == 0xDA:
            self.com_pins = a[0]
        elif cmd == 0xD5:
            self.clock_div = a[0]
        elif cmd == 0xD9:
            self.precharge = a[0]
        elif cmd == 0xDB:
            self.vcomh = a[0]
        elif cmd == 0x8D:
            self.charge_pump = bool(a[0] & 0x04)
        elif cmd == 0xAD:
            self.iref = a[0]
        else:
            a.insert(0, cmd)
            self.scroll_setup = tuple(a)

    # -- GDDRAM ---------------------------------------------------------------------
    def _write_ram(self, b: int) -> int:
        """Store one data byte at (page, col), advance the pointer; return the page written."""
        page = self.page
        self.gddram[page * WIDTH + self.col] = b
        if self.mode == HORIZONTAL:
            if self.col >= self.col_end:
                self.col = self.col_start
                self.page = self.page_start if self.page >= self.page_end else self.page + 1
            else:
                self.col += 1
        elif self.mode == VERTICAL:
            if self.page >= self.page_end:
                self.page = self.page_start
                self.col = self.col_start if self.col >= self.col_end else self.col + 1
            else:
                self.page += 1
        else:  # page mode: the column wraps to the page-mode start column, the page stays
            self.col = self.col_start if self.col >= WIDTH - 1 else self.col + 1
        return page

    def ram_pixel(self, col: int, row: int) -> int:
        return (self.gddram[(row >> 3) * WIDTH + col] >> (row & 7)) & 1

    # -- what the panel shows ---------------------------------------------------------
    def lit(self) -> bool:
        """The panel emits light at all: display on and the charge pump running."""
        return self.display_on and self.charge_pump

    def pixel(self, x: int, y: int) -> int:
        """1 if panel pixel (x, y) is lit; (0, 0) is the top left as the module is mounted."""
        if not self.lit() or not (0 <= x < WIDTH and 0 <= y < HEIGHT):
            return 0
        # Row y of the panel is COM y (module wiring: COM scan remapped shows RAM upright).
        com = y if self.com_remap else HEIGHT - 1 - y
        if com > self.mux:
            return 0  # rows past the multiplex ratio are not driven
        if self.entire_on:
            on = 1
        else:
            # The row counter starts at the display start line, shifted by the display offset.
            row = (com + self.offset + self.start_line) & 63
            col = x if self.seg_remap else WIDTH - 1 - x
            on = self.ram_pixel(col, row)
        return on ^ (1 if self.inverse else 0)

    def pixels(self) -> "List[bytearray]":
        """The panel as rows of 0/1, HEIGHT rows of WIDTH."""
        return [bytearray(self.pixel(x, y) for x in range(WIDTH)) for y in range(HEIGHT)]

    def ascii(self, on: str = "#", off: str = ".") -> str:
        return "\n".join("".join(on if p else off for p in row) for row in self.pixels())

    def text(self, rows: int = PAGES, cols: int = WIDTH // _fb.FONT_W) -> "List[str]":
        """The panel read as 8x8 character cells; '?' for a cell that is no glyph of the font."""
        px = self.pixels()
        out = []
        for r in range(rows):
            line = []
            for c in range(cols):
                line.append(_cell_char(px, c * _fb.FONT_W, r * _fb.FONT_H))
            out.append("".join(line))
        return out

    def png(self, scale: int = 4) -> bytes:
        """The panel as a PNG image (white on black as an OLED looks), scale x scale per pixel."""
        import struct
        import zlib

        px = self.pixels()
        raw = bytearray()
        for row in px:
            line = bytearray([0])  # filter: none
            for p in row:
                line.extend(b"\xff" * scale if p else b"\x00" * scale)
            for _ in range(scale):
                raw.extend(line)

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

        head = struct.pack(">IIBBBBB", WIDTH * scale, HEIGHT * scale, 8, 0, 0, 0, 0)  # 8-bit grey
        body = chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")
        return b"\x89PNG\r\n\x1a\n" + body


def _glyph_columns() -> "dict[bytes, str]":
    table: dict[bytes, str] = {}
    for code in range(32, 127):
        cols = bytes(_fb.FONT[(code - 32) * 8:(code - 32) * 8 + 8])
        table.setdefault(cols, chr(code))
    return table


_GLYPHS: "dict[bytes, str]" = {}


def _cell_char(px: "List[bytearray]", x0: int, y0: int) -> str:
    if not _GLYPHS:
        _GLYPHS.update(_glyph_columns())
    cols = bytearray(8)
    for j in range(8):
        v = 0
        for i in range(8):
            if y0 + i < len(px) and x0 + j < len(px[0]) and px[y0 + i][x0 + j]:
                v |= 1 << i
        cols[j] = v
    ch = _GLYPHS.get(bytes(cols))
    if ch is None:  # inverse video: the glyph drawn dark on a lit cell
        ch = _GLYPHS.get(bytes(c ^ 0xFF for c in cols))
    return ch if ch is not None else "?"


def attach(chip: "Any", bus_id: int = 0, address: int = 0x3C) -> Ssd1306:
    """Put a fresh SSD1306 on chip's I2C bus bus_id at address; return it."""
    dev = Ssd1306(chip.clock, address)
    chip.i2c_devices[(bus_id, address)] = dev
    return dev
