"""The documentation a newcomer reads: a short README, and every relative link of the README,
the changelog and docs/ resolving to a file of the repository and, with an #anchor, to a
heading of that file (GitHub's heading ids)."""

import re
from pathlib import Path

import pytest

from conftest import REPO

PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def heading_ids(text: str) -> set[str]:
    """GitHub's ids of a page's headings: lower case, punctuation but - and _ dropped,
    spaces to hyphens (fenced code is no heading)."""
    ids, fenced = set(), False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6} (.*)", line)):
            ids.add(re.sub(r"[^\w\- ]", "", m[1].strip().lower()).replace(" ", "-"))
    return ids


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]  # http:, mailto: are not ours


def test_readme_is_a_page_a_newcomer_reads():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    # the two quickstart commands, exactly as tests/conftest.py's quickstart fixture runs the first
    assert "bash scripts/install.sh && .venv/bin/snakemake --cores all results/report.html\n" in text
    assert "\n.venv/bin/python -m pytest\n" in text


def test_heading_ids_follow_github():
    ids = heading_ids("# A (`b`) c: d\n```\n# not a heading\n```\n### Real data: the shipped slices\n")
    assert ids == {"a-b-c-d", "real-data-the-shipped-slices"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    assert page.exists()
    found = links(page)
    bad = []
    for target in found:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or REPO.resolve() not in [dest, *dest.parents]:
            bad.append(f"{target}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in heading_ids(dest.read_text(encoding="utf-8")):
            bad.append(f"{target}: no heading #{anchor} in {dest.relative_to(REPO.resolve())}")
    assert not bad, f"{page.relative_to(REPO)}: " + "; ".join(bad)
    if page.name == "README.md":  # the README points to every page of docs/
        assert {p.name for p in (REPO / "docs").glob("*.md")} <= {Path(t.partition("#")[0]).name for t in found}
