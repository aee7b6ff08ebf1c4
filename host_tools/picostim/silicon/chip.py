"""Drive one emulated RP2040 (node/harness.mjs) from Python.

    with Silicon() as chip:              # MicroPython v1.28.0 from a fresh flash
        chip.run_until_text(b">>> ", 2_000_000_000)
        chip.write(b"print(1)\\r")
        chip.run_for(50_000_000)
        print(chip.serial_text())

The chip runs only inside run_* calls, so a sequence of calls gives the same serial
output and pin trace every time. Time is integer nanoseconds since power-on.
"""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Optional

from picostim.silicon import images

NODE_DIR = Path(__file__).resolve().parent / "node"
HARNESS = NODE_DIR / "harness.mjs"

Pin = tuple[int, int, Optional[int]]  # (ns, gpio, level 1/0/None for floating)


class SiliconError(RuntimeError):
    """The harness could not start, or refused a request."""


def node_command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        raise SiliconError("silicon tier: Node.js is not installed; install Node.js 18+ and npm"
                           " (Debian: apt-get install nodejs npm), then run `make setup`")
    if not (NODE_DIR / "node_modules" / "rp2040js").is_dir():
        raise SiliconError("silicon tier: rp2040js is not installed in " + str(NODE_DIR)
                           + "; run `make setup` (it runs npm ci there)")
    return [node, str(HARNESS)]


