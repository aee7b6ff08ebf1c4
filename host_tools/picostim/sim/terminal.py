"""`picostim sim` / `make sim`: firmware/main.py on the model, in real time, with a terminal front panel.

On a terminal the screen shows the board as a trainer would see it: the state
and the fault or alert reason, the key and e-stop, the program, the time, each
channel's level and limit with a live pulse indicator, the status LED, buzzer
and output-enable, the OLED screen if the board has one, and the last lines
the firmware printed. Everything comes from the model's pins, registers and
I2C devices, and from what the firmware itself prints: its status lines and
its console's answer to `status` (asked twice a simulated second with the
request id "sim"), never from firmware objects. The board's serial console is
on a pseudo-terminal (picostim.serialbridge) whose path the screen shows.

Keys (one key press is one button press of PRESS_S; the upper-case letter
holds that button for HOLD_S, e.g. C for the supervisor-mode hold):

    k  supervisor key in/out       e  e-stop press/release
    s  start/pause (also space)    u  plus (also + =)     d  minus (also -)
    c  channel                     p  program
    v  the supervisor's override: start/pause and minus held together (docs/clients.md)
    h  hang the main loop          x  power cut           o  OLED text/pixels
    q  quit

Without a terminal (or with --until), it prints a line whenever the board's
outputs or the switches change, and the firmware's console lines.
"""

import json
import os
import select
import sys
import termios
import time
import tty
from typing import IO, TYPE_CHECKING, Any, Optional

from picostim.fakehw.runner import RunnerError

from . import readout
from .scenario import NS_PER_S, PRESS_S, Action
from .session import SimSession, load_board

if TYPE_CHECKING:
    from stim.board import Board

FRAME_S = 0.1
HOLD_S = 2.5  # past the panel's 2 s supervisor-mode hold
RATE_WINDOW_NS = 1_000_000_000  # the pulse-rate column counts pairs over the last second
LOG_LINES = 6
POLL_NS = 500_000_000  # the panel asks the console for its status twice a simulated second
STATUS_ID = "sim"  # the request id of those questions

# Board button -> (key for a press, other keys for a press). Upper case of the first key holds.
BUTTON_KEYS = {
    "start_pause": ("s", " "),
    "plus": ("u", "+="),
    "minus": ("d", "-"),
    "channel": ("c", ""),
    "program": ("p", ""),
}
SPINNER = "|/-\\"


def key_map(board: "Board") -> "dict[str, tuple[str, str]]":
    """Keyboard character -> (action, button) for the board's buttons."""
    m: dict[str, tuple[str, str]] = {}
    for name in board.inputs.buttons:
        first, others = BUTTON_KEYS.get(name, ("", ""))
        if not first:
            continue
        m[first] = ("press", name)
        m[first.upper()] = ("hold", name)
        for ch in others:
            m[ch] = ("press", name)
    return m


