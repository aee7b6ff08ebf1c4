"""Mutants as data: load mutants.toml, apply one mutant to the firmware as it is imported, run the tests
the list names for it, and say whether they caught it.

    python -m picostim.safetycase.mutants [--budget ci|bench] [-o build/mutants.json] [ID ...]
    python -m picostim.safetycase.mutants --one ID [--budget ci|bench]   (one mutant, exit 0 if caught)

A mutant changes one firmware file in the process that runs it, never on disk:
- `switch`: `replacement` (a Python expression; `orig` names the attribute it replaces) is set on the
  named attribute (`Class.method` or a module-level name) right after the module is imported;
- `old`/`new`: a textual patch of the file's source (`old` must occur exactly once) before it compiles.
The model's runner forgets the firmware's modules at every boot, so the change is made at every import,
by hooks on importlib's SourceFileLoader (and on the runner's compile of boot.py/main.py).

`runner` says what must catch it:
- "pytest": the named pytest node ids, in this process (caught: pytest exit status 1, a test failed);
- "safety-search": the random sequences of tests/test_safety_stateful.py (generation only, fixed seed,
  stop at the first violation); caught if the report shows a SafetyViolation containing `expect`;
- "guard-search": picostim.guardcheck's sequences, the same way.
Each mutant runs in its own process, so nothing of one reaches the next.
"""

import argparse
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parents[3]
MUTANTS_FILE = Path(__file__).with_name("mutants.toml")
RESULTS = Path("build") / "mutants.json"
RUNNERS = ("pytest", "safety-search", "guard-search")
KEYS = {"id", "what", "file", "switch", "replacement", "old", "new", "runner", "expect", "blind_feed",
        "hazards", "tests"}

# Budgets: the safety search's sequences (each mutant stops at its first violation, typically within a
# few dozen), the guard search's, and whether pytest stops at the first failing test.
BUDGETS: "dict[str, dict[str, Any]]" = {
    "ci": {"safety_sequences": 400, "guard_sequences": 2_000, "pytest_first_failure": True},
    "bench": {"safety_sequences": 2_000, "guard_sequences": 10_000, "pytest_first_failure": False},
}


class Mutant:
    def __init__(self, d: "dict[str, Any]") -> None:
        unknown = set(d) - KEYS
        if unknown:
            raise ValueError("mutant %s: unknown keys %s" % (d.get("id"), sorted(unknown)))
        self.id: str = d["id"]
        self.what: str = d["what"]
        self.file: str = d.get("file", "")
        self.switch: Optional[str] = d.get("switch")
        self.replacement: Optional[str] = d.get("replacement")
        self.old: Optional[str] = d.get("old")
        self.new: Optional[str] = d.get("new")
        self.runner: str = d["runner"]
        self.expect: str = d.get("expect", "")
        self.blind_feed: bool = bool(d.get("blind_feed", False))
        self.hazards: list[str] = list(d.get("hazards", []))
        self.tests: list[str] = list(d.get("tests", []))
        if self.runner not in RUNNERS:
            raise ValueError("mutant %s: runner %r is not one of %s" % (self.id, self.runner, RUNNERS))
        if (self.switch is not None or self.old is not None) == self.blind_feed:
            raise ValueError("mutant %s: give a change: switch, old/new (or both, in one file) or blind_feed"
                             % self.id)
        if self.switch is not None and self.replacement is None:
            raise ValueError("mutant %s: a switch needs a replacement" % self.id)
        if self.old is not None and self.new is None:
            raise ValueError("mutant %s: a patch needs new" % self.id)

    @property
    def module(self) -> str:
        """The firmware module the file holds ("stim.supervisor"; "boot" for firmware/boot.py)."""
        rel = self.file.removeprefix("firmware/").removesuffix(".py")
        return rel.replace("/", ".")

    def change(self) -> str:
        if self.switch is not None:
            return "%s: %s = %s" % (self.file, self.switch, self.replacement)
        if self.old is not None:
            return "%s: %r -> %r" % (self.file, self.old, self.new)
        return "the watchdog fed by a timer, whatever the main loop does (safetycheck's blind_feed)"


def load(path: Path = MUTANTS_FILE) -> list[Mutant]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    mutants = [Mutant(d) for d in data.get("mutant", [])]
    ids = [m.id for m in mutants]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError("mutant ids used twice: %s" % sorted(dup))
    return mutants


def by_id(mutants: list[Mutant]) -> "dict[str, Mutant]":
    return {m.id: m for m in mutants}


