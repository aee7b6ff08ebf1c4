"""patches/usb.mjs: a USB host that stops reading the CDC serial port, and what MicroPython does then.

While the host is not reading, the device's bulk-in buffers stay offered and unsent (as to a
host that stopped polling: the endpoint NAKs). MicroPython v1.28.0's rp2 port buffers about
256 bytes (TinyUSB's TX FIFO plus the 64-byte packet in flight); a write that finds no room
waits up to MICROPY_HW_USB_CDC_TX_TIMEOUT (500 ms) for the host, then drops what is left and
still returns the full length. These tests pin that down, and that a stall shorter than the
timeout loses nothing.
"""

import ast
import re
from typing import Any

from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl

MS = 1_000_000
# 32 numbered 61-byte records, no newline: one stdout write of 1952 bytes (a "\n" would split
# the write in two per line, each with its own timeout).
DATA = b"".join(b"%05d:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQR." % i for i in range(32))
SETUP = ("import sys, time, select\n"
         "D=''.join('%05d:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQR.' % i for i in range(32))\n"
         "P=select.poll()\nP.register(sys.stdout, select.POLLOUT)\nR={}")


def stalled_exec(chip: Silicon, code: str, stall_ns: int) -> tuple[bytes, bytes]:
    """Send `code` to the raw REPL with the host not reading, run stall_ns, resume.

    Returns (bytes the host got while stalled, the raw REPL's answer after resuming)."""
    chip.read_new()
    assert chip.host_reading(False) == 0
    chip.write(code.encode())
    chip.run_for(2 * MS)
    chip.write(b"\x04")
    chip.run_for(stall_ns)
    during = chip.read_new()
    chip.host_reading(True)
    assert chip.run_until_text(b"\x04>", 2_000 * MS)
    assert chip.run_until_text(b"\x04", 0)
    return during, chip.read_new()


def output_of(reply: bytes) -> bytes:
    """The printed output in a raw REPL answer ("OK", output, ^D, exception text, ^D, ">")."""
    assert reply.startswith(b"OK"), reply[:100]
    body = reply[2:]
    out, _, err = body[:body.rindex(b"\x04>")].partition(b"\x04")
    assert err == b"", err
    return out


def board_results(repl: RawRepl) -> dict[str, Any]:
    text = repl.exec("print(repr(R))").strip()
    # poll() results print as [(<io.TextIOWrapper 1>, 4)]: keep only the event masks
    text = re.sub(r"\(<io\.\w+ \d+>, (\d+)\)", r"\1", text)
    results: dict[str, Any] = ast.literal_eval(text)
    return results


def test_enumerates_and_takes_input(chip: Silicon, repl: RawRepl) -> None:
    assert chip.stats()["usb_connected"] is True
    assert repl.exec("print(6*7)") == "42\r\n"  # host -> device (bulk out) and back


def test_short_stall_delays_but_loses_nothing(chip: Silicon, repl: RawRepl) -> None:
    repl.exec(SETUP)
    code = "t0=time.ticks_us()\nR['n']=sys.stdout.write(D)\nR['us']=time.ticks_diff(time.ticks_us(),t0)"
    during, reply = stalled_exec(chip, code, 300 * MS)
    assert during == b""  # not even the raw REPL's "OK": the first packet is held
    assert output_of(reply) == DATA  # every byte, in order, once the host reads again
    r = board_results(repl)
    assert r["n"] == len(DATA)
    # the write waited for the host: from shortly after the stall began until it ended
    assert 200_000 < int(r["us"]) < 320_000, r


def test_long_stall_times_out_drops_the_rest_and_polls_not_writable(chip: Silicon, repl: RawRepl) -> None:
    repl.exec(SETUP)
    code = ("R['before']=P.poll(0)\n"
            "t0=time.ticks_us()\nR['n']=sys.stdout.write(D)\nR['us']=time.ticks_diff(time.ticks_us(),t0)\n"
            "R['full']=P.poll(0)\n"
            "t0=time.ticks_us()\nR['wait']=P.poll(100)\nR['wait_us']=time.ticks_diff(time.ticks_us(),t0)\n"
            "t0=time.ticks_us()\nR['n1']=sys.stdout.write('x')\nR['us1']=time.ticks_diff(time.ticks_us(),t0)")
    during, reply = stalled_exec(chip, code, 1_300 * MS)
    assert during == b""
    out = output_of(reply)
    # What the device had buffered when the host stopped arrives, in order; the rest of the
    # write, and the later "x", were dropped after the 500 ms timeout.
    assert out == DATA[:256], (len(out), out[-40:])
    r = board_results(repl)
    assert r["before"] == [4]  # POLLOUT while the FIFO had room
    assert r["n"] == len(DATA)  # the write still reports every byte written
    assert 495_000 < int(r["us"]) < 505_000, r
    assert r["full"] == []  # POLLOUT clear while stalled with the FIFO full ...
    assert r["wait"] == []  # ... and poll(100) waits its whole timeout for it
    assert 99_000 < int(r["wait_us"]) < 110_000, r
    assert r["n1"] == 1 and 495_000 < int(r["us1"]) < 505_000, r
    repl.exec("R['after']=P.poll(0)")
    assert board_results(repl)["after"] == [4]  # writable again once the host reads


def test_stopped_reading_survives_a_reset(chip: Silicon, repl: RawRepl) -> None:
    resets = len(chip.stats()["resets"])
    chip.read_new()
    chip.host_reading(False)
    chip.write(b"import machine\nmachine.reset()\x04")
    chip.run_for(2_500 * MS)  # the new chip enumerates and boots to its REPL
    assert len(chip.stats()["resets"]) == resets + 1
    assert chip.stats()["usb_connected"] is True
    # The banner waits in TinyUSB's FIFO for a flush (rp2040js sends no SOF, so the flush
    # MicroPython schedules on DTR never comes); a keypress makes the REPL write and flush.
    chip.write(b"\r")
    chip.run_for(50 * MS)
    assert chip.read_new() == b""  # held on the new chip too
    assert chip.host_reading(True) == 0
    assert chip.run_until_text(b">>> \r\n>>> ", 100 * MS)
    assert b"MicroPython v1.28.0" in chip.read_new()
    RawRepl(chip).enter()
