"""The board's USB serial (TinyUSB CDC under MicroPython's stdio) as the firmware sees it, and the host's end.

What the firmware sees is what MicroPython 1.2x's rp2 port does (ports/rp2/mphalport.c,
shared/tinyusb/mp_usbd_cdc.c, shared/runtime/sys_stdio_mphal.c, extmod/modselect.c):

- Host -> board. Bytes the host sends land in TinyUSB's RX FIFO (RX_FIFO bytes at full speed) and
  tud_cdc_rx_cb moves them into stdin_ringbuf (STDIN_BUF bytes). With both full the OUT endpoint
  NAKs, so the host's write waits and nothing is lost: here the host side keeps what does not fit
  yet (HOST_BUF bytes at most, as an OS serial buffer would) and feeds it in as room frees.
- The interrupt character (micropython.kbd_intr: Ctrl-C = 3 while a script runs, -1 = off) never
  reaches the ring buffer: its arrival empties the ring buffer and schedules KeyboardInterrupt,
  which the firmware gets at its next step (the runner raises it when the firmware resumes).
- sys.stdin.buffer.read(n) / readinto(buf, n) block until n bytes came (no short reads);
  sys.stdin, the text stream, turns each \\r into \\n.
- select.poll: POLLIN while the ring buffer holds a byte; POLLOUT while a byte fits (below).
- Board -> host. print() goes through mp_hal_stdout_tx_strn_cooked (\\n -> \\r\\n);
  sys.stdout.buffer.write is raw. Lines also go to `lines` (BoardRunner.console_out).

- A connected host that stops reading (stop_reading(), resume_reading(); the silicon tier's USB
  host does the same): what the board writes stays on the board, TinyUSB's TX FIFO (TX_FIFO bytes)
  plus the packet in flight in the endpoint (PACKET). mp_usbd_cdc_tx_strn writes in pieces of at
  most PACKET bytes and waits for room for the whole piece for up to TX_TIMEOUT_NS (500 ms,
  MICROPY_HW_USB_CDC_TX_TIMEOUT), then writes what fits and drops the rest; POLLOUT is set while
  one byte fits. While the host reads, every write goes through at once.
While no host is attached the model keeps only the newest TX_FIFO bytes, as TinyUSB's FIFO does.

Every firmware-side call charges one model call (fakehw.chip.enter/leave), like machine calls.
"""

import _thread

from . import chip as _chip

STDIN_BUF = 512  # MICROPY_HW_STDIN_BUFFER_LEN, ports/rp2
RX_FIFO = 256  # CFG_TUD_CDC_RX_BUFSIZE at full speed
TX_FIFO = 256  # CFG_TUD_CDC_TX_BUFSIZE at full speed
PACKET = 64  # CFG_TUD_CDC_EP_BUFSIZE: the bulk-in packet, and the largest piece of one write
TX_TIMEOUT_NS = 500_000_000  # MICROPY_HW_USB_CDC_TX_TIMEOUT
HOST_BUF = 65536  # what the host side holds back while the board's buffers are full
HOST_OUT_MAX = 1 << 20  # board -> host bytes kept for an attached host that has not read them yet
CTRL_C = 3

POLLIN = 0x0001  # MP_STREAM_POLL_RD
POLLOUT = 0x0004  # MP_STREAM_POLL_WR
POLLERR = 0x0008
POLLHUP = 0x0010


