"""`picostim deploy` without a board: mpremote is faked, mpy-cross is the real one.

The fake mpremote records every command and answers the version query as a
board would (sys.implementation._mpy); mpy-cross really compiles, so the
outputs are checked as files. The board-side clean-up script runs on the real
MicroPython VM.
"""

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import picostim
import pytest
from picostim import deploy
from picostim.deploy import ARCHS, Deploy, DeployError, MpyVersion

REPO = Path(__file__).resolve().parents[1]
STIM4 = str(REPO / "boards" / "stim4.json")
FIRMWARE = REPO / "firmware"
PORT = "/dev/ttyFAKE0"


def _sys_mpy(version: int, sub: int, arch: str) -> int:
    return version | (sub << 8) | (ARCHS.index(arch) << 10)


RP2040_128 = _sys_mpy(6, 3, "armv6m")  # MicroPython 1.28 on a Pico


class FakeMpremote:
    """Stands in for the mpremote subprocess; every other command runs for real."""

    def __init__(self, sys_mpy: int = RP2040_128, reachable: bool = True, copy_rc: int = 0) -> None:
        self.sys_mpy = sys_mpy
        self.reachable = reachable
        self.copy_rc = copy_rc
        self.calls: list[list[str]] = []  # every command, in order (mpremote ones without the interpreter)

    def __call__(self, cmd: Sequence[str]) -> "subprocess.CompletedProcess[str]":
        cmd = list(cmd)
        pre = deploy.mpremote_cmd()
        if cmd[: len(pre)] != pre:
            self.calls.append(["mpy-cross", *cmd[1:]])
            return deploy.run_command(cmd)
        args = cmd[len(pre):]
        self.calls.append(["mpremote", *args])
        if not self.reachable:
            return subprocess.CompletedProcess(cmd, 1, "", "mpremote: failed to access %s" % PORT)
        if args[:3] == ["connect", PORT, "exec"] and args[3] == deploy.QUERY:
            return subprocess.CompletedProcess(cmd, 0, "PICOSTIM_MPY %d (1, 28, 0, '')\n" % self.sys_mpy, "")
        return subprocess.CompletedProcess(cmd, self.copy_rc, "", "" if self.copy_rc == 0 else "copy failed")


def _deploy(tmp_path: Path, fake: FakeMpremote, board: str = STIM4) -> tuple[Deploy, list[str]]:
    said: list[str] = []
    d = Deploy(PORT, board, run=fake, out=said.append, build_dir=tmp_path / "build")
    return d, said


def _sources() -> list[Path]:
    """Every firmware file that is compiled (all but boot.py and main.py)."""
    return sorted(p for p in FIRMWARE.rglob("*.py")
                  if p.relative_to(FIRMWARE).as_posix() not in deploy.SOURCE_FILES and "__pycache__" not in p.parts)


def test_deploy_checks_compiles_copies_and_resets(tmp_path: Path) -> None:
    fake = FakeMpremote()
    d, said = _deploy(tmp_path, fake)
    d.deploy()
    build = tmp_path / "build"

    # The command sequence: ask the board, ask mpy-cross, compile each file, one copy session.
    kinds = [c[0] for c in fake.calls]
    n = len(_sources())
    assert kinds == ["mpremote", "mpy-cross"] + ["mpy-cross"] * n + ["mpremote"]
    assert fake.calls[0] == ["mpremote", "connect", PORT, "exec", deploy.QUERY]
    assert fake.calls[1] == ["mpy-cross", "--version"]
    for call, src in zip(fake.calls[2:-1], _sources(), strict=True):
        rel = src.relative_to(FIRMWARE)
        assert call == ["mpy-cross", "-O1", "-march=armv6m", "-s", rel.as_posix(),
                        "-o", str(build / rel.with_suffix(".mpy")), str(src)]
    copy = fake.calls[-1]
    assert copy[:4] == ["mpremote", "connect", PORT, "exec"]
    assert copy[4] == d.prepare() and copy[5] == "+"
    steps = [st.split(" ") for st in " ".join(copy[6:]).split(" + ")]
    assert steps[0] == ["fs", "cp", STIM4, ":board.json"]
    assert steps[-3:] == [["fs", "cp", str(build / "boot.py"), ":boot.py"],
                          ["fs", "cp", str(build / "main.py"), ":main.py"],  # last: never a new main on an old package
                          ["reset"]]
    copied = {}
    for st in steps[1:-3]:
        assert st[:2] == ["fs", "cp"] and st[-1].startswith(":") and st[-1].endswith("/")
        for f in st[2:-1]:
            copied[Path(f).relative_to(build).as_posix()] = st[-1][1:] + Path(f).name
    want = {s.relative_to(FIRMWARE).with_suffix(".mpy").as_posix() for s in _sources()}
    assert set(copied) == want
    assert all(k == v for k, v in copied.items())  # each .mpy lands at its own path on the board

    # The compile outputs: one .mpy per firmware/stim file, for the board's .mpy version; no .py left.
    mpys = sorted(build.rglob("*.mpy"))
    assert [m.relative_to(build).with_suffix(".py") for m in mpys] == [s.relative_to(FIRMWARE) for s in
                                                                        _sources()]
    for m in mpys:
        head = m.read_bytes()[:4]
        assert head[0:1] == b"M" and head[1] == 6, m
    assert list((build / "stim").rglob("*.py")) == []
    for name in deploy.SOURCE_FILES:  # boot.py and main.py go as source, unchanged
        assert (build / name).read_bytes() == (FIRMWARE / name).read_bytes()
    assert said[0].startswith("OK ")
    assert "loads .mpy v6.3, arch armv6m" in said[1]


