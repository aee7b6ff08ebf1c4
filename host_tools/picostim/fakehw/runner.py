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

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from types import CodeType, ModuleType
from typing import Callable, Optional, Sequence

from . import chip as _chip_mod
from . import install, pycost, ssd1306, usbcdc, vselect, vtime
from .chip import PWRON_RESET, Chip
from .clock import Clock, Reset, StopRun

REPO = Path(__file__).resolve().parents[3]
FIRMWARE_DIR = REPO / "firmware"
BOARDS_DIR = REPO / "boards"


class RunnerError(RuntimeError):
    pass


class _FirmwareCode(importlib.abc.MetaPathFinder):
    """Compile each firmware source file once per process, not at every simulated boot.

    A reset clears the board's RAM, so the runner forgets the firmware's modules
    and boots imports them afresh: new module objects, module-level code run
    again. Only the compilation is shared, keyed by the file's path, size and
    mtime, so an edited file is compiled again. Without it a boot costs ~30 ms
    of compile time (no .pyc when PYTHONDONTWRITEBYTECODE is set), which would
    dominate tests that boot a board thousands of times.
    """

    def __init__(self) -> None:
        self.roots: set[str] = set()
        self.code: dict[tuple[str, int, int], CodeType] = {}
        # Where each firmware module was found: (origin, package search path or None).
        self.found: dict[tuple[str, tuple[str, ...]], tuple[str, Optional[list[str]]]] = {}

    def find_spec(self, fullname: str, path: "Optional[Sequence[str]]",
                  target: object = None) -> "Optional[importlib.machinery.ModuleSpec]":
        key = (fullname, tuple(path) if path is not None else tuple(sys.path))
        hit = self.found.get(key)
        if hit is not None and os.path.exists(hit[0]):
            origin, pkg = hit
        else:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
                return None
            origin = spec.origin or ""
            if not any(origin.startswith(r) for r in self.roots):
                return None
            pkg = list(spec.submodule_search_locations) if spec.submodule_search_locations is not None else None
            self.found[key] = (origin, pkg)
        return importlib.util.spec_from_file_location(fullname, origin, loader=_CachedLoader(fullname, origin, self),
                                                      submodule_search_locations=pkg)

    def compiled(self, path: str, make: Callable[[], CodeType]) -> CodeType:
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        code = self.code.get(key)
        if code is None:
            code = make()
            self.code[key] = code
        return code


class _CachedLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, cache: _FirmwareCode) -> None:
        super().__init__(fullname, path)
        self._cache = cache

    def get_code(self, fullname: str) -> CodeType:
        base = super().get_code

        def make() -> CodeType:
            code = base(fullname)
            if code is None:
                raise ImportError("no code for " + fullname)
            return code

        return self._cache.compiled(self.get_filename(fullname), make)

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        if pycost.firmware_turn[0]:  # the board's firmware importing it: its loop parts cost time
            pycost.wrap_module(module)


def _compiler(path: Path) -> Callable[[], CodeType]:
    return lambda: compile(path.read_text(), str(path), "exec")


_CODE = _FirmwareCode()


