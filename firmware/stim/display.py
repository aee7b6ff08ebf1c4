"""The trainer's screen: what the OLED shows, as lines of text, built from the controller's state.

Pure: `observe()` and `compose()` take the supervisor, the panel and the
program (and the time) and leave the screen in `lines` (one str, or bytes for a
level row or a message row, of exactly `cols` characters per 8-pixel text row;
`text(r)` gives either as a str), `dirty` (a bit
per row whose text changed since the hal last drew it), `span` (the columns of
a dirty level row that alone changed) and `inverse` (rows drawn light on dark).
stim.hal.oled draws them with the framebuf font and sends changed rows only.

Layout, 16 columns of 8x8 text (8 rows on a 128x64 display, 4 on 128x32):

    row 0      state and remaining time      "RUNNING    19:58"  (a title bar, drawn inverse)
    row 1      program                       "lower_back"
    channels   the program's channels, one row each, or two when they fit:
               ">1 lower back L" over "   12.5 / 80 mA"       (two rows)
               ">1 12.5/ 80 lowe L"                           (one row; the label shortened)
               level in mA (one decimal) against the channel's limit in mA; ">" marks the
               channel(s) + and - act on, "*" in supervisor mode, where the limit shown is
               the supervisor maximum being set
    last rows  the message: the current alert (kept ALERT_MS), else supervisor mode,
               else in profile selection or at READY the panel's note (the profile, its
               session count and what the dose guard allows, or its refusal in words:
               stim.guardshell), else what to do next in this state
    FAULT      the fault reason in words over the channel rows, and how to clear it

The remaining time counts down while a session runs or is paused; before one
it is the session length of the chosen program.

Nothing allocates in `observe()`, nor in `compose()` when nothing on the
screen would change (the steady state): it compares small integers and object
identities with what the lines show. Only a change rebuilds the lines.
"""

from micropython import const

from stim import supervisor as sv
from stim import ticks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, AnyStr, List, Optional, Tuple

ALERT_MS = const(2000)  # an alert stays on the screen this long after its last occurrence
MSG_KEPT = const(4)  # messages whose wrapped rows the screen keeps (Screen._message_rows)
FONT_PX = const(8)

# Fault reasons in words, where the supervisor's short text would puzzle a trainer.
FAULT_WORDS = (
    (sv.FAULT_ESTOP, "E-stop pressed: all outputs off."),
    (sv.FAULT_WDT, "Watchdog reset: the firmware stopped; outputs off."),
)
HINT_FAULT = "Key off and on to clear."
HINT_ESTOP = "Release e-stop, key off and on."
HINT_NO_KEY = "Insert the supervisor key."
HINT_READY = "Press start."
HINT_PAUSED = "Paused: start resumes."
HINT_SUPERVISOR = "Supervisor: +/- sets the max."


def fit(s: "AnyStr", n: int) -> "AnyStr":
    """s cut or padded with spaces to exactly n characters (str or bytes, as s is)."""
    if len(s) == n:
        return s
    if len(s) > n:
        return s[:n]
    if isinstance(s, bytes):
        return s + b" " * (n - len(s))
    return s + " " * (n - len(s))


def wrap(text: "AnyStr", width: int, nrows: int) -> "List[AnyStr]":
    """text in at most nrows rows of width characters, broken at spaces (long words split); the
    rows are bytes if text is (the screen's message rows: Screen.lines)."""
    rows: "List[AnyStr]" = []
    empty = text[:0]
    cur = empty
    space = fit(empty, 1)
    for word in text.split():
        w = word
        while len(w) > width:
            if cur:
                rows.append(cur)
                cur = empty
            rows.append(w[:width])
            w = w[width:]
        if not w:
            continue
        if not cur:
            cur = w
        elif len(cur) + 1 + len(w) <= width:
            cur = cur + space + w
        else:
            rows.append(cur)
            cur = w
    if cur:
        rows.append(cur)
    out = [fit(r, width) for r in rows[:nrows]]
    while len(out) < nrows:
        out.append(space * width)
    return out


