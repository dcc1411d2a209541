"""The protocol sheet the code cites is in the repository, and every section it is cited by
exists there (code comments and docs say "protocol sheet, section 9.2" or "sheet §7")."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHEET = ROOT / "docs" / "r30x-protocol.md"
NUMBER = r"\d{1,2}(?:\.\d)?"
CITATION = re.compile(rf"(?:protocol sheet|\bsheet|r30x-protocol\.md)[ ,(]*(?:sections?|§)\s*"
                      rf"({NUMBER}(?:(?:\s*,\s*|\s+and\s+|/§?){NUMBER})*)"
                      rf"|protocol sheet[ ,(]*({NUMBER})\b")


def sections() -> set[str]:
    return set(re.findall(r"^#{2,3} (\d{1,2}(?:\.\d)?)\.? ", SHEET.read_text(), re.M))


def citations() -> list[tuple[str, str]]:
    found = []
    for folder in ("daemon", "drivers", "sim", "enrol", "server", "tests", "docs"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".md") or path == SHEET or path == Path(__file__):
                continue
            for match in CITATION.finditer(path.read_text()):
                numbers = re.findall(NUMBER, match.group(1) or match.group(2))
                found += [(str(path.relative_to(ROOT)), number) for number in numbers]
    return found


def test_nothing_points_at_the_notes_outside_the_repository() -> None:
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    code = [p for folder in ("daemon", "drivers", "sim", "enrol", "server") for p in (ROOT / folder).rglob("*.py")]
    assert [str(p) for p in pages + code if "shared/docs/r30x-protocol" in p.read_text()] == []


def test_every_cited_section_of_the_protocol_sheet_exists() -> None:
    cited = citations()
    assert len(cited) >= 20  # the sheet is cited from the driver, simulator, door and tests
    assert sorted(c for c in cited if c[1] not in sections()) == []


def test_every_section_names_its_sources() -> None:
    text = SHEET.read_text()
    chapters = re.split(r"^## ", text, flags=re.M)[1:]
    for chapter in chapters:
        number = chapter.split(".", 1)[0]
        if number.isdigit() and int(number) <= 9:
            assert "**Sources:**" in chapter, f"section {number} lists no sources"
    assert "## S. Sources" in text