# -- applying one mutant at import ---------------------------------------------------------------------
class Applied:
    """What the hooks did: how many times the mutant's module was imported with the change."""

    def __init__(self) -> None:
        self.times = 0


def install(m: Mutant) -> Applied:
    """Make every later import of the mutant's module carry the change (this process only)."""
    applied = Applied()
    if m.blind_feed:
        applied.times = 1  # the rig feeds the watchdog itself; nothing to import
        return applied
    path = (REPO / m.file).resolve()
    if not path.is_file():
        raise ValueError("mutant %s: no file %s" % (m.id, m.file))
    if m.old is not None:
        _install_patch(m, path, applied)
    if m.switch is not None:
        _install_switch(m, str(path), applied)
    _uncache(str(path))
    return applied


def _install_patch(m: Mutant, path: Path, applied: Applied) -> None:
    target = str(path)
    src = path.read_text()
    if src.count(m.old or "") != 1:
        raise ValueError("mutant %s: its old text occurs %d times in %s (must be once)"
                         % (m.id, src.count(m.old or ""), m.file))
    patched = src.replace(m.old or "", m.new or "")

    def compile_patched() -> CodeType:
        applied.times += 1
        return compile(patched, target, "exec")

    base_get_code = importlib.machinery.SourceFileLoader.get_code

    def get_code(self: Any, fullname: str) -> Any:
        if str(Path(self.get_filename(fullname)).resolve()) == target:
            return compile_patched()
        return base_get_code(self, fullname)

    importlib.machinery.SourceFileLoader.get_code = get_code  # type: ignore[method-assign]
    from picostim.fakehw import runner

    base_compiler = runner._compiler

    def compiler(p: Path) -> "Callable[[], CodeType]":
        return compile_patched if str(Path(p).resolve()) == target else base_compiler(p)

    runner._compiler = compiler  # type: ignore[assignment]  # boot.py and main.py: compiled by the runner, not imported


def _install_switch(m: Mutant, target: str, applied: Applied) -> None:
    base_exec = importlib.machinery.SourceFileLoader.exec_module

    def exec_module(self: Any, module: ModuleType) -> None:
        base_exec(self, module)
        if str(Path(getattr(module, "__file__", "") or "").resolve()) == target:
            _switch(module, m)
            applied.times += 1

    importlib.machinery.SourceFileLoader.exec_module = exec_module  # type: ignore[method-assign]


def _uncache(target: str) -> None:
    """A module imported before the hook was set (none should be) is imported again with it."""
    for name, mod in list(sys.modules.items()):
        if str(Path(getattr(mod, "__file__", "") or "").resolve()) == target:
            del sys.modules[name]


def _switch(module: ModuleType, m: Mutant) -> None:
    owner: Any = module
    parts = (m.switch or "").split(".")
    for p in parts[:-1]:
        owner = getattr(owner, p)
    orig = getattr(owner, parts[-1])  # AttributeError: the switch names nothing (the mutant is stale)
    scope = dict(vars(module))
    scope["orig"] = orig  # a global of the expression, so a lambda in it sees it too
    value = eval(m.replacement or "", scope)
    setattr(owner, parts[-1], value)


