"""The guard's property search (picostim.guardcheck) finds nothing in the unmutated firmware.

Its mutants, each rule of stim.doseguard and each wire of stim.guardshell and the supervisor
removed one at a time (M09..M19), are data in host_tools/picostim/safetycase/mutants.toml;
tests/test_mutants.py runs each against this same search (fixed seed, stop at the first
violation) and requires the violation its rule exists for.
"""

from picostim import guardcheck

MAX_SEQUENCES = 2_000


def test_without_a_mutant_the_same_search_finds_nothing() -> None:
    _seqs, _sessions, bad, report = guardcheck.search(3, MAX_SEQUENCES)
    assert bad == 0, report
