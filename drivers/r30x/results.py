"""Typed results of module commands: the outcomes a caller must expect are values.

A finger that is absent, a poor image, "not found" and "no match" are everyday answers, not
failures, so they come back as values; every other confirmation raises ``ModuleRejected``.
Pure: no IO.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from doorward.drivers.r30x.protocol import Confirmation


class Image(Enum):
    """GenImg / GetImageEx outcome."""

    TAKEN = "taken"
    NO_FINGER = "no_finger"
    POOR = "poor"  # capture failed (0x03) or, from GetImageEx, poor quality (0x07)


class Features(Enum):
    """Img2Tz outcome. Everything but OK asks for another scan; the kind lets the kiosk say
    how to press (too dry: press harder; too wet: dry the finger)."""

    OK = "ok"
    TOO_DRY = "too_dry"  # AS608 0x04 (vishnumaiea: "over-disorderly")
    TOO_WET = "too_wet"  # 0x05
    MESSY = "messy"  # 0x06, smudged or moved
    TOO_FEW_FEATURES = "too_few_features"  # 0x07, area too small: press flatter

    @property
    def poor(self) -> bool:
        return self is not Features.OK


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
    Confirmation.IMAGE_TOO_DRY: Features.TOO_DRY,
    Confirmation.IMAGE_TOO_WET: Features.TOO_WET,
    Confirmation.IMAGE_MESSY: Features.MESSY,
    Confirmation.TOO_FEW_FEATURES: Features.TOO_FEW_FEATURES,
}


@dataclass(frozen=True, slots=True)
class ModuleParameters:
    """What the client learnt from ReadSysPara when it opened the module."""

    capacity: int
    packet_size: int
    security_level: int
    system_id: int
    baud: int