# -- running one mutant ----------------------------------------------------------------------------
def run_one(m: Mutant, budget: str) -> "dict[str, Any]":
    """Apply m in this process, run what must catch it. {"status": caught|survived|error, ...}."""
    b = BUDGETS[budget]
    t0 = time.monotonic()
    applied = install(m)
    detail = ""
    if m.runner == "pytest":
        import pytest

        args = [*m.tests, "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO)]
        if b["pytest_first_failure"]:
            args.append("-x")
        rc = int(pytest.main(args))
        status = "caught" if rc == 1 else "survived" if rc == 0 else "error"
        detail = "pytest exit status %d" % rc
    elif m.runner == "safety-search":
        stateful = _stateful()
        seqs, _steps, report = stateful.run_share(0, b["safety_sequences"], blind_feed=m.blind_feed, shrink=False)
        status = "caught" if "SafetyViolation" in report and m.expect in report else "survived"
        detail = "%d sequences; %s" % (seqs, _last_line(report, m.expect))
    else:
        from picostim import guardcheck

        seqs, _sessions, bad, report = guardcheck.search(3, b["guard_sequences"], stop_at_first=True)
        status = "caught" if bad >= 1 and m.expect in report else "survived"
        detail = "%d sequences; %s" % (seqs, _last_line(report, m.expect))
    if applied.times == 0 and status != "error":
        status, detail = "error", "the mutant's module was never imported: " + detail
    return {"id": m.id, "status": status, "detail": detail, "seconds": round(time.monotonic() - t0, 1),
            "budget": budget}


def _last_line(report: str, expect: str) -> str:
    lines = [ln.strip() for ln in report.splitlines() if expect and expect in ln]
    return (lines[-1] if lines else "no violation")[:300]


def _stateful() -> Any:
    sys.path.insert(0, str(REPO / "tests"))
    spec = importlib.util.spec_from_file_location("safety_stateful", REPO / "tests" / "test_safety_stateful.py")
    if spec is None or spec.loader is None:
        raise ImportError("tests/test_safety_stateful.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_in_subprocess(mutant_id: str, budget: str) -> "dict[str, Any]":
    """One mutant in a fresh interpreter (so nothing of it reaches another); its result as a dict."""
    return _child(["--one", mutant_id, "--budget", budget], mutant_id, budget)


def run_in_subprocess_spec(spec: "dict[str, Any]", budget: str = "ci") -> "dict[str, Any]":
    """A mutant given as a dict (not in the list): what the runner's own tests use."""
    return _child(["--spec", json.dumps(spec), "--budget", budget], str(spec.get("id")), budget)


CHILD_TIMEOUT_S = 600  # a mutant whose tests hang is an error, never a catch: the test must be bounded


def _child(args: "list[str]", mutant_id: str, budget: str) -> "dict[str, Any]":
    try:
        p = subprocess.run([sys.executable, "-m", "picostim.safetycase.mutants", *args], cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                           timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"id": mutant_id, "status": "error", "seconds": float(CHILD_TIMEOUT_S), "budget": budget,
                "detail": "its tests ran for more than %d s (a hang): bound the test's loops" % CHILD_TIMEOUT_S}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("MUTANT-RESULT "):
            result: dict[str, Any] = json.loads(line[len("MUTANT-RESULT "):])
            return result
    return {"id": mutant_id, "status": "error", "detail": p.stdout[-2000:], "seconds": 0.0, "budget": budget}


def run_all(budget: str = "ci", ids: "Optional[list[str]]" = None, out: "Optional[Path]" = RESULTS,
            jobs: int = 1, progress: "Callable[[str], None]" = print) -> "list[dict[str, Any]]":
    mutants = load()
    chosen = [m for m in mutants if not ids or m.id in ids]

    def one(m: Mutant) -> "dict[str, Any]":
        r = run_in_subprocess(m.id, budget)
        progress("%-6s %-8s %6.1fs  %s" % (r["id"], r["status"], r["seconds"], m.what))
        return r

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        results = list(ex.map(one, chosen))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"revision": git_revision(), "budget": budget, "when": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}, indent=2) + "\n")
    return results


def git_revision() -> str:
    p = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, check=False)
    rev = p.stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False).stdout
    return rev + ("+changes" if dirty.strip() else "")


def main(argv: "Optional[list[str]]" = None) -> int:
    ap = argparse.ArgumentParser(prog="picostim mutants", description="run the safety case's mutants")
    ap.add_argument("ids", nargs="*", help="only these mutants (default: all)")
    ap.add_argument("--budget", choices=sorted(BUDGETS), default="ci")
    ap.add_argument("--one", metavar="ID", help="run one mutant in this process (what the runner calls)")
    ap.add_argument("--spec", metavar="JSON", help="run this mutant, given as a JSON object, in this process")
    ap.add_argument("-o", "--output", default=str(RESULTS), help="results file (default: build/mutants.json)")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if args.one or args.spec:
        m = Mutant(json.loads(args.spec)) if args.spec else by_id(load())[args.one]
        sys.path[:0] = [str(REPO / "firmware"), str(REPO / "host_tools"), str(REPO / "tests" / "target")]
        from picostim.fakehw import micropython_shim

        sys.modules.setdefault("micropython", micropython_shim)  # as tests/conftest.py does
        result = run_one(m, args.budget)
        print("MUTANT-RESULT " + json.dumps(result), flush=True)
        return 0 if result["status"] == "caught" else 1
    results = run_all(args.budget, args.ids or None, Path(args.output), args.jobs)
    survived = [r["id"] for r in results if r["status"] != "caught"]
    print("%d mutants, %d caught, not caught: %s" % (len(results), len(results) - len(survived),
                                                     ", ".join(survived) or "none"))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
