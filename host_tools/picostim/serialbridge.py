"""A simulated board's USB serial on a pseudo-terminal, so serial programs talk to it as to a board.

    bridge = serialbridge.start(runner)   # runner: fakehw.runner.BoardRunner
    print(bridge.path)                    # e.g. /dev/pts/7: picostim console --port /dev/pts/7 status
    ...
    bridge.close()

A thread pumps bytes both ways between the pty and the model's USB CDC (fakehw.usbcdc): what a
program writes to the pty is what the host sends the board (held back while the board's buffers
are full, as USB flow control does), and what the firmware writes comes out of the pty. The pty
is raw (no echo, no newline translation), as a USB CDC port is.

The runner still has to run: `Pacer` runs it in a background thread at a fixed speed relative to
wall-clock time, for tests and tools that have no loop of their own (`picostim sim` has one).
"""

import os
import select
import threading
import time
import tty
from typing import Optional

from picostim.fakehw.runner import BoardRunner

POLL_S = 0.005
OUT_PENDING_MAX = 1 << 16  # board -> pty bytes kept while nobody reads the pty; older ones are dropped


class Bridge:
    def __init__(self, runner: BoardRunner) -> None:
        self.runner = runner
        self.usb = runner.usb
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # keep the slave open: without one, reads on the master fail with EIO
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.dropped = 0  # board output bytes dropped because nobody read the pty
        self._to_board = b""
        self._to_host = b""
        self._stop = threading.Event()
        self.usb.attach()
        self._thread = threading.Thread(target=self._pump, name="serialbridge", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                r, _w, _x = select.select([self._master], [], [], POLL_S)
            except (OSError, ValueError):
                return
            if r:
                try:
                    self._to_board += os.read(self._master, 4096)
                except BlockingIOError:
                    pass
                except OSError:
                    return
            if self._to_board:
                n = self.usb.host_write(self._to_board)
                self._to_board = self._to_board[n:]
            self._to_host += self.usb.host_read()
            if len(self._to_host) > OUT_PENDING_MAX:
                self.dropped += len(self._to_host) - OUT_PENDING_MAX
                self._to_host = self._to_host[-OUT_PENDING_MAX:]
            if self._to_host:
                try:
                    n = os.write(self._master, self._to_host)
                    self._to_host = self._to_host[n:]
                except BlockingIOError:
                    pass
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.usb.detach()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "Bridge":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start(runner: BoardRunner) -> Bridge:
    """Expose runner's USB serial on a new pty; the path is `.path`."""
    return Bridge(runner)


class Pacer:
    """Run a BoardRunner in a background thread: `speed` simulated seconds per wall-clock second.

    Nothing else may call the runner's run_* methods, or touch the chip, while the pacer runs;
    stop() first. While the firmware runs, the runner swaps process-wide state (sys.stdout,
    sys.stdin, sys.modules["time"] and ["select"], the working directory), so other threads should
    write to explicit streams, use absolute paths and import nothing new meanwhile.
    """

    def __init__(self, runner: BoardRunner, speed: float = 1.0, step_ns: int = 10_000_000) -> None:
        self.runner = runner
        self.speed = speed
        self.step_ns = step_ns
        self.error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pacer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        r = self.runner
        t0_wall = time.monotonic()
        t0_sim = r.now_ns
        try:
            while not self._stop.is_set():
                r.run_for(self.step_ns)
                r.chip.forget_before(r.now_ns - 2_000_000_000)
                ahead = (r.now_ns - t0_sim) / 1e9 / self.speed - (time.monotonic() - t0_wall)
                if ahead > 0:
                    self._stop.wait(ahead)
        except BaseException as e:  # noqa: BLE001 - handed to the thread that stops the pacer
            self.error = e

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.error is not None:
            raise RuntimeError("the paced runner failed") from self.error

    def __enter__(self) -> "Pacer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
