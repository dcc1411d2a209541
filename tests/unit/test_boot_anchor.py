"""The anchor file (item 7 of issue 12): what a restart within one boot keeps, what survives a
reboot, and that it is written rarely, atomically and never raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doorward.daemon.storage.boot_anchor import ANCHOR_FILE, WRITE_EVERY_S, AnchorStore
from doorward.daemon.access.state import BootKnowledge

BOOT, OTHER_BOOT = "boot-a", "boot-b"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ANCHOR_FILE


def test_nothing_stored_means_nothing_known_but_the_start(path: Path) -> None:
    assert AnchorStore(path, BOOT, 50.0).knowledge == BootKnowledge(50.0)


def test_a_restart_in_the_same_boot_knows_what_the_last_run_knew(path: Path) -> None:
    first = AnchorStore(path, BOOT, 10.0)
    first.trusted(1_800_000_000.0, 20.0)
    first.fresh(7, 30.0)
    first.flush(40.0)
    again = AnchorStore(path, BOOT, 900.0)
    assert again.knowledge == BootKnowledge(10.0, 1_800_000_000.0 - 10.0, (1_800_000_000.0, 20.0),
                                            (7, 30.0))


def test_after_a_reboot_only_a_floor_survives(path: Path) -> None:
    first = AnchorStore(path, BOOT, 10.0)
    first.trusted(1_800_000_000.0, 20.0)
    first.fresh(7, 30.0)
    first.flush(120.0)  # written 100 s after the trusted reading: the floor moved on with it
    rebooted = AnchorStore(path, OTHER_BOOT, 3.0)
    assert rebooted.knowledge == BootKnowledge(3.0, wall_floor=1_800_000_100.0)


def test_a_boot_never_trusted_carries_the_floor_forward(path: Path) -> None:
    first = AnchorStore(path, BOOT, 10.0)
    first.trusted(1_800_000_000.0, 10.0)
    first.flush(10.0)
    second = AnchorStore(path, OTHER_BOOT, 5.0)  # a reboot, and no trusted clock all along
    second.flush(65.0)
    third = AnchorStore(path, "boot-c", 2.0)
    assert third.knowledge.wall_floor == 1_800_000_060.0


def test_an_unknown_boot_id_never_counts_as_the_same_boot(path: Path) -> None:
    first = AnchorStore(path, "unknown", 10.0)
    first.fresh(7, 30.0)
    first.flush(40.0)
    assert AnchorStore(path, "unknown", 50.0).knowledge.fresh is None


@pytest.mark.parametrize("text", ["not json", "[]", '{"format": "other/1"}',
                                  '{"format": "doorward-anchor/1", "boot_id": "boot-a"}',
                                  '{"format": "doorward-anchor/1", "boot_id": "boot-a", '
                                  '"started_mono": 1, "written_mono": 2, "wall_floor": null, '
                                  '"last_trusted": [1], "fresh": null}'])
def test_a_damaged_file_means_nothing_known(path: Path, text: str, caplog) -> None:
    path.write_text(text)
    assert AnchorStore(path, BOOT, 50.0).knowledge == BootKnowledge(50.0)
    assert str(path.name) in caplog.text or "malformed" in caplog.text


def writes(path: Path) -> float | None:
    return json.loads(path.read_text())["written_mono"] if path.exists() else None


def test_written_at_once_for_what_matters_otherwise_every_few_minutes(path: Path) -> None:
    store = AnchorStore(path, BOOT, 0.0)
    store.observe(False, 0.0, 1.0)
    assert writes(path) == 1.0  # the first write of a run
    store.observe(True, 1_800_000_000.0, 2.0)
    assert writes(path) == 2.0  # the first trusted reading in this boot
    for second in range(3, 200):
        store.observe(True, 1_800_000_000.0 + second, float(second))
    assert writes(path) == 2.0  # trusted readings every second: not written each time
    store.fresh(8, 250.0)
    store.tick(251.0)
    assert writes(path) == 251.0  # a new version
    store.fresh(8, 260.0)
    store.tick(261.0)
    assert writes(path) == 251.0  # the same version confirmed again: it waits
    store.tick(251.0 + WRITE_EVERY_S)
    assert writes(path) == 251.0 + WRITE_EVERY_S
    assert json.loads(path.read_text())["fresh"] == [8, 260.0]


def test_a_failed_write_is_logged_and_tried_again(tmp_path: Path, caplog) -> None:
    blocked = tmp_path / "gone" / ANCHOR_FILE  # its directory does not exist
    store = AnchorStore(blocked, BOOT, 0.0)
    store.tick(1.0)
    assert "cannot write the time anchors" in caplog.text
    blocked.parent.mkdir()
    store.tick(2.0)
    assert writes(blocked) == 2.0
