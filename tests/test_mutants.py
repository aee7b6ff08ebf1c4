"""Every mutant of the safety case is caught, at the CI budget (docs/hazards.md).

host_tools/picostim/safetycase/mutants.toml lists each mutant: one mitigation removed from the
firmware (in a child process, never on disk) and the tests that must then fail. Each case here runs
one mutant in a fresh interpreter and requires that those tests caught it. `make bench` runs the same
list at its fuller budget (safety.mutants, safety.mutants_survived) and writes build/mutants.json,
which `picostim safety-report` shows.
"""

import pytest
from picostim import bench
from picostim.safetycase import mutants

MUTANTS = mutants.load()


@pytest.mark.parametrize("mutant_id", [m.id for m in MUTANTS])
def test_the_mutant_is_caught(mutant_id: str) -> None:
    r = mutants.run_in_subprocess(mutant_id, "ci")
    assert r["status"] == "caught", r


def test_a_mutant_whose_old_text_is_gone_is_an_error_not_a_catch() -> None:
    """A stale patch (the firmware changed under it) must never count as caught."""
    m = mutants.Mutant({"id": "X1", "what": "stale", "file": "firmware/stim/supervisor.py",
                        "old": "this text is not in the file", "new": "", "runner": "pytest",
                        "hazards": ["H1"], "tests": ["tests/test_mutants.py"]})
    with pytest.raises(ValueError, match="occurs 0 times"):
        mutants.install(m)


def test_an_unmutated_run_is_not_a_catch() -> None:
    """The runner's verdict for a switch that changes nothing: survived (the tests pass)."""
    r = mutants.run_in_subprocess_spec({"id": "X2", "what": "identity", "file": "firmware/stim/supervisor.py",
                                        "switch": "watchdog_ms", "replacement": "orig", "runner": "pytest",
                                        "hazards": ["H5"],
                                        "tests": ["tests/target/test_supervisor.py::test_feed_only_when_consistent"]})
    assert r["status"] == "survived", r


def test_the_bench_runs_the_mutants_at_its_budget() -> None:
    assert "safetycase" in bench.AREAS
    assert mutants.BUDGETS["bench"]["safety_sequences"] > mutants.BUDGETS["ci"]["safety_sequences"]
