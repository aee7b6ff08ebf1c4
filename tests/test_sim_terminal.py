"""The terminal front panel of `picostim sim`, driven through a real pseudo-terminal.

The simulator runs as its own process on the slave side of a pty (so it sees a
terminal and starts the full-screen panel), keys are typed into the master
side, and the test reads the screen the panel draws: each frame starts with
cursor-home (ESC [ H), so the last complete frame, with the escape sequences
taken out, is what a user would see.
"""

import os
import pty
import re
import select
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STIM4 = REPO / "boards" / "stim4.json"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TIMEOUT_S = 20.0


class PtyScreen:
    def __init__(self, argv: list[str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the simulator on the pty
            os.chdir(REPO)
            os.execv(argv[0], argv)
        self.pid = pid
        self.fd = fd
        self.buf = ""

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if select.select([self.fd], [], [], min(left, 0.05))[0]:
                try:
                    data = os.read(self.fd, 1 << 16)
                except OSError:
                    return
                if not data:
                    return
                self.buf += data.decode(errors="replace")
                # Keep the tail only: the panel redraws the whole screen every frame.
                if len(self.buf) > 200_000:
                    self.buf = self.buf[-100_000:]

    def screen(self) -> str:
        frames = self.buf.split("\x1b[H")
        done = [f for f in frames[:-1] if f.endswith("\x1b[J")] or [""]
        return ANSI.sub("", done[-1]).replace("\r", "")

    def wait_for(self, pattern: str) -> str:
        end = time.monotonic() + TIMEOUT_S
        while time.monotonic() < end:
            self.pump(0.1)
            s = self.screen()
            if re.search(pattern, s, re.MULTILINE):
                return s
        raise AssertionError("the screen never showed %r; last screen:\n%s" % (pattern, self.screen()))

    def key(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> int:
        end = time.monotonic() + TIMEOUT_S
        while time.monotonic() < end:
            self.pump(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError("the simulator did not quit")


@pytest.fixture
def sim() -> Iterator[PtyScreen]:
    s = PtyScreen([sys.executable, "-m", "picostim", "sim", "--board", str(STIM4), "--speed", "10"])
    try:
        yield s
    finally:
        try:
            os.kill(s.pid, signal.SIGKILL)
            os.waitpid(s.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _console_answers(path: str) -> None:
    import json

    import serial

    with serial.Serial(path, 115200, timeout=0.2) as port:
        port.write(b'{"cmd": "version", "id": "t1"}\n')
        end = time.monotonic() + TIMEOUT_S
        while time.monotonic() < end:
            line = port.readline().decode(errors="replace").strip()
            if line.startswith("{") and json.loads(line).get("id") == "t1":
                assert json.loads(line)["ok"] is True
                return
        raise AssertionError("no reply on " + path)


def _channel_ma(screen: str, name: str) -> float:
    m = re.search(r"^%s\s+([0-9.]+) mA" % name, screen, re.MULTILINE)
    assert m, screen
    return float(m.group(1))


def test_keys_drive_the_panel_and_the_screen_follows(sim: PtyScreen) -> None:
    s = sim.wait_for(r"^state\s+SAFE")
    assert re.search(r"^key\s+out\s+e-stop\s+released", s, re.MULTILINE)
    assert "OLED" in s  # stim4 declares a display
    assert _channel_ma(s, "CH1") == 0.0

    # The board's serial console is on a pty whose path the panel shows; a serial program gets answers there.
    m = re.search(r"^console: (/dev/\S+)", s, re.MULTILINE)
    assert m, s
    _console_answers(m.group(1))

    sim.key("k")  # supervisor key in
    s = sim.wait_for(r"^state\s+READY")
    assert re.search(r"^key\s+IN", s, re.MULTILINE)
    assert re.search(r"^LED\s+ON", s, re.MULTILINE)  # READY: LED steady on

    sim.key("s")  # start
    s = sim.wait_for(r"^state\s+RUNNING")
    s = sim.wait_for(r"^\|RUNNING.*\|$")  # the OLED, as the model's SSD1306 shows it, says so too
    assert re.search(r"^LED\s+\S+\s+buzzer\s+\S+\s+output\s+ENABLED", s, re.MULTILINE)

    sim.key("u")  # + once; then wait for the level and the live pulse indicator
    sim.pump(0.5)
    sim.key("u")
    s = sim.wait_for(r"^CH1\s+[1-9][0-9.]* mA.*\s\d+ Hz$")
    assert _channel_ma(s, "CH1") > 0
    assert re.search(r"^CH3\s+0\.00 mA.*idle$", s, re.MULTILINE)  # not in the default program

    sim.key("e")  # e-stop: everything off, latched fault
    s = sim.wait_for(r"^state\s+FAULT\s+reason\s+e-stop")
    s = sim.wait_for(r"^CH1\s+0\.00 mA.*idle$")
    assert re.search(r"^key\s+IN\s+e-stop\s+PRESSED", s, re.MULTILINE)
    assert re.search(r"output\s+off", s)

    sim.key("q")
    assert sim.close() == 0


def test_v_is_the_supervisors_two_hand_override(tmp_path: Path) -> None:
    """A policy that wants a profile: start is refused; `v` (start/pause and minus held together)
    arms the override, and the next start runs."""
    from picostim.sim.scenario import NS_PER_S
    from picostim.sim.session import SimSession
    from picostim.sim.terminal import Panel

    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "policy.json").write_text('{"schema": 1, "anonymous": false}')
    sess = SimSession(str(STIM4), flash_dir=str(flash))
    try:
        panel = Panel(sess)

        def after(key: str, s: float) -> "list[str]":
            panel.handle_key(key)
            sess.run_until(sess.now_ns + round(s * NS_PER_S))
            return [x for x in sess.runner.console_out if x.startswith('{"status"')]

        after("k", 3.0)  # key in; the guard loads in READY 2 s after boot
        assert '"reason": "refused: needs a profile"' in after("s", 0.5)[-1]
        assert '"reason": "override: needs a profile"' in "".join(after("v", 3.0))
        assert '"status": "RUNNING"' in after("s", 0.5)[-1]
    finally:
        sess.close()
