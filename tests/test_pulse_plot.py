"""`picostim plot PROGRAM -o FILE.png`: a PNG for a built-in or a JSON file; a clear error otherwise."""

import json
from pathlib import Path

import pytest
from picostim import cli, plot
from picostim.pulserun import firmware_module, run_train

REPO = Path(__file__).resolve().parents[1]
BOARD = str(REPO / "boards" / "stim4.json")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("program", ["tens_burst", "relaxation"])
def test_builtin_program_plots_to_a_png(tmp_path: Path, program: str) -> None:
    out = tmp_path / (program + ".png")
    assert cli.main(["plot", program, "-o", str(out), "--board", BOARD]) == 0
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000


def test_json_program_file_plots(tmp_path: Path) -> None:
    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"name": "mine", "freq_hz": 30, "width_us": 400, "on_s": 3, "off_s": 5}))
    out = tmp_path / "mine.png"
    assert cli.main(["plot", str(f), "-o", str(out), "--board", BOARD]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_bad_program_is_a_clear_error_and_nonzero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"freq_hz": 50, "width_us": 5000}))
    out = tmp_path / "bad.png"
    assert cli.main(["plot", str(f), "-o", str(out), "--board", BOARD]) == 2
    assert "picostim plot: width_us: 5000 is out of range 20..1000 us" in capsys.readouterr().err
    assert not out.exists()
    assert cli.main(["plot", "no_such_program", "-o", str(out), "--board", BOARD]) == 2
    assert "name: no built-in program 'no_such_program'" in capsys.readouterr().err
    assert cli.main(["plot", str(tmp_path / "missing.json"), "-o", str(out), "--board", BOARD]) == 2
    assert "(file): cannot read" in capsys.readouterr().err


def test_a_gap_and_the_positive_phase_first_are_drawn_from_the_model(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """plot draws what the model makes: a program with an interphase interval, the positive phase
    first, is drawn, and the pair panel's title gives the gap and the order measured on the pins."""
    f = tmp_path / "gap.json"
    f.write_text(json.dumps({"freq_hz": 50, "width_us": 300, "interphase_us": 100, "lead": "positive"}))
    out = tmp_path / "gap.png"
    assert cli.main(["plot", str(f), "-o", str(out), "--board", BOARD]) == 0
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    brd = firmware_module("stim.board").load(BOARD)
    program = plot.load_program(str(f), len(brd.channels))
    settings = firmware_module("stim.pulse").train_settings(program, brd.cpu_hz, brd.limits.guard_us,
                                                                 brd.limits.dead_time_us)
    c0 = brd.channels[0]
    titles = plot.draw(program, settings, run_train(settings, c0.pulse_a, c0.pulse_b, 3), str(out))
    assert "positive 300.000 us, gap 100.000 us, negative 300.000 us" in titles[-1], titles
