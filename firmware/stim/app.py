"""main.py's body: load the board, build the controller, run the loop forever.

Boot order matters: outputs off first (boot.py did it, Hardware does it again),
then the board file, then the kill path is armed, then the controller is
built, and only after these boot checks is the watchdog started. The
maintenance escape (program button held at boot) stops before the watchdog and
returns to the REPL with every output off.
"""


import sys

import stim
from stim import boardspec as _spec
from stim import console as _console
from stim import programs as _programs
from stim import pulse
from stim import store as _store
from stim import supervisor as sv
from stim.controller import TICK_MS, Controller
from stim.hal import oled as _oled
from stim.hal import outputs as _outputs
from stim.hal import rp2040 as hal
from stim.hal.flashfs import FlashFS
from stim.hal.usb_serial import UsbSerial
from stim.roomy import make_room

SLOT_MS = TICK_MS // 2  # the console's and the display's slot starts this long after the tick's

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

MAINTENANCE_BUTTON = "program"


def status_line(state: str, reason: str, key: bool, estop_released: bool, t_ms: int) -> str:
    """One JSON status line, as the serial console prints it. One format, one new str: on the board
    each new str costs a scan of the qstr pools (stim.display.Screen.lines), and the ten
    concatenations this was made of cost ~4 ms of the tick in which the state changed."""
    return '{"status": "%s", "reason": "%s", "key": %d, "estop": %d, "t_ms": %d}' % (
        state, reason, 1 if key else 0, 0 if estop_released else 1, t_ms)


def _fault_forever(reason: str) -> None:
    # No board, no pins we may touch: outputs stay as boot.py and the reset left
    # them. No watchdog either, so this does not reset-loop; nothing resumes.
    print(status_line("FAULT", reason, False, False, hal.ticks_ms()))
    while True:
        hal.sleep_ms(1000)


def build(brd: "_spec.Board", watchdog_reset: bool) -> Controller:
    hw = hal.Hardware(brd)
    hw.outputs_off()
    outs = _outputs.ChannelOutputs(brd, irq_off=hal.irq_off, irq_on=hal.irq_on)
    kill = hal.KillPath(brd, outs.dac)
    kill.arm((hw.key, hw.estop))
    return Controller(brd, hw, outs, kill, _programs.builtins(len(brd.channels)), watchdog=None,
                      watchdog_reset=watchdog_reset, store=open_store(brd, watchdog_reset))


def open_store(brd: "_spec.Board", watchdog_reset: bool) -> "_store.Store":
    """Settings, custom programs and the log; a bad or missing file falls back to defaults."""
    n = len(brd.channels)
    maxes = pulse.channel_max_ua(brd)
    st = _store.Store(FlashFS(), _store.Settings(maxes), max_ua=maxes,
                      validate=lambda d: _programs.validate(d, n))
    st.log_reset("watchdog" if watchdog_reset else "power-on", hal.ticks_ms())
    return st


def load_board() -> "_spec.Board":
    """The board file, parsed and checked by stim.board, which is then dropped: only boot needs the
    parser, and it held ~17 KB of the heap for good (what the firmware keeps of a board is in
    stim.boardspec, which never imports stim.board)."""
    from stim import board  # noqa: PLC0415 - boot only, dropped below

    try:
        return board.load(hal.BOARD_FILE)
    finally:
        sys.modules.pop("stim.board", None)
        if hasattr(stim, "board"):
            delattr(stim, "board")


def main() -> None:
    try:
        brd = load_board()
    except Exception as e:  # noqa: BLE001 - a bad board file is a latched fault, never a crash
        _fault_forever("board file: " + str(e))
        return
    hz = hal.cpu_hz()
    if hz != brd.cpu_hz:  # pulse widths and the RMS cap hold only at the clock they were checked at
        _fault_forever("clock: the chip runs at %d Hz, the board file says %d Hz" % (hz, brd.cpu_hz))
        return
    try:
        ctl = build(brd, hal.was_watchdog_reset())
    except Exception as e:  # noqa: BLE001 - any boot failure: outputs off, latched, no resume
        _fault_forever("boot: " + repr(e))
        return
    if ctl.hw.buttons_mask() == 1 << _spec.BUTTONS.index(MAINTENANCE_BUTTON):
        print(status_line("MAINTENANCE", "watchdog not started; REPL available", False, False, hal.ticks_ms()))
        return
    rtc = open_rtc(brd, ctl)
    # The dose guard reads the clock right before each decision, and shares the profiles (loaded at
    # their first use, by the panel or the console) with the console.
    ctl.rtc = rtc
    ctl.load_clients = lambda: open_clients(brd, ctl)
    con = open_console(ctl, ctl.get_clients, rtc)
    ctl.watchdog = hal.start_watchdog(sv.watchdog_ms(ctl.sup.state))  # then by state (stim.supervisor)
    # Sparse attribute tables for the objects the tick calls (stim.roomy). Not the console's: made
    # roomy, its idle step measured ~45 us slower on the emulated chip (where a name lands in a
    # table, and in MicroPython's lookup cache, moves with the table's size).
    for o in (ctl, ctl.sup, ctl.panel, ctl.hw, ctl.outputs, ctl.recorder, ctl.kill, ctl.led, ctl.buzzer):
        if o is not None:
            make_room(o)
    # The display after the first tick: its init sends a whole frame (~35 ms on silicon), and the first
    # tick (which sees a button held since boot as stuck) should come before 1 s after power-on.
    # Until a session may run (READY takes ENABLE_STABLE_MS of the key after that tick), the watchdog
    # is the idle one (WDT_IDLE_MS), so the init cannot starve it.
    run(ctl, con, None, lambda: open_display(brd, ctl))


