"""The USB serial (CDC) as the console uses it: reads and writes that never wait.

MicroPython's rp2 port (ports/rp2/mphalport.c, shared/tinyusb/mp_usbd_cdc.c):
- received bytes wait in stdin_ringbuf (512 bytes; behind it TinyUSB's 256-byte FIFO, and when
  both are full the host is held off, so nothing is lost);
- sys.stdin.buffer.readinto(buf, n) blocks until n bytes came, so this module reads one byte at a
  time and only after select.poll said one is there (POLLIN: the ring buffer is not empty);
- poll.ipoll() reuses one result tuple (allocated at its first call, made here in __init__), so
  polling allocates nothing: the console's idle tick stays allocation-free. `rx_poll` is that
  poll object: the console's idle pass iterates `rx_poll.ipoll(0)` itself (one C call, ~12 us on
  the emulated RP2040) and goes no further when it yields nothing;
- POLLOUT on stdout: no host has the port open (writes go to the FIFO, which keeps the newest
  bytes) or the TX FIFO has room for one byte. A write of n bytes waits until n bytes are free, up
  to 500 ms (MICROPY_HW_USB_CDC_TX_TIMEOUT), when a connected host stops reading. So the console
  writes one whole 64-byte packet at a time, each after POLLOUT, and pads its lines to whole
  packets (stim.console.packed): the FIFO's free space is then a multiple of a packet and no
  write waits. (Measured on the silicon tier: writing byte by byte, each after POLLOUT, also never
  waits but costs ~65 us a byte; a 64-byte write ~40 us.)
- micropython.kbd_intr(-1) makes Ctrl-C (0x03) plain data instead of a KeyboardInterrupt, so a
  stray byte cannot break into the main loop; the maintenance escape (program button held at
  boot) still leaves the REPL reachable.
"""

import select
import sys

import micropython

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CTRL_C = 3


class UsbSerial:
    """Non-blocking byte I/O on the board's USB serial (sys.stdin.buffer / sys.stdout.buffer)."""

    def __init__(self) -> None:
        self._in: "Any" = sys.stdin.buffer
        self._out: "Any" = sys.stdout.buffer
        self._rd: "Any" = select.poll()
        self._rd.register(sys.stdin, select.POLLIN)
        # The console's idle pass asks this poll itself (stim.console: one ipoll, no method call).
        self.rx_poll: "Any" = self._rd
        self._wr: "Any" = select.poll()
        self._wr.register(sys.stdout, select.POLLOUT)
        self._one = bytearray(1)
        for _ in self._rd.ipoll(0):  # first ipoll allocates its result tuple: do it now, not in a tick
            pass
        for _ in self._wr.ipoll(0):
            pass

    def claim(self) -> None:
        """The console owns the serial now: Ctrl-C is data, not a KeyboardInterrupt."""
        micropython.kbd_intr(-1)

    def release(self) -> None:
        micropython.kbd_intr(_CTRL_C)

    def read_into(self, buf: bytearray, n: int) -> int:
        """Copy up to n bytes that have already arrived into buf[0:n]; return how many. Never waits.
        (The poll is inline, not a method: a call costs ~12 us a byte on the RP2040.)"""
        i = 0
        while i < n:
            for _ in self._rd.ipoll(0):
                break
            else:
                return i  # nothing more has arrived
            if self._in.readinto(self._one, 1) != 1:
                break
            buf[i] = self._one[0]
            i += 1
        return i

    def writable(self) -> bool:
        for _ in self._wr.ipoll(0):
            return True
        return False

    def write(self, data: "Any") -> int:
        """Write a bytes-like object (call writable() first); returns its length."""
        self._out.write(data)
        return len(data)
