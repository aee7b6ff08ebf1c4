"""The SSD1306 OLED on the board's I2C bus: stim.display's screen, drawn with the ssd1306 driver.

The driver is MicroPython's ssd1306 (firmware/lib/ssd1306.py, /lib on the
board): Oled builds its SSD1306_I2C, which sends the init sequence and one
blank frame, and then draws into the driver's framebuffer with the framebuf
font and sends it through the driver's write_cmd/write_data.

Refresh policy. The loop calls `service()` once per pass, after the
controller's tick, and each pass does at most one piece of the display's work,
so that no pass carries a compose and a draw, or a draw and a bus transfer:
- every pass the screen latches that pass's alert, if there is one
  (allocation-free); its expiry is seen at the next compose, where it shows;
- at most every REFRESH_MS, when nothing is left to draw or send, the screen
  is composed from the state (one pass); the rows it changed are drawn into
  the framebuffer in the next passes, one row a pass (~0.4 ms on silicon),
  or only a level row's level field where that alone changed (Screen.span),
  and row 0's clock in a pass of its own, only the glyphs that changed (one
  second's step is one glyph, ~0.15 ms); each drawn row's page is pending
  from its first chunk that changed to its last (_pend);
- then each pending page goes out: its address window in one pass (one
  7-byte command write), then one CHUNK (16 bytes, an eighth of a page) a
  pass, in one I2C transaction of about 0.45 ms at 400 kHz, over those chunks
  (the countdown's step sends one chunk, a ramping level three, not the
  page). The SSD1306 carries on at the next column, and after a page's end at
  the next page's first column, so pages that follow whole need no window of
  their own: a whole frame (1 KB, ~25 ms in one go) is 65 passes. A changed
  text row shows within about 110 ms: compose, draw, window, eight chunks.
- a pass with nothing to do reads three attributes and returns (~30 us on
  the emulated RP2040 with its call).
Why so small: the loop's pass has a 2 ms budget on silicon (issue 12), and an
MCP4728 on the same bus can only be zeroed between two transactions (the
kill path schedules it, stim.hal.rp2040.KillPath): a 128-byte page held
that for 3.4 ms. So nothing on the display's path can hold the loop anywhere
near the watchdog's 100 ms, and with nothing changing, service() allocates
nothing and sends nothing.

An I2C error (display unplugged, bus stuck) switches the display off for
good: it is no safety function. `error` says why; the loop reports it once
as an alert.
"""

import framebuf
import ssd1306  # type: ignore[import-not-found]  # firmware/lib/ssd1306.py: vendored, untyped
from machine import I2C, Pin
from micropython import const

from stim import display as _display

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from stim.boardspec import Board

