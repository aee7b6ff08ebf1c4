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
- at most one page per tick goes on the bus: the page's column and page
  address (six 2-byte command writes) and its 128 data bytes, about 3.4 ms
  at 400 kHz, where a whole frame (1 KB, ~25 ms) in one go would stretch a
  10 ms tick to 35 ms. A text row is exactly one page, so a change of one
  row costs one page.
So nothing on the display's path can hold the loop anywhere near the
watchdog's 100 ms, and with nothing changing, service() allocates nothing
and sends nothing.

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

    from stim.board import Board

REFRESH_MS = const(200)  # the screen is composed at most this often
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
        self._page: "Tuple[Any, ...]" = tuple(mv[p * d.width:(p + 1) * d.width] for p in range(self.pages))
        self.pending = 0  # bit p: page p drawn, not yet sent
        self.pages_sent = 0
        self.error: "Optional[str]" = None
        self._last_ms = 0
        self._fresh = True  # nothing composed yet

    def service(self, now_ms: int, sup: "Any", panel: "Any", program: "Any") -> None:
        """One tick's share of the display work (see the module doc). Never raises."""
        if self.error is not None:
            return
        try:
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
        except Exception as e:  # noqa: BLE001 - a display problem never stops the loop
            self.error = "display: " + repr(e)

    def _draw(self) -> None:
        """Draw the screen's changed rows into the framebuffer; mark their pages pending."""
        scr = self.screen
        drv = self.drv
        for r in range(scr.rows):
            if scr.dirty & (1 << r):
                inv = (scr.inverse >> r) & 1
                y = r * _display.FONT_PX
                drv.fill_rect(0, y, self.width, _display.FONT_PX, inv)
                drv.text(scr.lines[r], 0, y, 1 - inv)
                self.pending |= 1 << r
        scr.dirty = 0

    def _send_one(self) -> None:
        """Send the lowest pending page: its address window, then its 128 bytes."""
        p = 0
        while not self.pending & (1 << p):
            p += 1
        drv = self.drv
        drv.write_cmd(_SET_COL_ADDR)
        drv.write_cmd(0)
        drv.write_cmd(self.width - 1)
        drv.write_cmd(_SET_PAGE_ADDR)
        drv.write_cmd(p)
        drv.write_cmd(p)
        drv.write_data(self._page[p])
        self.pending &= ~(1 << p)
        self.pages_sent += 1