class UsbCdc:
    """One board's USB CDC. Firmware side: `stdin`, `stdout` (sys.stdin/sys.stdout while it runs).
    Host side (any thread): host_write(), host_read(), attach(), detach()."""

    def __init__(self, lines: "list[str]") -> None:
        self.lines = lines
        self.interrupt_char = CTRL_C
        self.interrupts = 0  # KeyboardInterrupts delivered
        self._lock = _thread.allocate_lock()
        self._host = bytearray()  # sent by the host, not yet in the board's FIFO
        self._fifo = bytearray()  # TinyUSB RX FIFO
        self._ring = bytearray()  # stdin_ringbuf
        self._tx = bytearray()  # board -> host, not read yet
        self._attached = False
        self._reading = True  # an attached host takes what the board writes
        self._held = bytearray()  # written while the host did not read: the FIFO and the packet in flight
        self.dropped = 0  # bytes a write dropped after waiting TX_TIMEOUT_NS for room
        self._pending_interrupt = False
        self._partial = ""
        self.stdin = _Stdin(self)
        self.stdout = _Stdout(self)

    # -- host side ---------------------------------------------------------------------------
    def host_write(self, data: bytes) -> int:
        """The host sends data; returns how much was taken (less only while HOST_BUF is full)."""
        with self._lock:
            n = min(len(data), HOST_BUF - len(self._host))
            self._host.extend(data[:n])
            self._pump()
        return n

    def host_room(self) -> int:
        """How many bytes host_write would take now."""
        with self._lock:
            return HOST_BUF - len(self._host)

    def host_read(self) -> bytes:
        """Everything the board wrote since the last call."""
        with self._lock:
            out = bytes(self._tx)
            self._tx = bytearray()
        return out

    def attach(self) -> None:
        """A host program opened the port (DTR): from now on every byte the board writes is kept for it."""
        with self._lock:
            self._attached = True

    def stop_reading(self) -> None:
        """The host has the port open but stops reading (its endpoint NAKs)."""
        with self._lock:
            self._attached = True
            self._reading = False

    def resume_reading(self) -> None:
        """The host reads again: what waited on the board goes out, in order."""
        with self._lock:
            self._reading = True
            self._tx.extend(self._held)
            self._held = bytearray()

    def _room(self) -> int:
        """Bytes a write may add now without waiting (lock held)."""
        if not self._attached or self._reading:
            return 1 << 30
        return TX_FIFO + PACKET - len(self._held)

    def detach(self) -> None:
        with self._lock:
            self._attached = False
            del self._tx[:-TX_FIFO]

    def pending_in(self) -> int:
        """Bytes sent by the host that the firmware has not read yet."""
        with self._lock:
            return len(self._host) + len(self._fifo) + len(self._ring)

    def take_interrupt(self) -> bool:
        """True once for each KeyboardInterrupt the interrupt character scheduled."""
        with self._lock:
            p = self._pending_interrupt
            self._pending_interrupt = False
        if p:
            self.interrupts += 1
        return p

    def reset(self) -> None:
        """A board reset: RAM buffers and the interrupt character start over (the host's side stays)."""
        with self._lock:
            self._fifo = bytearray()
            self._ring = bytearray()
            self._held = bytearray()  # the board's TX FIFO is RAM too
            self._pending_interrupt = False
            self.interrupt_char = CTRL_C
            self._partial = ""
            self._pump()

    # -- inside the board ----------------------------------------------------------------------
    def _pump(self) -> None:
        """Host -> FIFO while it has room, then tud_cdc_rx_cb: FIFO -> ring buffer. Lock held."""
        room = RX_FIFO - len(self._fifo)
        if room > 0 and self._host:
            self._fifo.extend(self._host[:room])
            del self._host[:room]
        i = 0
        fifo = self._fifo
        while i < len(fifo) and len(self._ring) < STDIN_BUF:
            c = fifo[i]
            i += 1
            if c == self.interrupt_char:
                self._ring = bytearray()  # stdin_ringbuf.iget = iput = 0
                self._pending_interrupt = True
            else:
                self._ring.append(c)
        del fifo[:i]
        if i and self._host:
            self._pump()

    def _readable(self) -> bool:
        with self._lock:
            self._pump()
            return len(self._ring) > 0

    def _get(self) -> int:
        """One byte from the ring buffer, -1 if empty."""
        with self._lock:
            self._pump()
            if not self._ring:
                return -1
            c = self._ring[0]
            del self._ring[0]
            return c

    def _check_interrupt(self) -> None:
        if self.take_interrupt():
            raise KeyboardInterrupt

    def _read_blocking(self, n: int, text: bool) -> bytes:
        out = bytearray()
        clock = _chip.current().clock
        while len(out) < n:
            c = self._get()
            self._check_interrupt()
            if c < 0:
                clock.advance_to(clock.now_ns() + 1_000_000)  # mp_event_wait: time passes, the host may send
                continue
            out.append(10 if text and c == 13 else c)
        return bytes(out)

    def _poll(self, mask: int) -> int:
        ret = 0
        if mask & POLLIN and self._readable():
            ret |= POLLIN
        if mask & POLLOUT:
            with self._lock:
                room = self._room()
            if room > 0:
                ret |= POLLOUT
        self._check_interrupt()
        return ret

    def _write(self, data: bytes, cooked: bool) -> None:
        text = bytes(data).decode("utf-8", "replace")
        part = self._partial + text
        parts = part.split("\n")
        self._partial = parts.pop()
        for p in parts:
            self.lines.append(p[:-1] if p.endswith("\r") else p)
        raw = bytes(data).replace(b"\n", b"\r\n") if cooked else bytes(data)
        i = 0
        while i < len(raw):
            n = min(PACKET, len(raw) - i)
            with self._lock:
                room = self._room()
            if n > room:  # mp_usbd_cdc_tx_strn: wait for room for the whole piece, 500 ms at most
                _chip.current().clock.advance(TX_TIMEOUT_NS)
                with self._lock:
                    room = self._room()
                if n > room:
                    n = max(0, room)
                    if n == 0:
                        with self._lock:
                            self.dropped += len(raw) - i
                        break
            with self._lock:
                if self._attached and not self._reading:
                    self._held.extend(raw[i:i + n])
                else:
                    self._tx.extend(raw[i:i + n])
                    keep = HOST_OUT_MAX if self._attached else TX_FIFO
                    if len(self._tx) > keep:
                        del self._tx[:-keep]
            i += n