def mmss(secs: int) -> str:
    return "%d:%02d" % (secs // 60, secs % 60)


def ma_tenths(ua: int) -> str:
    """Microamps as mA in 4 characters: " 0.0", "12.5", " 100" (rounded down: never more than flows)."""
    t = ua // 100
    if t < 1000:
        s = "%d.%d" % (t // 10, t % 10)
    else:
        s = str(t // 10)
    return " " * (4 - len(s)) + s if len(s) < 4 else s


def short_label(label: str, n: int) -> str:
    """label in n characters, keeping a short last word ("lower back L" -> "lowe L") so L/R stay apart."""
    if len(label) <= n:
        return fit(label, n)
    words = label.split()
    last = words[-1] if words else ""
    if len(words) > 1 and len(last) <= 2 and n >= len(last) + 2:
        head = label[: n - len(last) - 1].rstrip()
        return fit(head + " " + last, n)
    return label[:n]


def fault_words(reason: str) -> str:
    for code, words in FAULT_WORDS:
        if reason == code:
            return words
    return reason[:1].upper() + reason[1:]


class Screen:
    """The text on a cols x rows character display for a board with n_channels channels."""

    def __init__(self, n_channels: int, cols: int = 16, rows: int = 8) -> None:
        if cols < 16 or rows < 4:
            raise ValueError("display: needs at least 16 x 4 characters, got %d x %d" % (cols, rows))
        self.n = n_channels
        self.cols = cols
        self.rows = rows
        self.msg_rows = 2 if rows >= 8 else 1
        self.ch_rows = rows - 2 - self.msg_rows
        blank = " " * cols
        # A row is a str, or bytes where a level row is made from its template (_level_line): on the
        # board a new str costs a scan of MicroPython's qstr pools (py/objstr.c looks every new
        # string up as a qstr first), ~0.7 ms for a level row with the firmware's modules loaded,
        # where bytes take ~0.04 ms; framebuf draws either.
        self.lines: "List[Any]" = [blank] * rows
        self.dirty = 0  # bit r: row r changed since the hal last drew it
        # Per dirty row: 0 if the whole row is to be drawn, else (first column << 8) | (last + 1)
        # of the only columns that changed: a level row whose level field alone moved
        # (_level_row), so that the hal draws and sends those columns, not the row.
        self.span: "List[int]" = [0] * rows
        self.inverse = 1  # bit r: row r is drawn light on dark (the title bar)
        self.composed = 0  # how often the lines were rebuilt
        self.alert: "Optional[str]" = None  # the alert on the screen
        self._alert_ms = 0
        # What the lines show (compose() compares the state with these).
        self._valid = False
        self._lvl_moved = 0  # bit c: channel c's level changed at the last compose()
        self._secs_moved = False  # the remaining time changed at the last compose()
        self._state = -1
        self._program: "Any" = None
        self._used: "Tuple[int, ...]" = ()
        self._secs = -1
        self._sel = -2
        self._smode = False
        self._key = False
        self._fault: "Optional[str]" = None
        self._shown_alert: "Optional[str]" = None
        self._note: "Optional[str]" = None
        self._choosing = False  # the panel is in profile selection: its note shows in any state
        self._lvl: "List[int]" = [-1] * n_channels  # tenths of a mA
        self._lim: "List[int]" = [-1] * n_channels
        self._lim_s: "List[str]" = [""] * n_channels  # the limit in whole mA, as the rows show it
        # Made by _build(): each channel's level row (-1: not shown) and its template (_level_template).
        self._two = False
        self._row_of: "List[int]" = [-1] * n_channels
        self._fmt: "List[Optional[bytes]]" = [None] * n_channels
        self._fcol: "List[int]" = [0] * n_channels  # the level field's first column in its row
        self._from_tpl: "List[bool]" = [False] * n_channels  # its row was made from the template
        # Rows _build() keeps between rebuilds: each new str costs a qstr-pool scan on the board
        # (Screen.lines), so a pause or a resume, which changes the title and the message only,
        # reuses the program's row and the channels' rows (their levels refreshed from the
        # templates) and the message's wrapped rows. _rows_stale: what those rows show moved (the
        # program, the selected channel, supervisor mode, a limit) or nothing was built yet.
        self._rows_stale = True
        self._prog_row = ""
        self._ch_rows: "List[Any]" = []
        # The last MSG_KEPT messages and their rows (bytes), as [msg, rows, msg, rows, ...], found by
        # identity: a pause and a resume swap two hints, each wrapped once.
        self._msg_kept: "List[Any]" = [None] * (2 * MSG_KEPT)
        self._msg_next = 0
        # Row 0 while a session's time shows, per state: made once (Screen._title).
        self._titles: "List[Optional[str]]" = [None] * len(sv.STATE_NAMES)
        # Row 0's clock: the remaining seconds, drawn by the hal into the blank field at the right of
        # lines[0] ("RUNNING    19:59": lines[0] holds "RUNNING" and six blanks), -1 for none. So
        # the countdown builds no string each second: text(0) gives the row as it reads.
        self.clock = -1
        self.clock_col = cols - 5  # the first of the field's five characters, "MM:SS"
        self.clock_only = False  # row 0 is dirty for its clock field alone (the hal redraws just that)

    # -- every tick -------------------------------------------------------------------
    def observe(self, now_ms: int, sup: "Any") -> None:
        """Catch this tick's alert (the supervisor keeps one only for the tick it happened in)."""
        a = sup.alert
        if a is not None:
            self.alert = a
            self._alert_ms = now_ms
        elif self.alert is not None and ticks.diff(now_ms, self._alert_ms) >= ALERT_MS:
            self.alert = None

    def compose(self, sup: "Any", panel: "Any", program: "Any") -> bool:
        """Bring the lines up to date. True if a row changed (its bit is set in `dirty`).

        First it takes the values the screen shows from the state, allocation-free, in two calls
        (_sync_state with the remaining time, _sync_levels: each frame stays on the stack,
        picostim.devtools.frames); only if one differs does it rebuild rows."""
        self.clock_only = False
        other = self._sync_state(sup, panel, program)  # something besides the time and levels differs
        if self._sync_levels(sup):
            other = True
        if not other and self.composed:
            if not self._secs_moved and not self._lvl_moved:
                return False
            # Only the remaining time (once a second while a session runs) and levels (while they
            # ramp) moved: those rows alone, a few small strings each, where a whole screen made
            # ~1.7 KB of garbage every time (silicon.alloc_bytes_per_tick_*).
            if self._secs_moved:
                self._set_title()
            if self._lvl_moved and self._state != sv.FAULT and self._used:
                self._level_rows(self._lvl_moved)
        else:
            self._build()
        self.composed += 1
        return self.dirty != 0

    def _sync_state(self, sup: "Any", panel: "Any", program: "Any") -> bool:
        """What the screen shows of the state, and the remaining time (_secs, _secs_moved); True if
        something besides the remaining time and the levels differs."""
        other = not self._valid  # something besides the remaining time and levels differs
        self._valid = True
        if sup.state != self._state:
            self._state = sup.state
            other = True
        if program is not self._program:
            self._program = program
            self._used = ()
            self._rows_stale = True
            other = True
        if panel.channel != self._sel:
            self._sel = panel.channel
            self._rows_stale = True
            other = True
        if panel.supervisor_mode != self._smode:
            self._smode = panel.supervisor_mode
            self._rows_stale = True
            other = True
        if sup.key != self._key:
            self._key = sup.key
            other = True
        if sup.fault is not self._fault:
            self._fault = sup.fault
            other = True
        if self.alert is not self._shown_alert:
            self._shown_alert = self.alert
            other = True
        if panel.note is not self._note or panel.selecting != self._choosing:
            self._note = panel.note
            self._choosing = panel.selecting
            other = True
        secs = -1  # the remaining time: none in a fault
        st = self._state
        if st != sv.FAULT:
            secs = sup.session_limit_ms
            if st == sv.RUNNING or st == sv.PAUSED:
                secs -= sup.session_ms
            secs = (secs + 999) // 1000 if secs > 0 else 0
        self._secs_moved = secs != self._secs
        self._secs = secs
        return other

    def _sync_levels(self, sup: "Any") -> bool:
        """Every channel's level and limit; True if a limit changed. Leaves _lvl_moved.
        (One loop, no call per channel but cap_ua(): a call costs ~12 us on the RP2040.)"""
        moved = 0
        other = False
        c = self.n
        while c > 0:
            c -= 1
            v = sup.level_ua[c] // 100  # the screen shows tenths of a mA
            if v != self._lvl[c]:
                self._lvl[c] = v
                moved |= 1 << c
            v = sup.limit_ua[c] if self._smode else sup.cap_ua(c)
            if v != self._lim[c]:
                self._lim[c] = v
                self._lim_s[c] = str(v // 1000)  # made once here, not at every level change
                self._rows_stale = True
                other = True
        self._lvl_moved = moved
        return other

    # -- on a change only ------------------------------------------------------------------
    def _build(self) -> None:
        if not self.composed:
            self.dirty = (1 << self.rows) - 1  # the first screen: draw every row
        cols = self.cols
        st = self._state
        prog = self._program
        if prog is not None and not self._used:
            self._used = tuple(c for c in range(self.n) if prog.channel_used(c))
        shown = self.clock
        new: "List[Any]" = [self._title()]
        if self.clock != shown:
            self.dirty |= 1
        if self._rows_stale:
            self._rows_stale = False
            self._prog_row = fit(prog.name if prog is not None else "(no program)", cols)
            self._ch_rows = self._channel_rows()
        else:
            self._fresh_levels()
        new.append(self._prog_row)
        body = self.rows - 2
        if st == sv.FAULT:
            hint = HINT_ESTOP if self._fault == sv.FAULT_ESTOP else HINT_FAULT
            new.extend(wrap(fault_words(self._fault or "fault").encode(), cols, body - self.msg_rows))
            new.extend(wrap(hint.encode(), cols, self.msg_rows))
        else:
            new.extend(self._ch_rows)
            new.extend(self._message_rows(self._message()))
        for r in range(self.rows):
            self._set_row(r, new[r])

    def _message_rows(self, msg: str) -> "List[bytes]":
        """msg wrapped into the message rows, as bytes (Screen.lines), or as kept (_msg_kept)."""
        kept = self._msg_kept
        i = 0
        while i < len(kept):
            if kept[i] is msg:
                rows: "List[bytes]" = kept[i + 1]
                return rows
            i += 2
        rows = wrap(msg.encode(), self.cols, self.msg_rows)
        i = self._msg_next
        kept[i] = msg
        kept[i + 1] = rows
        self._msg_next = (i + 2) % len(kept)
        return rows

    def _fresh_levels(self) -> None:
        """The kept channel rows (_ch_rows) with each shown channel's level as it is now."""
        for c in range(self.n):
            r = self._row_of[c]
            if r >= 0:
                self._ch_rows[r - 2] = self._level_line(c)

    def text(self, r: int) -> str:
        """Row r as it reads on the display: lines[r], with row 0's clock filled in (this allocates;
        the firmware's display path never calls it)."""
        row = self.lines[r]
        if isinstance(row, bytes):
            return row.decode()
        line: str = row
        if r or self.clock < 0:
            return line
        return line[:self.clock_col - 1] + " %2d:%02d" % (self.clock // 60, self.clock % 60)

    def _set_title(self) -> None:
        """Row 0 after the remaining time moved: dirty if the clock or the title changed."""
        shown = self.clock
        drawn = not self.dirty & 1
        self._set_row(0, self._title())
        if self.clock != shown and not self.dirty & 1:
            self.dirty |= 1
            self.clock_only = drawn  # the row's text as drawn: only the clock field moved

    def _title(self) -> str:
        """Row 0: the state, and the remaining time at the right (the clock field, or in the text)."""
        cols = self.cols
        name = sv.STATE_NAMES[self._state]
        secs = self._secs
        self.clock = -1
        if secs < 0:
            return fit(name, cols)
        if secs < 6000 and len(name) <= cols - 6:
            # Once a second while a session runs: the same string (made once per state), and the
            # seconds in `clock`: the steady session allocates nothing (silicon.alloc_bytes_per_tick_steady).
            t = self._titles[self._state]
            if t is None:
                t = fit(name, cols - 6) + "      "
                self._titles[self._state] = t
            self.clock = secs
            return t
        t = mmss(secs)
        return fit(name, cols - len(t) - 1) + " " + t

    def _set_row(self, r: int, text: "Any") -> None:
        old = self.lines[r]
        # The types first: MicroPython may warn on a bytes == str comparison (a row changes type
        # where a level row leaves its template, or comes back to it).
        if type(text) is not type(old) or text != old:
            self.lines[r] = text
            self.dirty |= 1 << r
            self.span[r] = 0

    def _layout(self) -> "Tuple[bool, Tuple[int, ...]]":
        """(two rows per channel?, the channels shown, in order)."""
        n_rows = self.ch_rows
        used = self._used
        two = 2 * len(used) <= n_rows
        shown = used
        if not two and len(used) > n_rows:  # a window of channels around the selected one
            idx = 0
            for i in range(len(used)):
                if used[i] == self._sel:
                    idx = i
            start = idx - n_rows + 1 if idx >= n_rows else 0
            shown = used[start:start + n_rows]
        return two, shown

    def _marker(self, c: int) -> str:
        return ("*" if self._smode else ">") if self._sel == sv.ALL or self._sel == c else " "

    def _label(self, c: int) -> str:
        return self._program.labels[c] if c < len(self._program.labels) else ""

    def _level_template(self, c: int) -> "Optional[bytes]":
        """Channel c's level row with "%2d.%d" where the level goes (levels below 100 mA), or None if
        the row does not fit that way. Made when the screen is built, so that a level change while
        ramping formats one row (five times a second) instead of building it; as bytes, which
        format without a qstr-pool scan (Screen.lines)."""
        cols = self.cols
        lim = self._lim_s[c]
        if self._two:
            tail = " / " + lim + " mA"
            pad = cols - 7 - len(tail)
            self._fcol[c] = 3
            return ("   %2d.%d" + tail + " " * pad).encode() if pad >= 0 else None
        head = self._marker(c) + str(c + 1)
        mid = "/" + " " * (3 - len(lim)) + lim + " "
        label = short_label(self._label(c), cols - len(head) - 4 - len(mid))
        self._fcol[c] = len(head)
        return (head.replace("%", "%%") + "%2d.%d" + mid + label.replace("%", "%%")).encode()

    def _level_line(self, c: int) -> "Any":
        """The row with channel c's level: its second row, or its only one."""
        t = self._lvl[c]  # tenths of a mA
        fmt = self._fmt[c]
        if t < 1000 and fmt is not None:
            self._from_tpl[c] = True
            return fmt % (t // 10, t % 10)  # = ma_tenths below 100 mA
        self._from_tpl[c] = False
        return self._level_text(c)

    def _level_text(self, c: int) -> str:
        cols = self.cols
        lim = self._lim_s[c]
        level = ma_tenths(self._lvl[c] * 100)
        if self._two:
            return fit("   " + level + " / " + lim + " mA", cols)
        head = self._marker(c) + str(c + 1) + level + "/" + " " * (3 - len(lim)) + lim + " "
        return head + short_label(self._label(c), cols - len(head))

    def _level_rows(self, moved: int) -> None:
        """Rebuild only the level rows of the channels with their bit in moved."""
        for c in range(self.n):
            if moved & (1 << c) and self._row_of[c] >= 0:
                self._level_row(c)

    def _level_row(self, c: int) -> None:
        """Channel c's level row, with its span (Screen.span): a ramp's step redraws and sends the
        4 columns of the level field, not the row (stim.hal.oled). Two rows made from the same
        template differ in its field alone; telling so by comparing the rows would cost four
        slices, and each new str costs a qstr-pool scan on the board (~0.2 ms: Screen.lines)."""
        r = self._row_of[c]
        was = self._from_tpl[c]  # the row shown now came from the template (_build made both)
        text = self._level_line(c)
        if was and self._from_tpl[c] and text == self.lines[r]:  # both bytes (else _set_row tells)
            return
        span = self._field_span(c, r) if was and self._from_tpl[c] else 0
        self._set_row(r, text)
        self.span[r] = span

    def _field_span(self, c: int, r: int) -> int:
        """Channel c's level field as a span of row r (its template's "%2d.%d": 4 columns), unless
        the row is drawn inverse or holds another change not yet drawn; else 0 (the whole row)."""
        f = self._fcol[c]
        if (self.inverse >> r) & 1 or ((self.dirty >> r) & 1 and self.span[r] != (f << 8) | (f + 4)):
            return 0
        return (f << 8) | (f + 4)

    def _channel_rows(self) -> "List[Any]":
        cols = self.cols
        n_rows = self.ch_rows
        out: "List[Any]" = []
        for c in range(self.n):
            self._row_of[c] = -1
            self._fmt[c] = None
        if not self._used:
            out.extend(wrap(b"No channel in this program.", cols, n_rows))
            return out
        two, shown = self._layout()
        self._two = two
        for c in shown:
            if two:
                out.append(fit(self._marker(c) + str(c + 1) + " " + self._label(c), cols))
            self._row_of[c] = 2 + len(out)
            self._fmt[c] = self._level_template(c)
            out.append(self._level_line(c))
        while len(out) < n_rows:
            out.append(" " * cols)
        return out

    def _message(self) -> str:
        if self.alert is not None:
            return self.alert
        note = self._note
        if self._choosing and note is not None:
            return note
        if self._smode:
            return HINT_SUPERVISOR
        st = self._state
        if st == sv.SAFE:
            return HINT_NO_KEY if not self._key else note or ""
        if st == sv.READY:
            return note or HINT_READY
        if st == sv.PAUSED:
            return HINT_PAUSED
        if self._sel == sv.ALL:
            return "+/- all channels"
        return "+/- channel " + str(self._sel + 1)
