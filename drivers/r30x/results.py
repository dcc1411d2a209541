"""Typed results of module commands: the outcomes a caller must expect are values.

A finger that is absent, a poor image, "not found" and "no match" are everyday answers, not
failures, so they come back as values; every other confirmation raises ``ModuleRejected``.
Pure: no IO.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from drivers.r30x.protocol import Confirmation


class Image(Enum):
    """GenImg / GetImageEx outcome."""

    TAKEN = "taken"
    NO_FINGER = "no_finger"
    POOR = "poor"  # capture failed (0x03) or, from GetImageEx, poor quality (0x07)


class Features(Enum):
    """Img2Tz outcome."""

    OK = "ok"
    POOR = "poor"  # too messy, too few features, too dry or too wet: ask for another scan


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: bool
    score: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    found: bool
    page: int
    score: int


# Confirmations that are an expected outcome of a command, mapped to the value returned.
IMAGE_OUTCOMES = {
    Confirmation.OK: Image.TAKEN,
    Confirmation.NO_FINGER: Image.NO_FINGER,
    Confirmation.IMAGE_FAILED: Image.POOR,
    Confirmation.TOO_FEW_FEATURES: Image.POOR,  # GetImageEx's "poor quality"
}

FEATURE_OUTCOMES = {
    Confirmation.OK: Features.OK,
    Confirmation.IMAGE_TOO_DRY: Features.POOR,
    Confirmation.IMAGE_TOO_WET: Features.POOR,
    Confirmation.IMAGE_MESSY: Features.POOR,
    Confirmation.TOO_FEW_FEATURES: Features.POOR,
}


@dataclass(frozen=True, slots=True)
class ModuleParameters:
    """What the client learnt from ReadSysPara when it opened the module."""

    capacity: int
    packet_size: int
    security_level: int
    system_id: int
    baud: int
