"""The USB serial model (fakehw.usbcdc) and the firmware's use of it (stim.hal.usb_serial) on the runner.

What MicroPython's rp2 port does, per ports/rp2/mphalport.c and shared/tinyusb/mp_usbd_cdc.c:
a 512-byte stdin ring buffer behind TinyUSB's 256-byte FIFO with flow control to the host, the
interrupt character (Ctrl-C) never stored but raising KeyboardInterrupt while enabled, \\r -> \\n
on the text stdin only, and \\n -> \\r\\n on print() only.
"""

import json

import pytest
from picostim import fakehw
from picostim.fakehw import usbcdc, vselect
from picostim.fakehw.runner import BOARDS_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod

MS = 1_000_000
BOARD = BOARDS_DIR / "stim4.json"


def _usb() -> usbcdc.UsbCdc:
    fakehw.install()
    return usbcdc.UsbCdc([])


def test_flow_control_holds_the_host_back_and_loses_nothing() -> None:
    usb = _usb()
    data = bytes(32 + i % 95 for i in range(3000))
    assert usb.host_write(data) == len(data)
    assert usb.stdin._model_poll(vselect.POLLIN) == vselect.POLLIN
    got = usb.stdin.buffer.read(2000) + usb.stdin.buffer.read(1000)
    assert got == data
    assert usb.pending_in() == 0
    assert usb.stdin._model_poll(vselect.POLLIN) == 0


def test_the_ring_buffer_and_fifo_hold_768_bytes_the_rest_waits_on_the_host() -> None:
    usb = _usb()
    usb.host_write(b"x" * 1000)
    assert len(usb._ring) == usbcdc.STDIN_BUF and len(usb._fifo) == usbcdc.RX_FIFO
    assert len(usb._host) == 1000 - usbcdc.STDIN_BUF - usbcdc.RX_FIFO


def test_ctrl_c_clears_the_ring_buffer_and_raises_while_enabled() -> None:
    usb = _usb()
    usb.host_write(b"ab\x03cd")
    with pytest.raises(KeyboardInterrupt):
        usb.stdin._model_poll(vselect.POLLIN)
    assert usb.stdin.buffer.read(2) == b"cd"
    assert usb.interrupts == 1
    usbcdc.set_current(usb)
    try:
        usbcdc.kbd_intr(-1)  # micropython.kbd_intr(-1): Ctrl-C is data
    finally:
        usbcdc.set_current(None)
    usb.host_write(b"ab\x03cd")
    assert usb.stdin.buffer.read(5) == b"ab\x03cd"
    assert usb.interrupts == 1


def test_text_stdin_turns_cr_into_lf_and_print_is_cooked() -> None:
    usb = _usb()
    usb.host_write(b"a\rb\rc")
    assert usb.stdin.read(3) == "a\nb"
    assert usb.stdin.buffer.read(2) == b"\rc"
    usb.attach()
    usb.stdout.write("one\n")
    usb.stdout.buffer.write(b"two\n")
    assert usb.host_read() == b"one\r\ntwo\n"
    assert usb.lines == ["one", "two"]


def test_without_a_host_only_the_newest_fifo_bytes_are_kept() -> None:
    usb = _usb()
    usb.stdout.buffer.write(b"a" * 1000 + b"end")
    out = usb.host_read()
    assert len(out) == usbcdc.TX_FIFO and out.endswith(b"end")


def _ready(r: BoardRunner) -> World:
    w = World(r.chip, board_mod.load(str(BOARD)))
    w.key(True)
    w.estop(False)
    r.run_for(200 * MS)
    return w


def _replies(r: BoardRunner) -> list[dict[str, object]]:
    return [json.loads(x) for x in r.console_out if x.startswith('{"ok"')]


def test_the_running_firmware_treats_ctrl_c_as_data() -> None:
    with BoardRunner(BOARD) as r:
        _ready(r)
        assert r.usb.interrupt_char == -1  # the console claimed the port: micropython.kbd_intr(-1)
        r.console_send(b"\x03\x03")
        r.console_send('{"cmd": "status"}')
        r.run_for(200 * MS)
        replies = _replies(r)
        assert [x["ok"] for x in replies] == [False, True]
        assert replies[1]["state"] == "READY"
        assert r.crashes == [] and r.usb.interrupts == 0 and r.boots == 1