def test_an_invalid_board_file_is_refused_before_the_board_is_touched(tmp_path: Path) -> None:
    d = json.loads(Path(STIM4).read_text())
    d["channels"][1]["pulse_a"] = d["channels"][0]["pulse_a"]  # two channels on one pin
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    fake = FakeMpremote()
    dep, _said = _deploy(tmp_path, fake, str(bad))
    with pytest.raises(DeployError) as e:
        dep.deploy()
    assert "refusing to deploy an invalid board file" in str(e.value)
    assert "FAIL " + str(bad) + ": channels[1].pulse_a" in str(e.value)  # the validator's own words
    assert fake.calls == []
    assert not (tmp_path / "build").exists()


def test_a_board_on_another_mpy_version_is_refused(tmp_path: Path) -> None:
    fake = FakeMpremote(sys_mpy=_sys_mpy(5, 0, "armv6m"))
    d, _said = _deploy(tmp_path, fake)
    with pytest.raises(DeployError) as e:
        d.deploy()
    assert "loads .mpy v5.0" in str(e.value) and "Install MicroPython 1.28" in str(e.value)
    assert [c[0] for c in fake.calls] == ["mpremote", "mpy-cross"]  # asked, compared, nothing compiled or copied


def test_an_older_sub_version_gets_the_matching_compiler(tmp_path: Path) -> None:
    fake = FakeMpremote(sys_mpy=_sys_mpy(6, 2, "armv6m"))  # MicroPython 1.22
    d, said = _deploy(tmp_path, fake)
    d.deploy()
    compiles = [c for c in fake.calls if c[0] == "mpy-cross" and "-O1" in c]
    assert compiles and all(c[1:3] == ["-b", "6.2"] for c in compiles)
    assert any("mpy-cross -b 6.2" in s and "v6.2" in s for s in said)


def test_an_unreachable_board_says_how_to_reach_the_repl(tmp_path: Path) -> None:
    fake = FakeMpremote(reachable=False)
    d, _said = _deploy(tmp_path, fake)
    with pytest.raises(DeployError) as e:
        d.deploy()
    assert "could not reach the board's REPL on " + PORT in str(e.value)
    assert "maintenance mode" in str(e.value)
    assert len(fake.calls) == 1


def test_a_failed_copy_is_reported(tmp_path: Path) -> None:
    d, _said = _deploy(tmp_path, FakeMpremote(copy_rc=1))
    with pytest.raises(DeployError, match="copying to the board failed"):
        d.deploy()


def test_no_port_is_refused() -> None:
    assert deploy.main("", STIM4) == 1


def test_sys_mpy_decoding() -> None:
    v = MpyVersion.from_sys_mpy(RP2040_128)
    assert (v.version, v.sub, v.arch) == (6, 3, "armv6m")
    assert deploy.parse_cross_version("MicroPython v1.28.0 on 2026-01-01; mpy-cross emitting mpy v6.3") == v
    assert deploy.parse_cross_version("MicroPython v1.19 on x; mpy-cross emitting mpy v6") == MpyVersion(6, 0, None)
    with pytest.raises(DeployError):
        deploy.parse_query("Traceback (most recent call last):\n")


def _micropython() -> Path:
    return REPO / ".venv" / "bin" / "micropython"


@pytest.mark.skipif(not _micropython().exists(), reason="the MicroPython VM is installed by make setup")
def test_the_board_side_clean_up_removes_only_what_a_new_mpy_replaces(tmp_path: Path) -> None:
    root = tmp_path / "fs"
    (root / "stim" / "hal").mkdir(parents=True)
    (root / "stim" / "app.py").write_text("x = 1\n")
    (root / "stim" / "hal" / "rp2040.mpy").write_bytes(b"M\x06")
    (root / "lib").mkdir()
    (root / "lib" / "ssd1306.py").write_text("old = 1\n")
    (root / "lib" / "other.py").write_text("mine = 1\n")
    (root / "settings.json").write_text("{}")
    script = deploy.prepare_script(["stim", "lib/ssd1306.py"], ["lib", "stim", "stim/hal"], str(root))
    for _ in range(2):  # the second run finds nothing to remove and must not fail
        p = subprocess.run([str(_micropython()), "-c", script], capture_output=True, text=True, check=False)
        assert p.returncode == 0, p.stderr
        assert sorted(str(x.relative_to(root)) for x in root.rglob("*")) == [
            "lib", "lib/other.py", "settings.json", "stim", "stim/hal"]


def test_the_clean_up_names_the_package_and_the_py_twins(tmp_path: Path) -> None:
    fake = FakeMpremote()
    d, _said = _deploy(tmp_path, fake)
    d.deploy()
    script = d.prepare()
    twins = sorted("/" + s.relative_to(FIRMWARE).as_posix() for s in _sources()
                   if s.relative_to(FIRMWARE).parts[0] != "stim")
    assert "for p in %r:" % (("/stim", *twins),) in script
    dirs = {"/" + s.relative_to(FIRMWARE).parent.as_posix() for s in _sources()}
    for folder in dirs:
        assert repr(folder) in script.split("for d in", 1)[1]


def test_package_json_lists_every_firmware_file() -> None:
    want = deploy.package_json_text()
    have = (REPO / "package.json").read_text()
    assert have == want, "package.json is stale: run `.venv/bin/picostim deploy --package-json`"
    m = json.loads(have)
    dests = [d for d, _src in m["urls"]]
    files = sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py"))
    assert sorted(dests) == files
    for dest, src in m["urls"]:
        assert (REPO / src).read_bytes() == (FIRMWARE / dest).read_bytes()
    assert m["version"] == picostim.__version__