REFRESH_MS = const(200)  # the screen is composed at most this often
_GLYPHS = tuple("0123456789: ")  # the clock's glyphs, made once: codes 0..9 digits, 10 ":", 11 blank
_COLON = const(10)
_BLANK = const(11)
_UNDRAWN = const(255)  # a clock glyph code that matches none: the glyph is drawn at the next clock pass
CHUNK = const(16)  # data bytes per pass on the bus
_PX = const(8)  # stim.display.FONT_PX: a text row is one page, a character 8 columns
_SET_COL_ADDR = const(0x21)
_SET_PAGE_ADDR = const(0x22)
_TICKS_MASK = const((1 << 30) - 1)  # ticks_ms wraps at 2**30 (stim.ticks)
_TICKS_HALF = const(1 << 29)


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
        if _display.FONT_PX != _PX:
            raise ValueError("display: the font is not 8 pixels")
        # Drawing goes through a plain FrameBuffer on the driver's buffer: its methods are found at
        # once, where the driver's subclass costs ~12 us more a call on the RP2040.
        self._fb: "Any" = framebuf.FrameBuffer(self.drv.buffer, d.width, d.height, framebuf.MONO_VLSB)
        mv = memoryview(self.drv.buffer)
        # Each page's chunks, made now so that sending allocates nothing.
        self._chunks: "Tuple[Tuple[Any, ...], ...]" = tuple(
            tuple(mv[p * d.width + i:p * d.width + min(i + CHUNK, d.width)] for i in range(0, d.width, CHUNK))
            for p in range(self.pages))
        self._i2c: "Any" = i2c
        self._addr = d.address
        # The address window from a page on, as one command transaction (Co = 0, D/C# = 0):
        # columns [2]..[3], pages [5]..[6]; the driver's write_cmd() would make it six transactions.
        self._window = bytearray((0x00, _SET_COL_ADDR, 0, d.width - 1, _SET_PAGE_ADDR, 0, self.pages - 1))
        self._data: "List[Any]" = [b"\x40", None]  # a data transaction (Co = 0, D/C# = 1): the chunk in [1]
        self.pending = 0  # bit p: page p drawn, not yet (wholly) sent
        self._first = bytearray(self.pages)  # each pending page's first chunk that changed
        self._last = bytearray(self.pages)  # and its last
        self._nchunks = len(self._chunks[0])
        self._clock = bytearray(5)  # the clock glyph codes drawn in row 0's field
        self._inv = 1  # row 0's background colour while its clock is drawn
        self._shown = -1  # the clock drawn in the field (seconds), -1 for none
        self._forget_clock()
        self._sending = -1  # the page whose chunks are going out, -1 between pages
        self._next = 0  # its next chunk
        self.pages_sent = 0
        self.error: "Optional[str]" = None
        self._due = 0  # ticks_ms of the next compose
        self._work = True  # rows to draw or pages to send (at first: the first compose is due)

    @property
    def busy(self) -> bool:
        """Composed rows are still to be drawn, or drawn pages to be sent."""
        return self.screen.dirty != 0 or self.pending != 0

    def service(self, now_ms: int, sup: "Any", panel: "Any", program: "Any") -> None:
        """One pass's share of the display work (see the module doc). Never raises."""
        if self.error is not None:
            return
        try:
            self.service_unguarded(now_ms, sup, panel, program)
        except Exception as e:  # noqa: BLE001 - a display problem never stops the loop
            self.crashed(e)

    def service_unguarded(self, now_ms: int, sup: "Any", panel: "Any", program: "Any") -> None:
        """service() without its guard, for a caller whose own try calls crashed() and who stops
        calling once `error` is set (stim.app.run). One piece of work at most (module doc); a pass
        with nothing to do reads three attributes."""
        if sup.alert is not None:
            self.screen.observe(now_ms, sup)  # the supervisor keeps an alert for its tick only
        if self._work:
            if self._piece():
                return
        elif (now_ms - self._due) & _TICKS_MASK >= _TICKS_HALF:  # before _due (across the wrap)
            return
        self._due = (now_ms + REFRESH_MS) & _TICKS_MASK
        scr = self.screen
        scr.observe(now_ms, sup)  # an alert's expiry (ALERT_MS after its last tick) shows from here
        self._work = scr.compose(sup, panel, program)  # the rows it changed: drawn from the next pass on

    def _piece(self) -> bool:
        """Draw one dirty row or send one piece of a page; False if there was nothing to draw or
        send (nothing composed yet)."""
        if self.screen.dirty:
            self._draw()
        elif self.pending:
            self._send_one()
        else:
            return False
        self._work = self.screen.dirty != 0 or self.pending != 0
        return True

    def crashed(self, e: Exception) -> None:
        """The display failed: off for good (it is no safety function); `error` says why."""
        self.error = "display: " + repr(e)

    def _draw(self) -> None:
        """Draw one of the screen's dirty rows into the framebuffer (the lowest), or, when row 0 is
        dirty for its clock alone (Screen.clock_only), the clock's glyphs that changed."""
        scr = self.screen
        d = scr.dirty
        if d & 1 and scr.clock_only:
            self._draw_clock()
            scr.dirty = d & ~1
            scr.clock_only = False
            return
        r = 0
        while not d & 1:
            d >>= 1
            r += 1
        self._draw_row(r)
        if r == 0 and scr.clock >= 0:
            scr.clock_only = True  # the field is blank now: its glyphs in the next pass
        else:
            scr.dirty &= ~(1 << r)

    def _draw_row(self, r: int) -> None:
        if self.screen.span[r]:
            self._draw_span(r)
            return
        inv = (self.screen.inverse >> r) & 1
        y = r * _PX
        self._fb.fill_rect(0, y, self.width, _PX, inv)
        self._fb.text(self.screen.lines[r], 0, y, 1 - inv)
        if r == 0:
            self._forget_clock()
        self._pend(r, 0, self._nchunks - 1)  # the whole page

    def _draw_span(self, r: int) -> None:
        """Only a level field of row r moved (Screen.span: columns span >> 8 up to span & 0xFF, on
        a row not drawn inverse): those columns, and the chunks under them."""
        span = self.screen.span[r]
        x = (span >> 8) * _PX
        self._fb.fill_rect(x, r * _PX, (span & 0xFF) * _PX - x, _PX, 0)
        # The whole row's text over it: the glyphs outside the span are the ones already there, so
        # only the span changes, and no slice is made (a new str costs a qstr-pool scan on the
        # board, ~0.2 ms: stim.display.Screen.lines).
        self._fb.text(self.screen.lines[r], 0, r * _PX, 1)
        self._pend(r, x // CHUNK, ((span & 0xFF) * _PX - 1) // CHUNK)

    def _pend(self, p: int, first: int, last: int) -> None:
        """Page p's chunks first..last to be sent (with what of it was pending already)."""
        if self.pending & (1 << p):
            if self._first[p] < first:
                first = self._first[p]
            if self._last[p] > last:
                last = self._last[p]
        self._first[p] = first
        self._last[p] = last
        self.pending |= 1 << p

    def _forget_clock(self) -> None:
        """Row 0 was drawn whole: its clock field is blank (background), no glyph drawn."""
        c = self._clock
        c[0] = c[1] = c[2] = c[3] = c[4] = _UNDRAWN
        self._shown = -1

    def _draw_clock(self) -> None:
        """Row 0's clock ("MM:SS", minutes space-padded) into its field: each glyph that differs from
        the one drawn there, from preallocated one-character strings, so the countdown allocates
        nothing and one second's step draws (and sends) one glyph."""
        s = self.screen.clock
        self._inv = self.screen.inverse & 1  # row 0's background (the title bar: lit)
        was = self._shown
        self._shown = s
        if was >= 0 and was // 10 == s // 10:  # 9 seconds in 10: the last glyph alone
            self._glyph(4, s % 10)
            return
        m = s // 60
        self._glyph(0, m // 10 % 10 if m >= 10 else _BLANK)
        self._glyph(1, m % 10)
        self._glyph(2, _COLON)
        s %= 60
        self._glyph(3, s // 10)
        self._glyph(4, s % 10)

    def _glyph(self, i: int, code: int) -> None:
        """Glyph i of the clock field as `code` (an index of _GLYPHS), unless it already is."""
        if self._clock[i] == code:
            return
        x = (self.screen.clock_col + i) * _PX
        if self._clock[i] != _UNDRAWN:  # (undrawn: the field is still the background of the row's draw)
            self._fb.fill_rect(x, 0, _PX, _PX, self._inv)
        self._clock[i] = code
        if code != _BLANK:
            self._fb.text(_GLYPHS[code], x, 0, 1 - self._inv)
        self._pend(0, x // CHUNK, (x + _PX - 1) // CHUNK)

    def _send_one(self) -> None:
        """The next piece of the lowest pending page: its address window (its changed chunks, or
        from its first changed chunk on, pages to the last, where the page is pending to its end),
        or its next chunk. After a page's last chunk the controller goes on at the next page's
        first column by itself (horizontal addressing), so a next page pending from column 0,
        under a window from column 0 that runs on, needs no window."""
        p = self._sending
        if p < 0:
            p = 0
            while not self.pending & (1 << p):
                p += 1
            w = self._window
            last = self._last[p]
            w[2] = self._first[p] * CHUNK
            w[5] = p
            if last == self._nchunks - 1:
                w[3] = self.width - 1
                w[6] = self.pages - 1
            else:  # a level field: its chunks alone, then the window ends
                w[3] = last * CHUNK + CHUNK - 1
                w[6] = p
            self._i2c.writeto(self._addr, w)
            self._sending = p
            self._next = self._first[p]
            return
        data = self._data
        data[1] = self._chunks[p][self._next]
        self._i2c.writevto(self._addr, data)
        self._next += 1
        if self._next > self._last[p]:
            self.pages_sent += 1
            self.pending &= ~(1 << p)
            ended = self._next == self._nchunks  # sent to the page's end: the controller is at (p + 1, 0)
            p += 1
            w = self._window
            if ended and self.pending & (1 << p) and not self._first[p] and not w[2] and w[6] == self.pages - 1:
                self._sending = p  # its first chunk lands at (p, 0)
                self._next = 0
            else:
                self._sending = -1
