"""main.py's body: load the board, build the hardware, run the loop forever.

This is the foundation's loop. It keeps every output off, reports SAFE or
READY from the key and e-stop, and latches FAULT on a bad board file. The
safety supervisor, pulse engine and panel (issues 3-5) plug into `tick`.
"""

from stim import board as _board
from stim.hal import rp2040 as hal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

TICK_MS = 10  # control tick period


def status_line(state: str, reason: str, key: bool, estop_released: bool, t_ms: int) -> str:
    """One JSON status line, as the serial console prints it."""
    return (
        '{"status": "' + state + '", "reason": "' + reason + '", "key": ' + ("1" if key else "0")
        + ', "estop": ' + ("0" if estop_released else "1") + ', "t_ms": ' + str(t_ms) + "}"
    )


def derive_state(key: bool, estop_released: bool, fault: "Optional[str]") -> str:
    if fault is not None:
        return "FAULT"
    if key and estop_released:
        return "READY"
    return "SAFE"


def main() -> None:
    try:
        brd = _board.load(hal.BOARD_FILE)
    except Exception as e:  # noqa: BLE001 - a bad board file is a latched fault, never a crash
        print(status_line("FAULT", "board file: " + str(e), False, False, hal.ticks_ms()))
        while True:  # outputs stay as boot.py left them; nothing resumes on its own
            hal.sleep_ms(1000)
    hw = hal.Hardware(brd)
    hw.outputs_off()
    fault = "watchdog reset" if hal.was_watchdog_reset() else None
    last = ""
    deadline = hal.ticks_ms()
    while True:
        key = hw.key_present()
        released = hw.estop_released()
        state = derive_state(key, released, fault)
        hw.outputs_off()  # no stimulation exists yet: the output stage stays disabled
        hw.status_led.set(state == "READY")
        if state != last:
            print(status_line(state, fault or "", key, released, hal.ticks_ms()))
            last = state
        deadline = hal.ticks_add(deadline, TICK_MS)
        wait = hal.ticks_diff(deadline, hal.ticks_ms())
        if wait > 0:
            hal.sleep_ms(wait)
        else:
            deadline = hal.ticks_ms()