def _cache_firmware_code(root: Path) -> None:
    _CODE.roots.add(str(root) + os.sep)
    if _CODE not in sys.meta_path:
        sys.meta_path.insert(0, _CODE)


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
        _cache_firmware_code(self.firmware_dir)
        self._own_flash = flash_dir is None
        self.flash_dir = Path(tempfile.mkdtemp(prefix="picostim-flash-")) if flash_dir is None else Path(flash_dir)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(board_file, self.flash_dir / "board.json")
        # The board's I2C devices outside the RP2040 (they keep their state across its resets).
        self.display = _attach_display(self.chip, Path(board_file))
        self.boots = 0
        self.crashes: list[str] = []  # tracebacks of exceptions that escaped main.py
        self.console_out: list[str] = []  # what the firmware printed (the USB serial), line by line
        self.on_boot: list[Callable[[int], None]] = []
        self.usb = usbcdc.UsbCdc(self.console_out)  # the USB serial: sys.stdin/stdout of the firmware
        self._cv = threading.Condition()
        self._firmware_turn = False
        self._stopping = False
        self._done = False
        self._error: Optional[BaseException] = None
        self._saved_cwd = ""
        self._saved_time: object = None
        self._saved_stdout: object = None
        self._saved_stdin: object = None
        self._saved_select: object = None
        self._in_script = False  # boot.py or main.py runs: the interrupt character can raise
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

    def console_send(self, line: "str | bytes") -> None:
        """Send one line to the board's USB serial (a newline is added), as a host program would."""
        data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        data += b"\n"
        if self.usb.host_room() < len(data):  # all or nothing: never leave half a line behind
            raise RunnerError("the host side of the USB serial is full; the line was not sent")
        self.usb.host_write(data)

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
        if self.usb.take_interrupt() and self._in_script:
            raise KeyboardInterrupt  # the interrupt character arrived while the host had the turn

    def _enter_firmware_world(self) -> None:
        self._saved_cwd = os.getcwd()
        os.chdir(self.flash_dir)  # on the board, main.py runs with cwd '/' of the littlefs
        self._saved_time = sys.modules.get("time")
        sys.modules["time"] = vtime
        self._saved_select = sys.modules.get("select")
        sys.modules["select"] = vselect  # type: ignore[assignment]  # poll over the model's streams
        self._saved_stdout = sys.stdout
        sys.stdout = self.usb.stdout  # type: ignore[assignment]  # print() goes to the USB serial
        self._saved_stdin = sys.stdin
        sys.stdin = self.usb.stdin  # type: ignore[assignment]
        usbcdc.set_current(self.usb)
        _chip_mod.set_current(self.chip)
        pycost.firmware_turn[0] = True

    def _leave_firmware_world(self) -> None:
        pycost.firmware_turn[0] = False
        if self._saved_stdout is not None:
            sys.stdout = self._saved_stdout  # type: ignore[assignment]
            self._saved_stdout = None
        if self._saved_stdin is not None:
            sys.stdin = self._saved_stdin  # type: ignore[assignment]
            self._saved_stdin = None
        if self._saved_select is not None:
            sys.modules["select"] = self._saved_select  # type: ignore[assignment]
            self._saved_select = None
        usbcdc.set_current(None)
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
        lib = str(self.firmware_dir / "lib")  # /lib on the board: vendored modules (ssd1306)
        if lib not in sys.path:
            sys.path.insert(sys.path.index(str(self.firmware_dir)) + 1, lib)
        while True:
            self._forget_firmware_modules()
            self.usb.reset()
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
                self.usb.interrupt_char = usbcdc.CTRL_C  # pyexec: Ctrl-C interrupts a script
                self._in_script = True
                exec(_CODE.compiled(str(path), _compiler(path)), ns)
                self._in_script = False
        except (Exception, KeyboardInterrupt):  # noqa: BLE001 - the board drops to the REPL on any uncaught exception
            self.crashes.append(traceback.format_exc())
        self._in_script = False
        self.usb.interrupt_char = -1  # at the REPL, Ctrl-C is the REPL's, never an exception
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


def _attach_display(chip: Chip, board_file: Path) -> "Optional[ssd1306.Ssd1306]":
    """An SSD1306 model on the bus and address the board file's `display` names; None if it has none.

    Read from the raw JSON, without validation: a board file the firmware will
    reject still gets its display, as the hardware would have it.
    """
    try:
        d = json.loads(board_file.read_text())
        disp = d["display"]
        if disp is None or disp.get("driver") != "ssd1306":
            return None
        bus = d["i2c"][disp["bus"]]
        return ssd1306.attach(chip, int(bus["id"]), int(disp["address"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