class Panel:
    """The screen model: what the front panel shows, rebuilt from the model each frame.

    The state comes from the firmware's status lines; program, session time,
    levels and limits from its console's `status` reply, which the panel asks
    for every POLL_NS with the request id STATUS_ID (the console client skips
    replies to other ids, so a `picostim console` on the pty is not disturbed).
    Output currents, pulses, LED, buzzer and output-enable come from the pins.
    """

    def __init__(self, sess: SimSession, pty_path: Optional[str] = None) -> None:
        self.sess = sess
        self.board = sess.board
        self.pty_path = pty_path
        self.status: dict[str, Any] = {}
        self.reply: dict[str, Any] = {}
        self.seen = 0
        self.messages: list[str] = []
        self.oled_pixels = False
        self._oled: Optional[list[str]] = None
        self._oled_key: object = None
        self._t_prev = sess.now_ns
        self._spin = [0] * len(self.board.channels)
        self._pairs: list[list[tuple[int, int]]] = [[] for _ in self.board.channels]
        self._poll_ns = -POLL_NS
        self._waiting = False
        self._boots = 0
        self.keys = key_map(self.board)

    def note(self, text: str) -> None:
        self.messages.append("t=%8.2fs %s" % (self.sess.now_ns / 1e9, text))
        del self.messages[:-LOG_LINES]

    def poll(self) -> None:
        """Ask the firmware's console for its status (one request in flight at a time)."""
        send = self.sess.console_writer()
        now = self.sess.now_ns
        if self.sess.runner.boots != self._boots:  # a reset drops a request in flight
            self._boots = self.sess.runner.boots
            self._waiting = False
        if send is None or now - self._poll_ns < (5 * POLL_NS if self._waiting else POLL_NS):
            return
        usb = getattr(self.sess.runner, "usb", None)
        if usb is not None and usb.pending_in():
            return  # someone on the pty is talking to the board: never cut into their line
        try:
            send(json.dumps({"cmd": "status", "id": STATUS_ID}))
        except RunnerError:
            return  # the host side of the USB serial is full: ask again later
        self._poll_ns = now
        self._waiting = True

    def update(self) -> None:
        """Take in what happened since the last frame."""
        lines = self.sess.runner.console_out
        while self.seen < len(lines):
            line = lines[self.seen]
            self.seen += 1
            d = readout.parse_json_line(line)
            if d is not None and d.get("id") == STATUS_ID:
                if d.get("ok"):
                    self.reply = d
                self._waiting = False
                continue
            if d is not None and "status" in d:
                self.status = d
            self.note("console> " + line)
        t0, t1 = self._t_prev, self.sess.now_ns
        chip = self.sess.chip
        for i, ch in enumerate(self.board.channels):
            # One biphasic pair per rise of phase A.
            rises = sum(1 for _t, v in chip.edges(ch.pulse_a, t0, t1) if v == 1)
            if rises:
                self._spin[i] += 1
            hist = self._pairs[i]
            hist.append((t1, rises))
            while hist and hist[0][0] <= t1 - RATE_WINDOW_NS:
                hist.pop(0)
        self._t_prev = t1

    def pulse_rate(self, ch: int) -> int:
        return sum(n for _t, n in self._pairs[ch])

    def oled(self) -> "Optional[list[str]]":
        """The OLED rows, drawn again only when the display got new data or the view changed."""
        dev = readout.display_device(self.sess.chip, self.board)
        key = (id(dev), getattr(dev, "writes", None), getattr(dev, "display_on", None), self.oled_pixels)
        if self._oled is None or key != self._oled_key:
            self._oled = readout.oled_lines(self.sess.chip, self.board, self.oled_pixels)
            self._oled_key = key
        return self._oled

    def lines(self) -> "list[str]":
        b = self.board
        sess = self.sess
        chip = sess.chip
        st = self.status
        rp = self.reply
        w = sess.world
        state = str(st.get("status", "(booting)"))
        reason = str(st.get("reason") or "-")
        out = ["PicoStim simulator - %s (%s)   t = %9.2f s" % (b.name, sess.board_file, sess.now_ns / 1e9)]
        out.append("state   %-10s reason  %s" % (state, reason))
        prog = rp.get("program")
        out.append("key     %-10s e-stop  %-10s program  %s" % (
            "IN" if w.key_present() else "out", "PRESSED" if w.estop_pressed() else "released",
            prog if prog is not None else "-"))
        outs = b.outputs
        led = readout.active(chip, outs.status_led.pin, outs.status_led.active_level)
        oe = readout.active(chip, outs.output_enable.pin, outs.output_enable.active_level)
        t1 = sess.now_ns
        buzz = bool(chip.edges(outs.buzzer.pin, self._t_prev - int(FRAME_S * NS_PER_S), t1)) or readout.active(
            chip, outs.buzzer.pin, outs.buzzer.active_level)
        out.append("LED     %-10s buzzer  %-10s output  %-8s boots %d  resets %d" % (
            "ON" if led else "off", "BEEP" if buzz else "quiet", "ENABLED" if oe else "off",
            sess.runner.boots, len(chip.resets)))
        out.append("session %s" % _session_text(rp))
        out.append("")
        out.append("channel   output      level       limit       pulses")
        levels = rp.get("level_ua")
        limits = rp.get("limit_ua")
        for i, ch in enumerate(b.channels):
            ma = readout.amplitude_ma(chip, b, i)
            out.append("%-8s %7.2f mA  %-10s  %-10s  %s" % (
                ch.name, ma, _ua_text(levels, i), _ua_text(limits, i), self._indicator(i)))
        oled = self.oled()
        if oled is not None:
            out.append("")
            out.append("OLED (o: %s)" % ("text" if self.oled_pixels else "pixels"))
            out.extend(oled)
        out.append("")
        if self.pty_path:
            out.append("console: %s  (picostim console --port %s status)" % (self.pty_path, self.pty_path))
        out.extend(self.messages)
        out.append("")
        out.append("keys: k key  e e-stop  s start/pause  u plus  d minus  c channel  p program")
        out.append("      S U D C P hold 2.5 s   v override (S and D held together)")
        out.append("      h hang   x power cut   o OLED view   q quit")
        return out

    def _indicator(self, i: int) -> str:
        rate = self.pulse_rate(i)
        if rate:
            return "%s %3d Hz" % (SPINNER[self._spin[i] % len(SPINNER)], rate)
        return "-   idle"

    def handle_key(self, ch: str) -> bool:
        """Do what key ch stands for; False to quit."""
        sess = self.sess
        now = sess.now_ns
        w = sess.world
        if ch in ("q", "\x03", "\x04"):
            return False
        if ch == "o":
            self.oled_pixels = not self.oled_pixels
            return True
        if ch == "k":
            sess.apply(Action(now, "key", (not w.key_present(),), 0, "key " + ("out" if w.key_present() else "in")))
        elif ch == "e":
            pressed = not w.estop_pressed()
            sess.apply(Action(now, "estop", (pressed,), 0, "e-stop " + ("pressed" if pressed else "released")))
        elif ch == "h":
            sess.apply(Action(now, "hang", (), 0, "hang"))
        elif ch == "x":
            sess.apply(Action(now, "power", (), 0, "power cut"))
        elif ch == "v" and "start_pause" in self.board.inputs.buttons and "minus" in self.board.inputs.buttons:
            for name in ("start_pause", "minus"):  # two hands: both held at once
                sess.apply(Action(now, "hold", (name, round(HOLD_S * NS_PER_S)), 0, "override: hold " + name))
        elif ch in self.keys:
            kind, name = self.keys[ch]
            dur = PRESS_S if kind == "press" else HOLD_S
            sess.apply(Action(now, "hold", (name, round(dur * NS_PER_S)), 0, "%s %s" % (kind, name)))
        else:
            return True
        self.note("you: " + sess.log[-1][1])
        return True


