"""docs/hazards.md as data, and the checks that keep it true to the tests and the mutants.

The file holds one markdown table (COLUMNS). Cells that list ids separate them with commas; the
Mitigations cell lists `layer: measure [M01, M02]` items separated by `;`, `[none]` for a measure no
mutant can remove (the row's last cell then says why).
"""

import ast
import re
from pathlib import Path
from typing import Callable, Iterable, Optional

from picostim.safetycase.mutants import REPO, Mutant

HAZARDS_FILE = REPO / "docs" / "hazards.md"
COLUMNS = ("Id", "Hazard and hazardous situation", "Causes (single faults included)", "Mitigations", "Tests",
           "Mutants", "Bench figures", "No mutant because")
LAYERS = ("hardware series cut", "IRQ kill", "supervisor", "watchdog", "dynamic enable", "board check", "boot",
          "store", "console", "console authorisation", "panel", "controller", "pulse engine", "dose guard",
          "client profiles")
_MITIGATION = re.compile(r"^(?P<layer>[^:]+):\s*(?P<what>.+?)\s*\[(?P<ids>[^\]]*)\]$")
_HAZARD_ID = re.compile(r"^H[1-9][0-9]*$")


class Mitigation:
    def __init__(self, layer: str, what: str, mutants: list[str], none: bool) -> None:
        self.layer = layer
        self.what = what
        self.mutants = mutants
        self.none = none


class Hazard:
    def __init__(self, cells: list[str]) -> None:
        self.id, self.hazard, self.causes, mit, tests, muts, figs, self.no_mutant_because = cells
        self.mitigation_text = mit
        self.mitigations: list[Mitigation] = []
        self.bad_mitigations: list[str] = []
        for item in (x.strip() for x in mit.split(";")):
            if not item:
                continue
            m = _MITIGATION.match(item)
            if m is None:
                self.bad_mitigations.append(item)
                continue
            ids = _ids(m.group("ids"))
            none = ids == ["none"]
            self.mitigations.append(Mitigation(m.group("layer").strip(), m.group("what"), [] if none else ids, none))
        self.tests = _ids(tests)
        self.mutants = _ids(muts)
        self.figures = _ids(figs)


def _ids(cell: str) -> list[str]:
    return [x.strip().strip("`") for x in cell.split(",") if x.strip().strip("`")]


class TableError(ValueError):
    pass


def _cells(line: str) -> list[str]:
    s = line.strip()
    if not (s.startswith("|") and s.endswith("|")):
        raise TableError("not a table line: " + line[:60])
    return [c.strip() for c in s[1:-1].split("|")]


def parse(text: str) -> list[Hazard]:
    """The hazards of the one table in text; TableError if there is not exactly one, or a row is malformed."""
    lines = text.splitlines()
    heads = [i for i, ln in enumerate(lines) if ln.strip().startswith("| Id |")]
    if len(heads) != 1:
        raise TableError("docs/hazards.md must hold exactly one hazard table (found %d)" % len(heads))
    i = heads[0]
    header = _cells(lines[i])
    if tuple(header) != COLUMNS:
        raise TableError("the table's columns must be %s, not %s" % (COLUMNS, header))
    rows: list[Hazard] = []
    for ln in lines[i + 2:]:
        if not ln.strip().startswith("|"):
            break
        cells = _cells(ln)
        if len(cells) != len(COLUMNS):
            raise TableError("row %s has %d cells, not %d" % (cells[0], len(cells), len(COLUMNS)))
        rows.append(Hazard(cells))
    return rows


def load(path: Path = HAZARDS_FILE) -> list[Hazard]:
    return parse(path.read_text())


