"""What every door subcommand's parser shares: its description, taken from the first paragraph
of the command module's docstring and printed as plain text (help is read on a terminal)."""

from __future__ import annotations

import argparse
import re


def plain_help(docstring: str | None) -> str:
    """A module docstring's first paragraph as help text: reST literals (``x``) printed plain."""
    first = (docstring or "").strip().split("\n\n")[0]
    return re.sub(r"``([^`]+)``", r"\1", first)


def parser_for(prog: str, docstring: str | None) -> argparse.ArgumentParser:
    """A subcommand's parser, described by the first paragraph of its module's docstring."""
    return argparse.ArgumentParser(prog=prog, description=plain_help(docstring))
