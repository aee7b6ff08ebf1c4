"""`picostim safety-report`: one HTML page, valid HTML, with every hazard row filled.

The page is parsed with html5lib in strict mode (a parse error raises), then read back as a tree: each
hazard of docs/hazards.md has its section with its causes, mitigations, tests, bench figures and
mutants; a figure the bench report has is shown with its value, one it lacks says how to get it; a
mutant's result is the runner's.
"""

import json
from pathlib import Path
from typing import Any

import html5lib
from picostim import cli
from picostim.safetycase import hazards, mutants, report

NS = "{http://www.w3.org/1999/xhtml}"


def _tree(page: str) -> Any:
    return html5lib.HTMLParser(strict=True).parse(page)


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split())


def _section(doc: Any, hid: str) -> Any:
    found = [s for s in doc.iter(NS + "section") if s.get("id") == hid]
    assert len(found) == 1, hid
    return found[0]


def test_every_hazard_has_its_filled_section_and_the_page_is_valid_html() -> None:
    rows = hazards.load()
    muts = mutants.load()
    first_fig = next(f for h in rows for f in h.figures)
    bench = {first_fig: 12.5}
    results = {"revision": "abc", "budget": "bench", "when": "now",
               "results": [{"id": muts[0].id, "status": "caught", "detail": "found it", "seconds": 1.0}]}
    page = report.render(rows, muts, bench, results, "rev123", "2026-01-01T00:00:00Z")
    doc = _tree(page)
    assert "rev123" in _text(doc.find(NS + "head"))
    for h in rows:
        sec = _section(doc, h.id)
        text = _text(sec)
        assert h.hazard in text and h.causes in text
        for m in h.mitigations:
            assert m.what in text
        for t in h.tests:
            assert t in text
        for mid in h.mutants:
            assert mid in text
        for f in h.figures:
            assert f in text
        cells = [_text(td) for tr in sec.iter(NS + "tr") for td in tr.iter(NS + "td")]
        assert cells and all(cells), h.id  # every cell of the row is filled
    holder = next(h for h in rows if first_fig in h.figures)
    assert "%s = 12.5" % first_fig in _text(_section(doc, holder.id))
    others = [f for h in rows for f in h.figures if f != first_fig]
    assert others and report.NOT_MEASURED in page
    m0 = next(h for h in rows if muts[0].id in h.mutants)
    assert "caught found it" in _text(_section(doc, m0.id))
    assert report.NOT_RUN in page  # the other mutants have no result yet


def test_without_bench_or_mutant_results_every_figure_says_how_to_get_it() -> None:
    rows = hazards.load()
    page = report.render(rows, mutants.load(), None, None, "rev", "now")
    _tree(page)
    n_figs = sum(len(h.figures) for h in rows)
    n_muts = sum(len(h.mutants) for h in rows)
    assert page.count(report.NOT_MEASURED) == n_figs + 1  # each figure, and the summary
    assert page.count(report.NOT_RUN) == n_muts + 1


def test_the_command_writes_the_page_from_the_files(tmp_path: Path) -> None:
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"safety.violations": 0, "safety.sequences": 50000}))
    res = tmp_path / "mutants.json"
    res.write_text(json.dumps({"revision": "r", "budget": "ci", "when": "w",
                               "results": [{"id": "M01", "status": "survived", "detail": "d", "seconds": 2}]}))
    out = tmp_path / "safety.html"
    assert cli.main(["safety-report", "-o", str(out), "--bench", str(bench), "--mutants", str(res)]) == 0
    doc = _tree(out.read_text())
    h1 = _text(_section(doc, "H1"))
    assert "safety.sequences = 50000" in h1 and "survived d" in h1
    assert mutants.git_revision().split("+")[0] in out.read_text()


def test_the_strict_parse_refuses_broken_html() -> None:
    """The validity check can fail: a stray end tag is a parse error in strict mode."""
    import pytest

    with pytest.raises(html5lib.html5parser.ParseError):
        _tree("<!DOCTYPE html>\n<html lang=\"en\"><head><title>t</title></head><body><p>x</div></body></html>")
