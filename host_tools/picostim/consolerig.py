"""A controller and its serial console on the RP2040 model, built as stim.app.build() builds them.

For tests (tests/target runs this on the MicroPython VM too) and the console bench: no main.py,
no thread, no runner; the caller ticks. The store lives on fakehw's flash model, the port is
`Port` (bytes in, bytes out, no USB), and the switches are driven on the chip's pins.
"""

import json

from picostim import fakehw
from picostim.fakehw.flash import FlashFS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

MS = 1_000_000
_READY = ((None, 1),)  # what Port.ipoll yields while a byte waits (made once: polling allocates nothing)


def boards_dir() -> str:
    """The repository's boards/ directory (found from this file, as on both interpreters)."""
    f = __file__
    i = f.rfind("/")
    here = f[:i] if i >= 0 else "."
    return here + "/../../boards"


class Port:
    """The console's port: `feed()` what the host sends, `replies()` what came back."""

    def __init__(self) -> None:
        self.inbuf = bytearray()
        self.pos = 0
        self.out = bytearray()
        self.can_write = True
        self.reads = 0  # bytes handed to the console
        self.write_sizes: List[int] = []  # bytes per write() call
        self.rx_poll = self  # the console's idle pass polls this (as select.poll on the board)
        self.polls = 0  # ipoll() calls

    def ipoll(self, timeout: int) -> "Any":
        """As select.poll's ipoll(0) on the board's stdin: one entry while a byte waits, else none."""
        self.polls += 1
        return _READY if self.pos < len(self.inbuf) else ()

    def feed(self, data: bytes) -> None:
        self.inbuf.extend(data)

    def pending(self) -> int:
        return len(self.inbuf) - self.pos

    def read_into(self, buf: bytearray, n: int) -> int:
        k = len(self.inbuf) - self.pos
        if k <= 0:
            return 0
        k = min(k, n)
        for i in range(k):
            buf[i] = self.inbuf[self.pos + i]
        self.pos += k
        self.reads += k
        return k

    def writable(self) -> bool:
        return self.can_write

    def write(self, data: "Any") -> int:
        self.out.extend(data)
        self.write_sizes.append(len(data))
        return len(data)

    def lines(self) -> "List[bytes]":
        """Complete lines written so far (taken out of `out`), without the spaces that pad them to
        whole USB packets (stim.console.packed)."""
        out = self.out
        j = out.rfind(b"\n")
        if j < 0:
            return []
        done = bytes(out[:j])
        self.out = bytearray(out[j + 1:])
        return [line.rstrip(b" ") for line in done.split(b"\n")]

    def replies(self) -> "List[Dict[str, Any]]":
        return [json.loads(line) for line in self.lines()]


class Rig:
    """stim4 (or another board) on a fresh chip: controller, console, port; key out, e-stop released."""

    def __init__(self, board_file: str = "stim4.json", store: bool = True, watchdog_reset: bool = False,
                 fs: "Optional[FlashFS]" = None, boot_us: int = 0, rtc: bool = False) -> None:
        """boot_us: the microsecond timer at power-on, e.g. to start ticks_ms just before its wrap.

        rtc: put a DS3231 model on the board's first I2C bus and give the console its driver
        (`self.rtc_chip`, `self.rtc`). With a store, the console also gets the client profiles
        (`self.clients`), as stim.app builds them."""
        from picostim.fakehw.chip import Chip
        from picostim.fakehw.clock import Clock

        self.chip = fakehw.install(Chip(Clock(boot_us)))
        with fakehw.firmware_imports():
            stim = __import__("stim.hal.rp2040")  # via __import__: the host type check never reads hal code
            __import__("stim.hal.outputs")
        from stim import board, console, programs, pulse
        from stim import store as store_mod
        from stim.controller import Controller

        hal = stim.hal.rp2040
        self.board = brd = board.load(boards_dir() + "/" + board_file)
        n = len(brd.channels)
        hw = hal.Hardware(brd)
        hw.outputs_off()
        outs = stim.hal.outputs.ChannelOutputs(brd, irq_off=hal.irq_off, irq_on=hal.irq_on)
        kill = hal.KillPath(brd, outs.dac)
        kill.arm((hw.key, hw.estop))
        self.fs = fs if fs is not None else FlashFS()
        st = None
        if store:
            maxes = pulse.channel_max_ua(brd)
            st = store_mod.Store(self.fs, store_mod.Settings(maxes), max_ua=maxes,
                                 validate=lambda d: programs.validate(d, n))
        self.ctl = Controller(brd, hw, outs, kill, programs.builtins(n), watchdog=None,
                              watchdog_reset=watchdog_reset, store=st)
        self.clients = None
        if st is not None:
            from stim.clients import Clients

            self.clients = Clients(st, n, pulse.channel_max_ua(brd))
        self.rtc_chip = None
        self.rtc = None
        if rtc:
            from picostim.fakehw import ds3231

            bus = brd.i2c[sorted(brd.i2c)[0]]
            self.rtc_chip = ds3231.attach(self.chip, bus.id)
            machine = __import__("machine")  # fakehw's, installed above
            self.rtc = __import__("stim.hal.ds3231").hal.ds3231.Ds3231(
                machine.I2C(bus.id, scl=machine.Pin(bus.scl), sda=machine.Pin(bus.sda), freq=bus.freq))
        self.port = Port()
        self.con = console.Console(self.ctl, self.port, clients=self.clients, rtc=self.rtc)
        self.key(False)
        self.estop(False)

    # -- the world ---------------------------------------------------------------------------
    def key(self, present: bool) -> None:
        k = self.board.inputs.key
        self.chip.drive(k.pin, k.active_level if present else None)

    def estop(self, pressed: bool) -> None:
        e = self.board.inputs.estop
        self.chip.drive(e.pin, None if pressed else e.active_level)

    def button(self, name: str, down: bool) -> None:
        b = self.board.inputs.buttons[name]
        self.chip.drive(b.pin, b.active_level if down else None)

    # -- time --------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return self.chip.clock.ticks_ms()

    def tick(self, n: int = 1) -> None:
        """n main-loop iterations, 10 ms apart: controller tick, then console step (as stim.app.run)."""
        for _ in range(n):
            self.chip.clock.advance(10 * MS)
            now = self.chip.clock.ticks_ms()
            self.ctl.tick(now)
            self.con.step(now)

    def press(self, name: str) -> None:
        self.button(name, True)
        self.tick(10)
        self.button(name, False)
        self.tick(10)

    def ready(self) -> None:
        """Key in, e-stop released, and time for the supervisor to reach READY."""
        self.key(True)
        self.estop(False)
        self.tick(10)

    def ask(self, line: "str | bytes", ticks: int = 40) -> "List[Dict[str, Any]]":
        """Send one line and tick until the console is idle again; the JSON lines that came back."""
        self.port.feed((line.encode() if isinstance(line, str) else line) + b"\n")
        for _ in range(ticks):
            self.tick()
            if not self.con.busy and self.port.pending() == 0:
                break
        return self.port.replies()