class Silicon:
    """One emulated chip. `flash` starts it from a saved flash image instead of the bare firmware."""

    def __init__(self, flash: Optional[Path] = None, flash_timing: str = "typical",
                 keep_pins: bool = True) -> None:
        args = ["--bootrom", str(images.find(images.BOOTROM)), "--flash-timing", flash_timing]
        if flash is not None:
            args += ["--flash", str(flash)]
        else:
            args += ["--uf2", str(images.find(images.FIRMWARE))]
        self.proc = subprocess.Popen([*node_command(), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="latin-1")
        first = self._read()
        if not first.get("ok"):
            self.close()
            raise SiliconError("silicon harness did not start: " + str(first.get("error")))
        self.now_ns = 0
        self.serial = bytearray()  # everything the device sent, from power-on
        self._read_pos = 0
        self.keep_pins = keep_pins
        self.pins: list[Pin] = []
        self.levels: list[Optional[int]] = list(self.request("levels")["levels"])

    # -- transport ------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.poll()
            raise SiliconError("silicon harness exited (status %s)" % code)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def request(self, op: str, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        if not reply.get("ok"):
            raise SiliconError("silicon harness refused %s: %s" % (op, reply.get("error")))
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Silicon":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running --------------------------------------------------------------------------
    def _absorb(self, reply: dict[str, Any]) -> dict[str, Any]:
        self.now_ns = int(reply["now_ns"])
        self.serial += reply["serial"].encode("latin-1")
        for ns, gpio, level in reply["pins"]:
            self.levels[gpio] = level
            if self.keep_pins:
                self.pins.append((int(ns), gpio, level))
        return reply

    def run_for(self, ns: int) -> None:
        self._absorb(self.request("run", for_ns=int(ns)))

    def run_until(self, ns: int) -> None:
        self._absorb(self.request("run", until_ns=int(ns)))

    def run_until_text(self, text: bytes, timeout_ns: int) -> bool:
        """Run until the device has sent `text` since the last read_new(), or the timeout; True if seen."""
        if text in self.serial[self._read_pos:]:
            return True
        reply = self._absorb(self.request("run", for_ns=int(timeout_ns), until_text=text.decode("latin-1")))
        return reply["stopped"] == "text" or text in self.serial[self._read_pos:]

    def read_new(self) -> bytes:
        """What the device sent since the last read_new()."""
        data = bytes(self.serial[self._read_pos:])
        self._read_pos = len(self.serial)
        return data

    def serial_text(self) -> str:
        return self.serial.decode("utf-8", "replace")

    # -- the world ------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Bytes from the USB host to the device (buffered until the device reads them)."""
        self.request("serial", data=data.decode("latin-1"))

    def set_input(self, gpio: int, level: Optional[int]) -> None:
        """Drive a pad high (1) or low (0), or let it float (None)."""
        self.request("input", gpio=gpio, level=level)
        self.levels = list(self.request("levels")["levels"])

    def power_cut(self, off_ns: int = 0) -> None:
        self._absorb({**self.request("power_cut", off_ns=int(off_ns)), "serial": "", "pins": []})

    def stats(self) -> dict[str, Any]:
        return self.request("stats")

    def save_flash(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.request("save_flash", path=str(path))

    def peek32(self, addr: int) -> int:
        return int(self.request("peek32", addr=addr)["value"])

    def host_reading(self, on: bool) -> int:
        """Make the USB host stop (False) or resume (True) reading the CDC serial port.

        While stopped, the device's bulk-in buffers stay offered and unsent (the endpoint
        NAKs, as to a host that stopped polling); on resume they go out in order. The
        setting survives a chip reset. Returns how many buffers are still held.
        """
        return int(self.request("host_reading", on=bool(on))["held"])

    def set_adc(self, channel: int, value: int) -> None:
        """Put a level on ADC input `channel` (0..3 = GPIO 26..29, 4 = temperature sensor).

        `value` is the 12-bit conversion result (0..4095); it stays across chip resets.
        """
        self.request("adc", channel=int(channel), value=int(value))

    def attach_mcp4728(self, bus: int = 0, sda: Optional[int] = None, scl: Optional[int] = None,
                       address: int = 0x60, ldac: int = 0) -> None:
        """Wire an MCP4728 DAC to I2C controller `bus` (through GPIOs sda/scl if given).

        `ldac` is its LDAC pin's level (0: every input register write reaches the output).
        It keeps its registers across chip resets and loads them from EEPROM after a power cut.
        """
        pins = {k: v for k, v in (("sda", sda), ("scl", scl)) if v is not None}
        self.request("mcp4728", bus=bus, address=address, ldac=ldac, **pins)

    def dac(self) -> tuple[list[tuple[int, int, int, int]], list[int]]:
        """The MCP4728's output updates since the last call, as (ns, channel 0..3, code, pd),
        and its four output codes now (pd 0 = on, 1..3 = powered down)."""
        reply = self.request("dac")
        return [(int(ns), ch, code, pd) for ns, ch, code, pd in reply["dac"]], list(reply["codes"])

    # -- bench observers (node/observe.mjs) -------------------------------------------------
    def observe(self, on: bool = True, gc_pcs: Optional[list[int]] = None, stretches: bool = False,
                profile: bool = False, over_ns: int = 50_000) -> None:
        """Start (or stop) watching the core: masked windows, busy stretches (wake to sleep), a PC
        profile, and masked windows in which any of `gc_pcs` (16-byte lines) ran. Lost on a reset."""
        self.request("observe", on=on, gc_pcs=list(gc_pcs or []), stretches=stretches, profile=profile,
                     over_ns=over_ns)

    def observations(self, take: bool = True) -> dict[str, Any]:
        """What the observer saw since observe(); take=True empties the stretch list and profile."""
        return self.request("observations", take=take)

    def attach_ssd1306(self, bus: int = 0, sda: Optional[int] = None, scl: Optional[int] = None,
                       address: int = 0x3C) -> None:
        """Wire an SSD1306 OLED (it ACKs every write; node/i2c_ssd1306.mjs) to I2C controller `bus`."""
        pins = {k: v for k, v in (("sda", sda), ("scl", scl)) if v is not None}
        self.request("ssd1306", bus=bus, address=address, **pins)

    def oled_traffic(self) -> tuple[int, int]:
        """(write messages, bytes) the SSD1306 has taken since it was wired."""
        r = self.request("oled")
        return int(r["messages"]), int(r["bytes"])