def _ua_text(values: object, i: int) -> str:
    if isinstance(values, list) and i < len(values) and isinstance(values[i], int):
        return "%7.2f mA" % (values[i] / 1000)
    return "      ?"


def _mmss(ms: int) -> str:
    s = ms // 1000
    return "%d:%02d" % (s // 60, s % 60)


def _session_text(reply: "dict[str, Any]") -> str:
    done = reply.get("session_ms")
    limit = reply.get("session_limit_ms")
    if not isinstance(done, int) or not isinstance(limit, int):
        return "-   (waiting for the firmware's console)"
    return "%s of %s, %s left" % (_mmss(done), _mmss(limit), _mmss(max(0, limit - done)))


def _bridge(sess: SimSession) -> "tuple[Optional[str], Any]":
    """Start the serial-console bridge to a pseudo-terminal, if the console side provides one."""
    try:
        from picostim import serialbridge
    except ImportError:
        return None, None
    bridge = serialbridge.start(sess.runner)
    return str(bridge.path), bridge


def run_panel(board: str, speed: str = "1", stdin: Optional[IO[str]] = None, stdout: Optional[IO[str]] = None) -> int:
    """The full-screen front panel on a terminal; returns when q is pressed."""
    inp = stdin if stdin is not None else sys.stdin
    outp = stdout if stdout is not None else sys.stdout
    try:
        brd = load_board(board)
    except (OSError, ValueError) as e:
        print("picostim sim: " + board + ": " + str(e), file=sys.stderr)
        return 2
    fast = speed == "max"
    factor = 1.0 if fast else float(speed)
    sess = SimSession(board, brd)
    pty_path, bridge = _bridge(sess)
    panel = Panel(sess, pty_path)
    fd = inp.fileno()
    old = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    outp.write("\x1b[?1049h\x1b[?25l")  # alternate screen, cursor hidden
    try:
        wall0 = time.monotonic()
        running = True
        while running:
            panel.poll()
            sess.run_until(sess.now_ns + int(FRAME_S * NS_PER_S))
            panel.update()
            outp.write("\x1b[H" + "".join(line + "\x1b[K\n" for line in panel.lines()) + "\x1b[J")
            outp.flush()
            sess.chip.forget_before(sess.now_ns - 2 * RATE_WINDOW_NS)
            deadline = wall0 + sess.now_ns / 1e9 / factor
            while running:
                wait = 0.0 if fast else max(0.0, deadline - time.monotonic())
                if not select.select([fd], [], [], wait)[0]:
                    break
                data = os.read(fd, 64).decode(errors="replace")
                for c in data:
                    if not panel.handle_key(c):
                        running = False
                        break
                if fast:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        outp.write("\x1b[?25h\x1b[?1049l")
        outp.flush()
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
        if bridge is not None:
            bridge.close()
        sess.close()
    for tb in sess.runner.crashes:
        print("firmware crashed:\n" + tb, file=sys.stderr)
    return 1 if sess.runner.crashes else 0


def _pins_line(sess: SimSession, t0: int, t1: int) -> str:
    chip = sess.chip
    brd = sess.board
    oe = chip.level(brd.outputs.output_enable.pin)
    led = readout.active(chip, brd.outputs.status_led.pin, brd.outputs.status_led.active_level)
    chans = []
    for i, ch in enumerate(brd.channels):
        chans.append(ch.name + ":" + ("~" if readout.pulses(chip, brd, i, t0, t1) else "_"))
    return "OE=%d LED=%s %s" % (oe, "on " if led else "off", " ".join(chans))


def run_plain(board: str, until_s: Optional[float] = None, speed: str = "1") -> int:
    """No terminal: print on change, until until_s (or Ctrl-C)."""
    try:
        brd = load_board(board)
    except (OSError, ValueError) as e:
        print("picostim sim: " + board + ": " + str(e), file=sys.stderr)
        return 2
    fast = speed == "max"
    factor = 1.0 if fast else float(speed)
    sess = SimSession(board, brd)
    pty_path, bridge = _bridge(sess)
    print("PicoStim simulator: board %s (%s), firmware %s" % (brd.name, board, sess.runner.firmware_dir))
    if pty_path:
        print("console on " + pty_path, flush=True)
    shown = 0
    last = ""
    try:
        start = time.monotonic()
        while until_s is None or sess.now_ns < until_s * 1e9:
            t0 = sess.now_ns
            t1 = t0 + int(FRAME_S * NS_PER_S)
            if until_s is not None:
                t1 = min(t1, round(until_s * 1e9))
            sess.run_until(t1)
            lines = sess.runner.console_out
            while shown < len(lines):
                print("  console> " + lines[shown])
                shown += 1
            w = sess.world
            state = "key=%s estop=%s %s" % ("in " if w.key_present() else "out",
                                            "pressed " if w.estop_pressed() else "released",
                                            _pins_line(sess, t0, sess.now_ns))
            if state != last:  # print on change only, so a quiet board is a quiet screen
                print("t=%8.2fs %s" % (sess.now_ns / 1e9, state), flush=True)
                last = state
            sess.chip.forget_before(sess.now_ns - 2 * RATE_WINDOW_NS)
            if not fast:
                lag = start + sess.now_ns / 1e9 / factor - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
    except KeyboardInterrupt:
        pass
    finally:
        if bridge is not None:
            bridge.close()
        sess.close()
    for tb in sess.runner.crashes:
        print("firmware crashed:\n" + tb, file=sys.stderr)
    return 1 if sess.runner.crashes else 0


def run(board: str, until_s: Optional[float] = None, speed: str = "1", script: Optional[str] = None,
        vcd: Optional[str] = None) -> int:
    """`picostim sim`: headless with --script/--vcd, the front panel on a terminal, else plain output."""
    if speed != "max":
        try:
            if not float(speed) > 0:
                raise ValueError
        except ValueError:
            print("picostim sim: --speed must be 'max' or a number > 0, got %r" % speed, file=sys.stderr)
            return 2
    if script is not None or vcd is not None:
        from . import headless

        return headless.run(board, script, until_s, vcd, speed)
    if until_s is None and sys.stdin.isatty() and sys.stdout.isatty():
        return run_panel(board, speed)
    return run_plain(board, until_s, speed)
