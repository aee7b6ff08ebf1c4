"""`picostim sim --silicon`: a scenario on the emulated chip, printed and written as the model's VCD."""

from pathlib import Path

import pytest
from picostim import cli
from vcd.reader import TokenKind, tokenize

REPO = Path(__file__).resolve().parents[2]
STIM4 = str(REPO / "boards" / "stim4.json")


def test_a_scenario_runs_and_writes_a_vcd_with_the_pulses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.txt"
    # The board is READY about 1 s after reset (silicon.boot_ms): start at 1.5 s, with room to grow.
    script.write_text("0.1 key on\n1.5 press start_pause\n1.7 hold plus 0.4\n2.3 estop press\n")
    vcd = tmp_path / "out.vcd"
    rc = cli.main(["sim", "--silicon", "--board", STIM4, "--script", str(script), "--until", "2.7",
                   "--vcd", str(vcd)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert '"status": "RUNNING"' in out and '"status": "FAULT", "reason": "e-stop"' in out
    assert "done: 2.700 s emulated" in out
    ids: dict[str, str] = {}
    changes: dict[str, list[tuple[int, int]]] = {}
    t = 0
    with open(vcd, "rb") as f:
        for tok in tokenize(f):
            if tok.kind is TokenKind.VAR:
                ids[tok.var.id_code] = tok.var.reference
            elif tok.kind is TokenKind.CHANGE_TIME:
                t = tok.time_change
            elif tok.kind is TokenKind.CHANGE_SCALAR:
                changes.setdefault(ids[tok.scalar_change.id_code], []).append((t, int(tok.scalar_change.value)))
    rises = [ns for ns, v in changes.get("CH1_pulse_a", []) if v == 1]
    assert len(rises) > 10  # lower_back at 85 Hz pulsed between the start and the e-stop
    assert all(1_500_000_000 < ns < 2_300_000_000 + 10_000_000 for ns in rises)
    oe = changes.get("output_enable", [])
    assert oe and oe[-1][1] == 0 and oe[-1][0] > 2_300_000_000


def test_a_bad_line_is_named_and_nothing_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.txt"
    script.write_text("0.1 key on\n0.5 hang\n")
    assert cli.main(["sim", "--silicon", "--board", STIM4, "--script", str(script)]) == 2
    err = capsys.readouterr().err
    assert "s.txt:2: 'hang' runs on the model only" in err