def open_display(brd: "_spec.Board", ctl: Controller) -> "Optional[_oled.Oled]":
    """The board's OLED (None without one); a display that fails to start is an alert, not a fault."""
    if brd.display is None:
        return None
    try:
        d = _oled.Oled(brd)
        make_room(d)  # served every pass (stim.roomy)
        make_room(d.screen)
        return d
    except Exception as e:  # noqa: BLE001 - the display is no safety function
        ctl.post_alert("display: " + repr(e))
        return None


def open_rtc(brd: "_spec.Board", ctl: Controller) -> "Any":
    """The board's DS3231 driver (stim.hal.ds3231; None without one); a valid time dates the log from boot on.

    A clock that does not answer is an alert, not a fault: without wall time the dose guard
    refuses what needs an interval (the supervisor may override), it never assumes one."""
    if brd.rtc is None:
        return None
    try:
        # Imported here: a board without an RTC does not pay for the driver's import at boot.
        from stim.hal import ds3231  # noqa: PLC0415

        rtc = ds3231.open_rtc(brd)
        t = rtc.read() if rtc is not None else None
    except Exception as e:  # noqa: BLE001 - the clock is no safety function; its absence is handled
        ctl.post_alert("rtc: " + repr(e))
        return None
    if t is not None and ctl.recorder is not None:
        ctl.recorder.set_wall(t, hal.ticks_ms())
    return rtc


def open_clients(brd: "_spec.Board", ctl: Controller) -> "Any":
    """The client profiles on flash (stim.clients.Clients, docs/clients.md); None without a store.

    Loaded at first use, not at boot: the import and the read cost ~70 ms of boot on the board,
    and a flash read is made while the outputs are idle (the console's and the panel's profile
    requests come outside a session)."""
    rec = ctl.recorder
    if rec is None:
        return None
    try:
        from stim import clients  # noqa: PLC0415 - loaded at first use, see above

        return clients.Clients(rec.store, len(brd.channels), pulse.channel_max_ua(brd))
    except Exception as e:  # noqa: BLE001 - e.g. out of memory: no profiles, said so; the board runs on
        ctl.post_alert("clients: " + repr(e))
        return None


def open_console(ctl: Controller, load_clients: "Optional[Callable[[], Any]]" = None,
                 rtc: "Any" = None) -> "Optional[_console.Console]":
    """The JSON-lines console on the USB serial (docs/console.md); None if it cannot start."""
    try:
        port = UsbSerial()
        port.claim()  # from now on Ctrl-C is data: nothing breaks into the loop
        return _console.Console(ctl, port, rtc=rtc, load_clients=load_clients)
    except Exception as e:  # noqa: BLE001 - no console is no reason to stop the board
        print(status_line(sv.STATE_NAMES[ctl.sup.state], "console: " + repr(e), False, False, hal.ticks_ms()))
        return None


def run(ctl: Controller, con: "Optional[_console.Console]" = None, disp: "Optional[_oled.Oled]" = None,
        open_disp: "Optional[Callable[[], Optional[_oled.Oled]]]" = None) -> None:
    """The loop (open_disp: opens the display after the first tick). Its guards are here, in a frame
    made once, rather than in Controller.tick,
    Console.step and Oled.service: MicroPython gives every call of a function with a try block and
    a few locals a heap frame (picostim.devtools.frames), and this loop calls those every 10 ms."""
    last_state = -1
    last_fault: "Optional[str]" = None
    last_alert: "Optional[str]" = None
    # The loop's clock calls as locals: a global and an attribute lookup fewer each, ~10 a pass.
    ticks_ms = hal.ticks_ms
    ticks_add = hal.ticks_add
    ticks_diff = hal.ticks_diff
    sleep_ms = hal.sleep_ms
    deadline = ticks_ms()
    sup = ctl.sup
    while True:
        try:
            ctl.tick_unguarded(ticks_ms())
        except Exception as e:  # noqa: BLE001 - any doubt: outputs off, latched fault (Controller.tick)
            ctl.crashed(e)
        if sup.state != last_state or sup.fault != last_fault or (sup.alert is not None and sup.alert != last_alert):
            reason = sup.fault or sup.alert or sup.end_reason or ""
            line = status_line(sv.STATE_NAMES[sup.state], reason, sup.key, sup.estop_released, ticks_ms())
            if con is None:
                print(line)
            else:
                con.emit(line)  # through the console, so it never lands inside a reply
            last_state = sup.state
            last_fault = sup.fault
        last_alert = sup.alert
        # The console and the display take the second half of the tick period: their work never
        # lengthens the tick's busy stretch or delays the next tick (docs/design.md, "Two slots").
        wait = ticks_diff(ticks_add(deadline, SLOT_MS), ticks_ms())
        if wait > 0:
            sleep_ms(wait)
        now = ticks_ms()  # the console's and the display's (one read: a call costs ~8 us on the RP2040)
        if con is not None:
            try:
                con.step_unguarded(now)  # bounded work; the idle pass is one poll (stim.console)
            except Exception as e:  # noqa: BLE001 - a console bug must never stop the tick (Console.step)
                con.crashed(e)
        if disp is not None:  # one piece of work a pass, at most 16 bytes on the bus (stim.hal.oled)
            try:
                disp.service_unguarded(now, sup, ctl.panel, ctl.program)
            except Exception as e:  # noqa: BLE001 - the display is no safety function (Oled.service)
                disp.crashed(e)  # the only place its error is set: report it once, drop the display
                ctl.post_alert(disp.error or "display")
                disp = None
        elif open_disp is not None:
            disp = open_disp()
            open_disp = None
        deadline = ticks_add(deadline, TICK_MS)
        wait = ticks_diff(deadline, ticks_ms())
        if wait > 0:
            sleep_ms(wait)
        else:
            deadline = ticks_ms()  # overran: do not try to catch up in a burst
