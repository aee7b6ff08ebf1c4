"""MicroPython's raw REPL over the emulated chip's USB serial, as mpremote and pyboard.py use it.

Ctrl-C twice stops whatever runs, Ctrl-A enters raw mode; each exec sends the code and Ctrl-D,
and the board answers "OK", the output, Ctrl-D, the exception text, Ctrl-D, ">".
"""

from picostim.silicon.chip import Silicon, SiliconError

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
SECOND_NS = 1_000_000_000


class ReplError(SiliconError):
    """The code raised on the board; the message is MicroPython's traceback."""


class RawRepl:
    def __init__(self, chip: Silicon) -> None:
        self.chip = chip

    def enter(self, timeout_ns: int = 5 * SECOND_NS) -> None:
        chip = self.chip
        chip.read_new()
        chip.write(b"\r\x03\x03")
        chip.run_for(50_000_000)
        chip.read_new()
        chip.write(b"\r\x01")
        if not chip.run_until_text(RAW_BANNER, timeout_ns):
            raise SiliconError("the board did not enter the raw REPL; it said: %r" % chip.read_new()[-300:])
        chip.read_new()

    def exec_raw(self, code: str, timeout_ns: int = 10 * SECOND_NS) -> tuple[bytes, bytes]:
        """Run `code`; (output, exception text). Raises SiliconError if the board does not answer."""
        chip = self.chip
        data = code.encode("utf-8")
        # The raw REPL reads a line buffer of its own; feed it in slices it can take.
        for i in range(0, len(data), 256):
            chip.write(data[i:i + 256])
            chip.run_for(2_000_000)
        chip.write(b"\x04")
        if not chip.run_until_text(b"\x04>", timeout_ns) or not chip.run_until_text(b"\x04", 0):
            raise SiliconError("no answer from the raw REPL within %.1f s; it said: %r"
                               % (timeout_ns / 1e9, chip.read_new()[-300:]))
        reply = chip.read_new()
        if not reply.startswith(b"OK"):
            raise SiliconError("the raw REPL did not take the code: %r" % reply[:200])
        body = reply[2:]
        end = body.rindex(b"\x04>")
        out, _, err = body[:end].partition(b"\x04")
        return out, err

    def exec(self, code: str, timeout_ns: int = 10 * SECOND_NS) -> str:
        out, err = self.exec_raw(code, timeout_ns)
        if err:
            raise ReplError(err.decode("utf-8", "replace").strip())
        return out.decode("utf-8", "replace")

    def put_file(self, path: str, data: bytes, chunk: int = 512) -> None:
        self.exec("f=open(%r,'wb')\nw=f.write" % path)
        for i in range(0, len(data), chunk):
            self.exec("w(%r)" % data[i:i + chunk])
        self.exec("f.close()")

    def soft_reset_to_main(self) -> None:
        """Leave the raw REPL with a soft reset, which runs boot.py and main.py."""
        self.chip.write(b"\x02\x04")


BOOT_NS = 1_600_000_000  # MicroPython v1.28.0 reaches its REPL about 1.4 s after power-on


def boot_to_repl(chip: Silicon) -> RawRepl:
    """Run a freshly powered chip to MicroPython's REPL and enter the raw REPL."""
    chip.run_until(chip.now_ns + BOOT_NS)
    repl = RawRepl(chip)
    repl.enter()
    return repl
