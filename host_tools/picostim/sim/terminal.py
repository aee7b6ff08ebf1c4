"""`picostim sim`: run firmware/main.py on the model with a terminal front panel.

Keys: k = turn the supervisor key, e = press/release the e-stop, q = quit.
Each line shows the simulated time, the firmware's last status line, and the
levels the board's pins have on the model.
"""

import os
import select
import sys
import termios
import time
import tty
from pathlib import Path
from typing import Optional

from picostim.fakehw.runner import BoardRunner

from .world import World

FRAME_S = 0.1


def _load_board(path: str):  # type: ignore[no-untyped-def]
    fw = str(Path(__file__).resolve().parents[3] / "firmware")
    if fw not in sys.path:
        sys.path.insert(0, fw)
    from stim import board as board_mod

    return board_mod.load(path)


def _pins_line(runner: BoardRunner, brd, t0: int, t1: int) -> str:  # type: ignore[no-untyped-def]
    chip = runner.chip
    oe = chip.level(brd.outputs.output_enable.pin)
    led = chip.level(brd.outputs.status_led.pin) == brd.outputs.status_led.active_level
    chans = []
    for ch in brd.channels:
        pulses = len(chip.edges(ch.pulse_a, t0, t1)) + len(chip.edges(ch.pulse_b, t0, t1))
        chans.append(ch.name + ":" + ("~" if pulses else "_"))
    return "OE=%d LED=%s %s" % (oe, "on " if led else "off", " ".join(chans))


def run(board: str, until_s: Optional[float] = None, speed: str = "1") -> int:
    try:
        brd = _load_board(board)
    except (OSError, ValueError) as e:
        print("picostim sim: " + board + ": " + str(e), file=sys.stderr)
        return 2
    fast = speed == "max"
    interactive = sys.stdin.isatty() and until_s is None
    runner = BoardRunner(board)
    world = World(runner.chip, brd)
    world.key(False)
    world.estop(False)
    print("PicoStim simulator: board %s (%s), firmware %s" % (brd.name, board, runner.firmware_dir))
    if interactive:
        print("keys: k = supervisor key, e = e-stop, q = quit")
    old_tty = None
    if interactive:
        old_tty = termios.tcgetattr(sys.stdin.fileno())
        tty.setcbreak(sys.stdin.fileno())
    shown = 0
    last = ""
    try:
        start = time.monotonic()
        while until_s is None or runner.now_ns < until_s * 1e9:
            t0 = runner.now_ns
            runner.run_for(int(FRAME_S * 1e9))
            while shown < len(runner.console_out):
                print("  console> " + runner.console_out[shown])
                shown += 1
            state = "key=%s estop=%s %s" % (
                "in " if world.key_present() else "out",
                "pressed " if world.estop_pressed() else "released", _pins_line(runner, brd, t0, runner.now_ns))
            if state != last:  # print on change only, so a quiet board is a quiet screen
                print("t=%8.2fs %s" % (runner.now_ns / 1e9, state), flush=True)
                last = state
            if interactive and select.select([sys.stdin], [], [], 0)[0]:
                ch = os.read(sys.stdin.fileno(), 1).decode(errors="replace")
                if ch == "q":
                    break
                if ch == "k":
                    world.key(not world.key_present())
                elif ch == "e":
                    world.estop(not world.estop_pressed())
            runner.chip.forget_before(runner.now_ns - 2_000_000_000)
            if not fast:
                lag = start + runner.now_ns / 1e9 - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
    except KeyboardInterrupt:
        pass
    finally:
        if old_tty is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, old_tty)
        runner.close()
    for tb in runner.crashes:
        print("firmware crashed:\n" + tb, file=sys.stderr)
    return 1 if runner.crashes else 0
