"""Run firmware/boot.py and firmware/main.py unchanged on the model (CPython only).

The firmware runs in its own thread, but never at the same time as the host:
control passes back and forth like a coroutine. `run_until(t)` lets the
firmware run until virtual time t; the firmware gives control back when its
sleeps (or the time its hardware calls cost) reach t. So a run is exactly
repeatable, and a hung loop that keeps polling the hardware still lets time
pass until the watchdog fires.

A reset (watchdog, machine.reset(), power cut) unwinds the firmware with
fakehw.clock.Reset; the runner forgets every firmware module, as a reset
clears RAM, and boots boot.py and main.py again. After main.py returns or
raises, the board sits at the REPL (outputs as they were) until a reset.
"""

import os
import shutil
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Callable, Optional

from . import chip as _chip_mod
from . import install, vtime
from .chip import PWRON_RESET, Chip
from .clock import Clock, Reset, StopRun

REPO = Path(__file__).resolve().parents[3]
FIRMWARE_DIR = REPO / "firmware"
BOARDS_DIR = REPO / "boards"


class RunnerError(RuntimeError):
    pass


class BoardRunner:
    """One simulated board: a chip, a flash directory and the firmware running on them."""

    def __init__(
        self,
        board_file: "str | Path" = BOARDS_DIR / "stim4.json",
        chip: Optional[Chip] = None,
        boot_us: int = 0,
        flash_dir: "str | Path | None" = None,
        firmware_dir: "str | Path" = FIRMWARE_DIR,
    ) -> None:
        self.chip = chip if chip is not None else Chip(Clock(boot_us))
        self.firmware_dir = Path(firmware_dir).resolve()
        self._own_flash = flash_dir is None
        self.flash_dir = Path(tempfile.mkdtemp(prefix="picostim-flash-")) if flash_dir is None else Path(flash_dir)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(board_file, self.flash_dir / "board.json")
        self.boots = 0
        self.crashes: list[str] = []  # tracebacks of exceptions that escaped main.py
        self.console_out: list[str] = []  # what the firmware printed (the USB serial)
        self.on_boot: list[Callable[[int], None]] = []
        self._usb = _UsbSerial(self.console_out)
        self._cv = threading.Condition()
        self._firmware_turn = False
        self._stopping = False
        self._done = False
        self._error: Optional[BaseException] = None
        self._saved_cwd = ""
        self._saved_time: object = None
        self._saved_stdout: object = None
        self.chip.clock.at_limit = self._yield_to_host
        # Firmware modules the host already imported (tests do): the board's resets replace them
        # in sys.modules, so put them back at close() to keep the host's class identities.
        self._host_modules = {n: m for n, m in sys.modules.items() if self._is_firmware(n, m)}
        install(self.chip)
        self._thread = threading.Thread(target=self._thread_main, name="firmware", daemon=True)
        self._thread.start()

    # -- host side -------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        return self.chip.clock.now_ns()

    def run_until(self, t_ns: int) -> None:
        """Let the firmware run until virtual time t_ns (events included)."""
        if self._done:
            raise RunnerError("the firmware runner has stopped") from self._error
        _chip_mod.set_current(self.chip)
        self.chip.clock.limit_ns = t_ns
        self._switch_to_firmware()
        if self._error is not None:
            raise RunnerError("the firmware runner failed") from self._error

    def run_for(self, dt_ns: int) -> None:
        self.run_until(self.chip.clock.now_ns() + dt_ns)

    def run_for_s(self, seconds: float) -> None:
        self.run_for(int(seconds * 1e9))

    def at(self, t_ns: int, action: Callable[[], None]) -> None:
        """Schedule a world action (press a button, cut a wire) at virtual time t_ns."""
        self.chip.clock.schedule(t_ns, lambda _t: action())

    def close(self) -> None:
        if not self._done:
            self._stopping = True
            self._switch_to_firmware()
        self._thread.join(timeout=10)
        self._forget_firmware_modules()
        sys.modules.update(self._host_modules)
        if self._own_flash:
            shutil.rmtree(self.flash_dir, ignore_errors=True)

    def __enter__(self) -> "BoardRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _switch_to_firmware(self) -> None:
        with self._cv:
            self._firmware_turn = True
            self._cv.notify_all()
            while self._firmware_turn and not self._done:
                self._cv.wait()

    # -- firmware side ---------------------------------------------------------
    def _yield_to_host(self) -> None:
        self._leave_firmware_world()
        with self._cv:
            self._firmware_turn = False
            self._cv.notify_all()
            while not self._firmware_turn:
                self._cv.wait()
        if self._stopping:
            raise StopRun()
        self._enter_firmware_world()

    def _enter_firmware_world(self) -> None:
        self._saved_cwd = os.getcwd()
        os.chdir(self.flash_dir)  # on the board, main.py runs with cwd '/' of the littlefs
        self._saved_time = sys.modules.get("time")
        sys.modules["time"] = vtime
        self._saved_stdout = sys.stdout
        sys.stdout = self._usb  # type: ignore[assignment]  # print() goes to the USB serial
        _chip_mod.set_current(self.chip)

    def _leave_firmware_world(self) -> None:
        if self._saved_stdout is not None:
            sys.stdout = self._saved_stdout  # type: ignore[assignment]
            self._saved_stdout = None
        if self._saved_time is not None:
            sys.modules["time"] = self._saved_time  # type: ignore[assignment]
        if self._saved_cwd:
            os.chdir(self._saved_cwd)

    def _thread_main(self) -> None:
        with self._cv:
            while not self._firmware_turn:
                self._cv.wait()
        try:
            if not self._stopping:
                self._enter_firmware_world()
                self._boot_forever()
        except StopRun:
            pass
        except BaseException as e:  # noqa: BLE001 - a runner bug: report it to the host thread
            self._error = e
        finally:
            self._leave_firmware_world()
            with self._cv:
                self._done = True
                self._firmware_turn = False
                self._cv.notify_all()

    def _boot_forever(self) -> None:
        if str(self.firmware_dir) not in sys.path:
            sys.path.insert(0, str(self.firmware_dir))
        while True:
            self._forget_firmware_modules()
            self.boots += 1
            for hook in self.on_boot:
                hook(self.boots)
            try:
                self._run_firmware()
            except Reset:
                continue

    def _run_firmware(self) -> None:
        ns: dict[str, object] = {"__name__": "__main__"}
        try:
            for name in ("boot.py", "main.py"):
                path = self.firmware_dir / name
                code = compile(path.read_text(), str(path), "exec")
                exec(code, ns)
        except Exception:  # noqa: BLE001 - the board drops to the REPL on any uncaught exception
            self.crashes.append(traceback.format_exc())
        # At the REPL: nothing runs, time passes, only a reset gets out of here.
        clock = self.chip.clock
        while True:
            clock.advance_to(clock.limit_ns + 1 if clock.limit_ns >= 0 else clock.now_ns() + 1_000_000)

    def _is_firmware(self, name: str, mod: object) -> bool:
        f = getattr(mod, "__file__", None) or ""
        return f.startswith(str(self.firmware_dir)) or name in ("main", "boot")

    def _forget_firmware_modules(self) -> None:
        for name, mod in list(sys.modules.items()):
            if self._is_firmware(name, mod):
                del sys.modules[name]

    def power_cut_at(self, t_ns: int) -> None:
        """Cut and restore power at t_ns: the chip comes back with a power-on reset."""
        self.at(t_ns, lambda: self.chip.trigger_reset(PWRON_RESET, "power cut"))


class _UsbSerial:
    """What the firmware prints, split into lines (the board's USB CDC serial)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._partial = ""

    def write(self, s: str) -> int:
        text = self._partial + s
        parts = text.split("\n")
        self._partial = parts.pop()
        self.lines.extend(parts)
        return len(s)

    def flush(self) -> None:
        return None
