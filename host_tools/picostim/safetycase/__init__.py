"""The safety case: docs/hazards.md (hazards -> mitigations -> tests -> mutants), the mutants as data
(mutants.toml), their runner, the consistency checks and the HTML report (docs/hazards.md)."""
