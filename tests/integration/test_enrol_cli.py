"""The `doorward kiosk` and `doorward enrol` groups: documented, and a held port is told."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from doorward.enrol import cli
from doorward.enrol.kiosk import cli as kiosk_cli
from doorward.enrol.station import PortHeld, open_module
from doorward.sim.module.link import PtyBridge
from doorward.sim.module.r30x import SimulatedR30x

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kiosk.md"


@pytest.mark.parametrize("command", [f"doorward enrol {name}" for name in cli.COMMANDS]
                         + [f"doorward kiosk {name}" for name in kiosk_cli.COMMANDS])
def test_every_subcommand_is_documented(command: str) -> None:
    assert re.search(rf"`{re.escape(command)}[ `]", DOCS.read_text())


def test_a_port_held_by_another_program_fails_at_once_with_a_clear_message(tmp_path: Path) -> None:
    with PtyBridge(SimulatedR30x("r503"), tmp_path / "module"):
        held = open_module(str(tmp_path / "module"))
        try:
            with pytest.raises(PortHeld, match="held by another program"):
                open_module(str(tmp_path / "module"))
        finally:
            held.close()


def test_the_groups_print_usage_and_refuse_unknown_commands(capsys) -> None:
    assert cli.main([], "doorward enrol") == 2 and kiosk_cli.main([], "doorward kiosk") == 2
    assert cli.main(["nope"], "doorward enrol") == 2
    assert "finger" in capsys.readouterr().out
