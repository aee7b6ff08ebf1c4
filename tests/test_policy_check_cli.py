"""`picostim policy check`: the shipped policy is valid and is the defaults; bad files FAIL with the key named."""

from pathlib import Path

from picostim import cli, policycheck
from stim import policy

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "policies" / "wb-ems.json"


def test_the_shipped_policy_is_valid_and_is_the_defaults() -> None:
    line = policycheck.check_file(str(SHIPPED))
    assert line.startswith("OK ") and "96 h between sessions" in line, line
    assert policy.parse(SHIPPED.read_text()).fields() == policy.defaults().fields()


def test_bad_files_fail_with_the_key_named(tmp_path: Path) -> None:
    cases = {
        "range.json": ('{"schema": 1, "min_recovery_h": 200}', "min_recovery_h: 200 is out of range 24..168"),
        "dup.json": ('{"schema": 1, "rise_pct": 10, "rise_pct": 90}', 'key "rise_pct" appears twice'),
        "typo.json": ('{"schema": 1, "max_sesion_s": 600}', "max_sesion_s: unknown key"),
        "big.json": ('{"schema": 1, "description": "' + "x" * 3000 + '"}', "larger than"),
    }
    for name, (text, why) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        line = policycheck.check_file(str(p))
        assert line.startswith("FAIL ") and why in line, line
    lines: list[str] = []
    assert policycheck.run([str(SHIPPED), str(tmp_path / "range.json")], lines.append) == 1
    assert policycheck.run([], lines.append) == 2
    assert policycheck.check_file(str(tmp_path / "missing.json")).startswith("FAIL ")


def test_the_cli_runs_it() -> None:
    assert cli.main(["policy", "check", str(SHIPPED)]) == 0
