"""docs/hazards.md agrees with the tests and the mutants (picostim.safetycase.hazards).

The real table and mutant list must be consistent; then each check is shown to fail on a table or a
list broken in exactly the way it exists to notice.
"""

from pathlib import Path

import pytest
from picostim.safetycase import hazards, mutants

TEST = "tests/test_hazards.py::test_the_table_and_the_mutants_agree"
ROW = ("| H1 | a hazard | a cause | supervisor: a guard [M1] | %s | M1 | safety.sequences |  |" % TEST)
HEAD = "| " + " | ".join(hazards.COLUMNS) + " |\n|" + "---|" * len(hazards.COLUMNS) + "\n"


def _mutant(mid: str = "M1", hz: "list[str] | None" = None, tests: "list[str] | None" = None) -> mutants.Mutant:
    return mutants.Mutant({"id": mid, "what": "x", "file": "firmware/stim/supervisor.py", "switch": "watchdog_ms",
                           "replacement": "orig", "runner": "pytest", "hazards": ["H1"] if hz is None else hz,
                           "tests": [TEST] if tests is None else tests})


def _problems(row: str = ROW, muts: "list[mutants.Mutant] | None" = None) -> list[str]:
    return hazards.problems(hazards.parse(HEAD + row + "\n"), [_mutant()] if muts is None else muts)


def test_the_table_and_the_mutants_agree() -> None:
    rows = hazards.load()
    ms = mutants.load()
    assert hazards.problems(rows, ms) == []
    assert len(rows) >= 20 and len(ms) >= 60  # the list and what the code showed besides
    assert all(r.mitigations and r.tests for r in rows)


def test_the_minimal_good_table_has_no_problem() -> None:
    assert _problems() == []


@pytest.mark.parametrize(("row", "words"), [
    (ROW.replace(TEST, "tests/test_hazards.py::test_not_there"), "does not exist"),
    (ROW.replace(TEST, "tests/no_such_file.py::test_x"), "does not exist"),
    (ROW.replace("| M1 |", "| M1, M9 |").replace("[M1]", "[M1, M9]"), "M9 is not in mutants.toml"),
    (ROW.replace("[M1]", "[M1]; board check: a rule []"), "has no mutant and no [none]"),
    (ROW.replace("[M1]", "[M1]; hardware series cut: a cut [none]"), "does not say why"),
    (ROW.replace("|  |", "| a reason |"), "every mitigation has one"),
    (ROW.replace("| M1 |", "| M1, M2 |"), "differs from the mitigations'"),
    (ROW.replace("supervisor:", "wishful thinking:"), "unknown layer"),
    (ROW.replace("supervisor: a guard [M1]", "a guard without a layer"), "not `layer: measure [ids]`"),
    (ROW.replace("safety.sequences", "safety.no_such_figure"), "not reported by the bench"),
    (ROW.replace("| H1 |", "| X1 |"), "a hazard id is H and a number"),
    (ROW + "\n" + ROW, "used twice"),
])
def test_each_check_fails_on_a_table_broken_its_way(row: str, words: str) -> None:
    assert any(words in p for p in _problems(row)), _problems(row)


@pytest.mark.parametrize(("muts", "words"), [
    ([_mutant(hz=[])], "maps to no hazard"),
    ([_mutant(hz=["H1", "H7"])], "unknown hazard H7"),
    ([_mutant(), _mutant("M2")], "M2 maps to H1, whose row does not list it"),
    ([_mutant(hz=["H1"], tests=["tests/test_hazards.py::test_gone"])], "test tests/test_hazards.py::test_gone"),
    ([], "M1 is not in mutants.toml"),
])
def test_each_check_fails_on_a_mutant_list_broken_its_way(muts: "list[mutants.Mutant]", words: str) -> None:
    assert any(words in p for p in _problems(muts=muts)), _problems(muts=muts)


def test_a_row_listing_a_mutant_of_another_hazard_is_caught() -> None:
    assert any("whose hazards are ['H2']" in p for p in _problems(muts=[_mutant(hz=["H2"])]))


def test_the_parser_refuses_a_file_without_exactly_one_table() -> None:
    with pytest.raises(hazards.TableError):
        hazards.parse("no table here\n")
    with pytest.raises(hazards.TableError):
        hazards.parse(HEAD + ROW + "\n\n" + HEAD + ROW + "\n")
    with pytest.raises(hazards.TableError):
        hazards.parse(HEAD + ROW.replace("|  |", "|") + "\n")  # a cell short


def test_node_ids_are_read_from_the_test_files(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("def test_a():\n    pass\nclass TestB:\n    def test_c(self):\n        pass\n"
                                   "def helper():\n    pass\n")
    assert hazards.test_exists("t.py::test_a", tmp_path)
    assert hazards.test_exists("t.py::test_a[param]", tmp_path)
    assert hazards.test_exists("t.py::TestB::test_c", tmp_path)
    assert not hazards.test_exists("t.py::test_c", tmp_path)
    assert not hazards.test_exists("t.py::helper", tmp_path)
    assert not hazards.test_exists("u.py::test_a", tmp_path)
