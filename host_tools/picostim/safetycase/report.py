"""`picostim safety-report -o build/safety.html`: the safety case as one plain HTML page.

For each hazard of docs/hazards.md: the row, the latest bench figures that bear on it (build/bench.json,
`make bench`), each of its mutants with the last result of the mutant runner (build/mutants.json), and
the git revision of the tree the page was made from. No server, no script: a file to open or archive.
"""

import html
import json
import time
from pathlib import Path
from typing import Any, Optional

from picostim.safetycase import hazards, mutants
from picostim.safetycase.mutants import REPO

BENCH = Path("build") / "bench.json"
NOT_MEASURED = "not measured yet: run make bench"
NOT_RUN = "not run yet: run make bench"

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 75em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; margin: 0.5em 0; width: 100%; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; width: 12em; }
code { font-size: 0.9em; overflow-wrap: anywhere; }
table.mutants { table-layout: fixed; } table.mutants th { width: auto; }
table.mutants col.id { width: 4em; } table.mutants col.what { width: 16%; } table.mutants col.change { width: 24%; }
table.mutants col.tests { width: 30%; }
.caught { color: #075; font-weight: bold; } .survived, .error { color: #b00; font-weight: bold; }
.missing { color: #777; font-style: italic; }
"""


def _read_json(path: Path) -> Optional[Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _fmt(v: object) -> str:
    return "%.6g" % v if isinstance(v, float) else str(v)


def render(rows: list[hazards.Hazard], muts: list[mutants.Mutant], bench: Optional[dict[str, Any]],
           results: Optional[dict[str, Any]], revision: str, made: str) -> str:
    by_id = {m.id: m for m in muts}
    res = {r["id"]: r for r in (results or {}).get("results", [])}
    statuses = [res[m.id]["status"] if m.id in res else "not run" for m in muts]
    out = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
           "<title>PicoStim safety case %s</title>\n<style>%s</style>\n</head>\n<body>\n" % (_e(revision), _STYLE),
           "<h1>PicoStim safety case</h1>\n<table>\n"]
    summary = [
        ("git revision", revision),
        ("made", made),
        ("hazards", str(len(rows))),
        ("mutants", "%d: %d caught, %d survived, %d error, %d not run" % (
            len(muts), statuses.count("caught"), statuses.count("survived"), statuses.count("error"),
            statuses.count("not run"))),
        ("mutant run", NOT_RUN if results is None else "revision %s, budget %s, %s" % (
            results.get("revision"), results.get("budget"), results.get("when"))),
        ("bench report", NOT_MEASURED if bench is None else "build/bench.json, %d figures" % len(bench)),
    ]
    out += ["<tr><th>%s</th><td>%s</td></tr>\n" % (_e(k), _e(v)) for k, v in summary]
    out.append("</table>\n<p>Source: docs/hazards.md, host_tools/picostim/safetycase/mutants.toml.</p>\n")
    out.append("<ul>\n" + "".join('<li><a href="#%s">%s</a>: %s</li>\n' % (_e(h.id), _e(h.id), _e(h.hazard))
                                  for h in rows) + "</ul>\n")
    for h in rows:
        out.append('<section id="%s">\n<h2>%s: %s</h2>\n<table>\n' % (_e(h.id), _e(h.id), _e(h.hazard)))
        out.append("<tr><th>causes</th><td>%s</td></tr>\n" % _e(h.causes))
        items = "".join("<li><b>%s</b>: %s (%s)</li>" % (_e(m.layer), _e(m.what),
                                                        _e(", ".join(m.mutants) or "no mutant"))
                        for m in h.mitigations)
        out.append("<tr><th>mitigations</th><td><ul>%s</ul></td></tr>\n" % items)
        if h.no_mutant_because:
            out.append("<tr><th>no mutant because</th><td>%s</td></tr>\n" % _e(h.no_mutant_because))
        out.append("<tr><th>tests</th><td><ul>%s</ul></td></tr>\n"
                   % "".join("<li><code>%s</code></li>" % _e(t) for t in h.tests))
        if not h.figures:
            figs = '<span class="missing">no bench figure bears on it</span>'
        else:
            figs = "<ul>%s</ul>" % "".join(
                "<li><code>%s</code> = %s</li>" % (_e(f), _e(_fmt(bench[f]))) if bench is not None and f in bench
                else '<li><code>%s</code>: <span class="missing">%s</span></li>' % (_e(f), NOT_MEASURED)
                for f in h.figures)
        out.append("<tr><th>bench figures</th><td>%s</td></tr>\n</table>\n" % figs)
        out.append('<table class="mutants">\n<col class="id"><col class="what"><col class="change">'
                   '<col class="tests"><col>\n'
                   "<tr><th>mutant</th><th>removes</th><th>change</th><th>caught by</th>"
                   "<th>last result</th></tr>\n")
        for mid in h.mutants:
            m = by_id[mid]
            r = res.get(mid)
            result = ('<span class="missing">%s</span>' % NOT_RUN if r is None else
                      '<span class="%s">%s</span> %s (%ss)' % (_e(r["status"]), _e(r["status"]),
                                                               _e(r.get("detail", "")), _e(r.get("seconds", ""))))
            out.append("<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td>%s (%s)</td><td>%s</td></tr>\n" % (
                _e(mid), _e(m.what), _e(m.change()), "<br>".join("<code>%s</code>" % _e(t) for t in m.tests),
                _e(m.runner), result))
        out.append("</table>\n</section>\n")
    out.append("</body>\n</html>\n")
    return "".join(out)


def write(out: Path, bench_path: Path = BENCH, results_path: Path = mutants.RESULTS) -> Path:
    bench = _read_json(bench_path if bench_path.is_absolute() else REPO / bench_path)
    results = _read_json(results_path if results_path.is_absolute() else REPO / results_path)
    page = render(hazards.load(), mutants.load(), bench if isinstance(bench, dict) else None,
                  results if isinstance(results, dict) else None, mutants.git_revision(),
                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out


def main(output: str, bench: str = str(BENCH), results: str = str(mutants.RESULTS)) -> int:
    path = write(Path(output), Path(bench), Path(results))
    print("wrote " + str(path))
    return 0