# -- the checks -------------------------------------------------------------------------------------
def test_exists(nodeid: str, root: Path = REPO) -> bool:
    """A pytest node id (path::function, path::Class::method, an optional [param]) names a test that
    is there: the file exists and defines that test function (read from its syntax tree)."""
    path, _, rest = nodeid.partition("::")
    f = root / path
    if not f.is_file() or not path.endswith(".py"):
        return False
    if not rest:
        return True
    parts = rest.split("[", 1)[0].split("::")
    body: Iterable[ast.stmt] = ast.parse(f.read_text()).body
    for i, name in enumerate(parts):
        last = i == len(parts) - 1
        found: Optional[ast.stmt] = None
        for node in body:
            if last and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                found = node
            elif not last and isinstance(node, ast.ClassDef) and node.name == name:
                found = node
        if found is None or not name.startswith("test" if last else "Test"):
            return False
        if not last:
            body = found.body  # type: ignore[attr-defined]
    return True


def bench_figure_known(name: str) -> bool:
    """The figure is named in the bench's source (host_tools/picostim/bench), so `make bench` reports it."""
    return any('"%s"' % name in p.read_text() for p in (REPO / "host_tools" / "picostim" / "bench").glob("*.py"))


def problems(rows: list[Hazard], mutants: list[Mutant], exists: Callable[[str], bool] = test_exists,
             figure_known: Callable[[str], bool] = bench_figure_known) -> list[str]:
    """Everything that makes the table and the mutant list disagree, one line each (empty: consistent)."""
    out: list[str] = []
    ids = [h.id for h in rows]
    known_mutants = {m.id: m for m in mutants}
    if not rows:
        out.append("the table has no rows")
    for h in rows:
        if not _HAZARD_ID.match(h.id):
            out.append("%s: a hazard id is H and a number" % h.id)
        if ids.count(h.id) > 1:
            out.append("%s: hazard id used twice" % h.id)
        if not h.hazard or not h.causes:
            out.append("%s: hazard and causes must be filled" % h.id)
        for bad in h.bad_mitigations:
            out.append("%s: mitigation not `layer: measure [ids]`: %s" % (h.id, bad))
        if not h.mitigations:
            out.append("%s: no mitigation" % h.id)
        for mit in h.mitigations:
            if mit.layer not in LAYERS:
                out.append("%s: unknown layer %r (one of %s)" % (h.id, mit.layer, ", ".join(LAYERS)))
            if not mit.mutants and not mit.none:
                out.append("%s: mitigation %r has no mutant and no [none]" % (h.id, mit.what))
        has_none = any(mit.none for mit in h.mitigations)
        if has_none and not h.no_mutant_because:
            out.append("%s: a mitigation says [none], but the row does not say why no mutant can exist" % h.id)
        if h.no_mutant_because and not has_none:
            out.append("%s: says why no mutant exists, but every mitigation has one" % h.id)
        named = sorted({i for mit in h.mitigations for i in mit.mutants})
        if sorted(set(h.mutants)) != named:
            out.append("%s: Mutants cell %s differs from the mitigations' %s" % (h.id, h.mutants, named))
        if not h.tests:
            out.append("%s: no test" % h.id)
        for t in h.tests:
            if not exists(t):
                out.append("%s: test %s does not exist" % (h.id, t))
        for mid in h.mutants:
            m = known_mutants.get(mid)
            if m is None:
                out.append("%s: mutant %s is not in mutants.toml" % (h.id, mid))
            elif h.id not in m.hazards:
                out.append("%s: lists mutant %s, whose hazards are %s" % (h.id, mid, m.hazards))
        for fig in h.figures:
            if not figure_known(fig):
                out.append("%s: bench figure %s is not reported by the bench" % (h.id, fig))
    for m in mutants:
        if not m.hazards:
            out.append("mutant %s maps to no hazard" % m.id)
        for hid in m.hazards:
            if hid not in ids:
                out.append("mutant %s maps to unknown hazard %s" % (m.id, hid))
            elif m.id not in next(h for h in rows if h.id == hid).mutants:
                out.append("mutant %s maps to %s, whose row does not list it" % (m.id, hid))
        if not m.tests:
            out.append("mutant %s names no test" % m.id)
        for t in m.tests:
            if not exists(t):
                out.append("mutant %s: test %s does not exist" % (m.id, t))
    return out
