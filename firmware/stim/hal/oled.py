"""The SSD1306 OLED on the board's I2C bus: stim.display's screen, drawn with the ssd1306 driver.

The driver is MicroPython's ssd1306 (firmware/lib/ssd1306.py, /lib on the
board): Oled builds its SSD1306_I2C, which sends the init sequence and one
blank frame, and then draws into the driver's framebuffer with the framebuf
font and sends it through the driver's write_cmd/write_data.

Refresh policy. The loop calls `service()` once per tick, after the
controller's tick, and it never costs the tick its period:
- every tick the screen latches that tick's alert (allocation-free);
- at most every REFRESH_MS the screen is composed from the state; only when
  a text row changed is it drawn into the framebuffer (and marked pending);
- at most one CHUNK (16 bytes, an eighth of a page) per tick goes on the
  bus, in one I2C transaction of about 0.45 ms at 400 kHz; a page's first
  chunk follows its column and page address (six 2-byte command writes,
  ~0.4 ms). The SSD1306 carries on at the next column, so a page is eight
  ticks and a whole frame (1 KB, ~25 ms in one go) 64 ticks. A text row is
  exactly one page, so a change of one row shows within 80 ms.
Why so small: the loop's tick has a 2 ms budget on silicon (issue 12), and an
MCP4728 on the same bus can only be zeroed between two transactions (the
kill path schedules it, stim.hal.rp2040.KillPath): a 128-byte page held
that for 3.4 ms. So nothing on the display's path can hold the loop anywhere
near the watchdog's 100 ms, and with nothing changing, service() allocates
nothing and sends nothing.

An I2C error (display unplugged, bus stuck) switches the display off for
good: it is no safety function. `error` says why; the loop reports it once
as an alert.
"""

import ssd1306  # type: ignore[import-not-found]  # firmware/lib/ssd1306.py: vendored, untyped
from machine import I2C, Pin
from micropython import const

from stim import display as _display
from stim import ticks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

    from stim.boardspec import Board

REFRESH_MS = const(200)  # the screen is composed at most this often
_DIGITS = tuple("0123456789")  # the clock's glyphs, made once
CHUNK = const(16)  # data bytes per tick on the bus
_SET_COL_ADDR = const(0x21)
_SET_PAGE_ADDR = const(0x22)


class Oled:
    """The board's display (board.display); `screen` is what it shows."""

    def __init__(self, board: "Board", i2c: "Optional[Any]" = None) -> None:
        d = board.display
        if d is None:
            raise ValueError("display: the board file declares none")
        if i2c is None:
            bus = board.i2c[d.bus]
            i2c = I2C(bus.id, scl=Pin(bus.scl), sda=Pin(bus.sda), freq=bus.freq)
        self.width = d.width
        self.pages = d.height // 8
        self.drv: "Any" = ssd1306.SSD1306_I2C(d.width, d.height, i2c, d.address)  # init and a blank frame
        self.screen = _display.Screen(len(board.channels), d.width // _display.FONT_PX, self.pages)
        mv = memoryview(self.drv.buffer)
        # Each page's chunks, made now so that sending allocates nothing.
        self._chunks: "Tuple[Tuple[Any, ...], ...]" = tuple(
            tuple(mv[p * d.width + i:p * d.width + min(i + CHUNK, d.width)] for i in range(0, d.width, CHUNK))
            for p in range(self.pages))
        self.pending = 0  # bit p: page p drawn, not yet (wholly) sent
        self._ink = 1  # the colour of the row being drawn (_draw_row)
        self._sending = -1  # the page whose chunks are going out, -1 between pages
        self._next = 0  # its next chunk
        self.pages_sent = 0
        self.error: "Optional[str]" = None
        self._last_ms = 0
        self._fresh = True  # nothing composed yet

    def service(self, now_ms: int, sup: "Any", panel: "Any", program: "Any") -> None:
        """One tick's share of the display work (see the module doc). Never raises."""
        try:
            self.service_unguarded(now_ms, sup, panel, program)
        except Exception as e:  # noqa: BLE001 - a display problem never stops the loop
            self.crashed(e)

    def service_unguarded(self, now_ms: int, sup: "Any", panel: "Any", program: "Any") -> None:
        """service() without its guard, for a caller whose own try calls crashed() (stim.app.run)."""
        if self.error is not None:
            return
        self.screen.observe(now_ms, sup)
        if self.pending:
            self._send_one()
            return
        if not self._fresh and ticks.diff(now_ms, self._last_ms) < REFRESH_MS:
            return
        self._fresh = False
        self._last_ms = now_ms
        if self.screen.compose(sup, panel, program):
            self._draw()

    def crashed(self, e: Exception) -> None:
        """The display failed: off for good (it is no safety function); `error` says why."""
        self.error = "display: " + repr(e)

    def _draw(self) -> None:
        """Draw the screen's changed rows into the framebuffer; mark their pages pending. When only
        the clock moved (once a second in a session), only its field is drawn again."""
        scr = self.screen
        d = scr.dirty
        if d == 1 and scr.clock_only and scr.clock >= 0:
            self._draw_clock_field()
        else:
            r = 0
            while d:  # the dirty rows only: a pass over all eight cost ~0.15 ms on silicon
                if d & 1:
                    self._draw_row(r)
                d >>= 1
                r += 1
        scr.dirty = 0
        scr.clock_only = False

    def _draw_clock_field(self) -> None:
        inv = self.screen.inverse & 1
        self._ink = 1 - inv
        px = _display.FONT_PX
        self.drv.fill_rect(self.screen.clock_col * px, 0, 5 * px, px, inv)
        self._draw_clock(0)
        self.pending |= 1

    def _draw_row(self, r: int) -> None:
        inv = (self.screen.inverse >> r) & 1
        y = r * _display.FONT_PX
        self.drv.fill_rect(0, y, self.width, _display.FONT_PX, inv)
        self._ink = 1 - inv
        self.drv.text(self.screen.lines[r], 0, y, self._ink)
        if r == 0 and self.screen.clock >= 0:
            self._draw_clock(y)
        self.pending |= 1 << r

    def _draw_clock(self, y: int) -> None:
        """Row 0's clock ("MM:SS", minutes space-padded) into its blank field, a glyph at a time from
        preallocated one-character strings: the countdown allocates nothing (stim.display.Screen)."""
        s = self.screen.clock
        col = self.screen.clock_col
        m = s // 60
        if m >= 10:
            self._glyph(_DIGITS[m // 10 % 10], col, y)
        self._glyph(_DIGITS[m % 10], col + 1, y)
        self._glyph(":", col + 2, y)
        self._glyph(_DIGITS[s % 60 // 10], col + 3, y)
        self._glyph(_DIGITS[s % 10], col + 4, y)

    def _glyph(self, ch: str, col: int, y: int) -> None:
        self.drv.text(ch, col * _display.FONT_PX, y, self._ink)

    def _send_one(self) -> None:
        """Send the next chunk of the lowest pending page (its address window first)."""
        drv = self.drv
        p = self._sending
        if p < 0:
            p = 0
            while not self.pending & (1 << p):
                p += 1
            drv.write_cmd(_SET_COL_ADDR)
            drv.write_cmd(0)
            drv.write_cmd(self.width - 1)
            drv.write_cmd(_SET_PAGE_ADDR)
            drv.write_cmd(p)
            drv.write_cmd(p)
            self._sending = p
            self._next = 0
        chunks = self._chunks[p]
        drv.write_data(chunks[self._next])
        self._next += 1
        if self._next >= len(chunks):
            self.pending &= ~(1 << p)
            self._sending = -1
            self.pages_sent += 1
