"""Reason codes cannot drift: docs/reasons.md lists exactly the codes of ``Reason``. (That the
access modules stay pure is the boundary test's: tests/unit/test_boundaries.py.)"""

from __future__ import annotations

import pathlib
import re

from doorward.daemon.access.decision import Reason
from doorward.daemon.codec.words import REASON_WORDS

ROOT = pathlib.Path(__file__).resolve().parents[2]


def documented_codes() -> list[str]:
    text = (ROOT / "docs" / "reasons.md").read_text()
    return re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)


def test_reasons_md_lists_every_code_once_and_nothing_else() -> None:
    codes = documented_codes()
    assert sorted(codes) == sorted(reason.value for reason in Reason)
    assert len(codes) == len(set(codes))


def test_codes_are_stable_lowercase_snake_strings() -> None:
    assert all(re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", r.value) for r in Reason)
    assert Reason("granted") is Reason.GRANTED and Reason.GRANTED == "granted"


def test_every_code_has_words_for_people() -> None:
    """The demo and the console say each reason in words; a new code needs its line."""
    assert sorted(REASON_WORDS) == sorted(reason.value for reason in Reason)
    assert all(words.strip() for words in REASON_WORDS.values())