class _StdinBuffer:
    """sys.stdin.buffer: raw bytes."""

    _text = False

    def __init__(self, usb: UsbCdc) -> None:
        self._usb = usb

    def _read(self, n: int) -> bytes:
        if n < 0:
            raise OSError(22, "EINVAL")  # the board's stdin never ends: read() with no size would never return
        t = _chip.enter()
        try:
            return self._usb._read_blocking(n, self._text)
        finally:
            _chip.leave(t)

    def read(self, n: int = -1) -> bytes:
        return self._read(n)

    def readinto(self, buf: "bytearray | memoryview", n: int = -1) -> int:
        size = len(buf) if n < 0 else min(n, len(buf))
        t = _chip.enter()
        try:
            data = self._usb._read_blocking(size, self._text)
        finally:
            _chip.leave(t)
        buf[:size] = data
        return size

    def _model_poll(self, mask: int) -> int:
        return self._usb._poll(mask)


class _Stdin(_StdinBuffer):
    """sys.stdin: text, each \\r read as \\n; .buffer is the raw stream."""

    _text = True

    def __init__(self, usb: UsbCdc) -> None:
        super().__init__(usb)
        self.buffer = _StdinBuffer(usb)

    def read(self, n: int = -1) -> str:  # type: ignore[override]
        return self._read(n).decode("utf-8", "replace")


class _Stdout:
    """sys.stdout (print: cooked) and sys.stdout.buffer (raw)."""

    def __init__(self, usb: UsbCdc, raw: bool = False) -> None:
        self._usb = usb
        self._raw = raw
        if not raw:
            self.buffer = _Stdout(usb, True)

    def write(self, data: "str | bytes | bytearray | memoryview") -> int:
        b = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self._usb._write(b, not self._raw)
        return len(data)

    def flush(self) -> None:
        return None

    def _model_poll(self, mask: int) -> int:
        return self._usb._poll(mask)


# -- micropython.kbd_intr, routed to the board that runs --------------------------------------
_current: "list[UsbCdc | None]" = [None]


def set_current(usb: "UsbCdc | None") -> None:
    _current[0] = usb


def kbd_intr(c: int) -> None:
    """micropython.kbd_intr(c): the interrupt character of the running board's stdin; -1 disables it."""
    usb = _current[0]
    if usb is not None:
        usb.interrupt_char = c
