"""Virtual fingers: feature/template layout, scores, merging, binding to profile + firmware."""

from __future__ import annotations

import random

import pytest

from doorward.sim.module import fingers
from doorward.sim.module.profiles import PROFILES

TAG = fingers.binding_tag("r307", "R307-SIM-1.0")


def features(finger: str, seed: int, tag: bytes = TAG, size: int = 256) -> bytes:
    return fingers.extract_features(fingers.new_capture(finger, random.Random(seed)), tag, size)


def parsed(blob: bytes) -> fingers.CharFile:
    file = fingers.parse(blob, 256, 512)
    assert file is not None
    return file


def test_feature_file_layout_and_no_plaintext_name() -> None:
    blob = features("alice/right-index", 1)
    assert len(blob) == 256
    assert blob[0] == fingers.KIND_FEATURE and blob[1] == fingers.FORMAT_VERSION
    assert blob[2:6] == TAG
    assert b"alice" not in blob and b"right-index" not in blob


def test_same_capture_gives_same_features_and_captures_differ() -> None:
    capture = fingers.new_capture("alice/right-index", random.Random(3))
    first = fingers.extract_features(capture, TAG, 256)
    assert first == fingers.extract_features(capture, TAG, 256)
    assert features("alice/right-index", 1) != features("alice/right-index", 2)


@pytest.mark.parametrize("seed", range(20))
def test_same_finger_scores_above_every_threshold_and_others_below(seed: int) -> None:
    a1 = parsed(features("alice/right-index", seed))
    a2 = parsed(features("alice/right-index", seed + 100))
    other = parsed(features(f"person-{seed}/thumb", seed + 200))
    same = fingers.score(a1, a2, TAG)
    assert fingers.threshold(5) <= same <= fingers.SCORE_SCALE
    assert 150 <= same <= 320  # realistic, not a constant
    assert fingers.score(a1, other, TAG) < fingers.threshold(1)


def test_merge_builds_a_checksummed_template_that_matches_later_captures() -> None:
    files = [parsed(features("alice/right-index", s)) for s in (1, 2)]
    template = fingers.merge(files, TAG, 3, 512)
    assert template is not None and len(template) == 512
    assert template[0] == fingers.KIND_TEMPLATE and template[6] == 2  # two captures merged
    stored = parsed(template)
    later = parsed(features("alice/right-index", 9))
    assert fingers.score(later, stored, TAG) >= fingers.threshold(5)
    corrupted = bytearray(template)
    corrupted[100] ^= 0xFF
    assert fingers.parse(bytes(corrupted), 256, 512) is None


def test_merge_of_different_fingers_fails() -> None:
    files = [parsed(features("alice/right-index", 1)), parsed(features("bob/left-thumb", 2))]
    assert fingers.merge(files, TAG, 3, 512) is None
    assert fingers.merge([files[0], None], TAG, 3, 512) is None


def test_files_of_another_profile_or_firmware_score_zero() -> None:
    other_tag = fingers.binding_tag("r307", "R307-SIM-2.0")
    mine = parsed(features("alice/right-index", 1))
    theirs = parsed(features("alice/right-index", 2, tag=other_tag))
    assert fingers.score(mine, theirs, TAG) == 0
    assert fingers.score(theirs, theirs, other_tag) == fingers.SCORE_SCALE


def test_thresholds_rise_with_security_level() -> None:
    levels = [fingers.threshold(level) for level in range(1, 6)]
    assert levels == sorted(levels) and len(set(levels)) == 5


@pytest.mark.parametrize("model", sorted(PROFILES))
def test_profile_sizes_fit_the_layout(model: str) -> None:
    profile = PROFILES[model]
    blob = features("x", 1, size=profile.feature_size)
    file = fingers.parse(blob, profile.feature_size, profile.template_size)
    template = fingers.merge([file, file], TAG, 3, profile.template_size)
    assert template is not None and len(template) == profile.template_size
