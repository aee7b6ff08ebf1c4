"""Safety-case figures (`make bench`): every mutant of host_tools/picostim/safetycase/mutants.toml at the
bench budget (the safety search's and the guard search's sequences raised, pytest runs every named test,
not only up to the first failure), and the hazards of docs/hazards.md.

    safety.mutants            mutants run
    safety.mutants_survived   mutants the named tests did not catch (or that failed to run): must be 0
    safety.hazards            rows of docs/hazards.md

Writes build/mutants.json, which `make safety-report` shows beside each hazard.
"""

from typing import Callable

from picostim.bench import workers
from picostim.safetycase import hazards, mutants


def measure(progress: Callable[[str], None]) -> "dict[str, float | int]":
    results = mutants.run_all("bench", out=mutants.RESULTS, jobs=workers(2), progress=progress)
    bad = [r["id"] for r in results if r["status"] != "caught"]
    if bad:
        progress("not caught: " + ", ".join(bad))
    return {"safety.mutants": len(results), "safety.mutants_survived": len(bad),
            "safety.hazards": len(hazards.load())}