def test_ctrl_c_before_the_console_starts_breaks_into_the_script_as_on_the_board() -> None:
    with BoardRunner(BOARD) as r:
        r.run_for(10_000)  # 10 us: boot.py is still setting its pins
        r.console_send(b"\x03")  # arrives before main.py's console disables Ctrl-C
        r.run_for(200 * MS)
        assert len(r.crashes) == 1 and "KeyboardInterrupt" in r.crashes[0]
        assert r.usb.interrupt_char == -1  # at the REPL: Ctrl-C is the REPL's
        r.console_send(b"\x03")
        r.run_for(100 * MS)
        assert len(r.crashes) == 1


def test_a_scenario_line_from_a_clock_event_is_answered() -> None:
    with BoardRunner(BOARD) as r:
        _ready(r)
        r.at(r.now_ns + 50 * MS, lambda: r.console_send('{"cmd": "limits.get", "id": 3}'))
        r.run_for(300 * MS)
        replies = _replies(r)
        assert len(replies) == 1 and replies[0]["id"] == 3 and replies[0]["limit_ua"] == [100_000] * 4


def test_console_send_sends_a_whole_line_or_nothing() -> None:
    with BoardRunner(BOARD) as r:
        while r.usb.host_room() > 5:  # the host buffer nearly full, the board not reading yet
            r.usb.host_write(b"x" * (r.usb.host_room() - 5))
        before = r.usb.host_room()
        with pytest.raises(RuntimeError, match="not sent"):
            r.console_send('{"cmd": "status"}')
        assert r.usb.host_room() == before  # no half line went in
        r.console_send("abc")  # 4 bytes with the newline: fits
        assert r.usb.host_room() == before - 4


# -- a host that stops reading (MicroPython's shared/tinyusb/mp_usbd_cdc.c, as the silicon tier shows) --
def test_a_stalled_host_leaves_room_for_the_fifo_and_a_packet_then_a_write_waits_500_ms_and_drops() -> None:
    usb = _usb()
    clock = fakehw.chip.current().clock
    usb.stop_reading()
    out = usb.stdout.buffer
    room = usbcdc.TX_FIFO + usbcdc.PACKET
    t0 = clock.now_ns()
    out.write(b"a" * room)  # fits: no wait
    assert clock.now_ns() == t0
    assert usb.stdout._model_poll(vselect.POLLOUT) == 0  # not one byte of room
    out.write(b"b" * 10)  # waits MICROPY_HW_USB_CDC_TX_TIMEOUT for room, then drops it
    assert clock.now_ns() - t0 == usbcdc.TX_TIMEOUT_NS and usb.dropped == 10
    assert usb.host_read() == b""
    usb.resume_reading()
    assert usb.host_read() == b"a" * room  # what waited on the board, in order
    assert usb.stdout._model_poll(vselect.POLLOUT) == vselect.POLLOUT


def test_a_piece_that_does_not_fit_waits_even_with_some_room() -> None:
    """POLLOUT says one byte fits; a longer write still waits for room for its whole piece."""
    usb = _usb()
    clock = fakehw.chip.current().clock
    usb.stop_reading()
    usb.stdout.buffer.write(b"a" * (usbcdc.TX_FIFO + usbcdc.PACKET - 1))
    assert usb.stdout._model_poll(vselect.POLLOUT) == vselect.POLLOUT
    t0 = clock.now_ns()
    usb.stdout.buffer.write(b"b" * 2)
    # 500 ms for room for both bytes, then the one that fits; 500 ms more for the other, dropped.
    assert clock.now_ns() - t0 == 2 * usbcdc.TX_TIMEOUT_NS
    assert usb.dropped == 1


def test_a_session_goes_on_while_the_host_stops_reading_and_its_replies_come_after() -> None:
    """The console writes whole 64-byte packets after POLLOUT (stim.console.packed): no write waits,
    so the 100 ms watchdog of a running session is never starved (silicon: the same test in
    tests/silicon/test_realtime_on_silicon.py; the firmware before issue 12 was reset here)."""
    with BoardRunner(BOARD) as r:
        w = _ready(r)
        w.button("start_pause", True)
        r.run_for(100 * MS)
        w.button("start_pause", False)
        w.button("plus", True)
        r.run_for(500 * MS)
        w.button("plus", False)
        r.usb.stop_reading()
        for i in range(30):
            r.console_send('{"cmd": "status", "id": %d}' % i)
            r.run_for(50 * MS)
        r.usb.resume_reading()
        r.console_send('{"cmd": "status", "id": "after"}')
        r.run_for(2_500 * MS)
        assert r.boots == 1 and r.chip.resets == [] and r.crashes == []
        replies = _replies(r)
        after = [x for x in replies if x.get("id") == "after"]
        assert after and after[0]["state"] == "RUNNING"
        assert r.usb.dropped == 0
