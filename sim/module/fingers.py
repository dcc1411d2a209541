"""Virtual fingers: feature files, templates and match scores of the simulated module.

Owns the byte layout of the simulated char files (docs/simulator.md, "Feature and template
layout") and the scoring. A finger is only a name ("alice/right-index"); its identity is a
pseudo-random bit string derived from a hash of the name *and* the module binding (profile +
firmware), so no file contains the name and bodies of different firmware never line up.
Each capture flips a seeded fraction of the identity bits. Pure: no IO, no clock.
"""

from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import dataclass

HEADER = struct.Struct(">BB4sBB8s")  # kind, format, binding tag, count/quality, 0, nonce/id
HEADER_LEN = HEADER.size  # 16
KIND_FEATURE = 0x01
KIND_TEMPLATE = 0x02
FORMAT_VERSION = 0x01
SCORE_SCALE = 350  # identical bodies score 350; same finger typically 200..310
FLIP_RATE_RANGE = (0.03, 0.12)  # share of identity bits one capture gets wrong
THRESHOLDS = {1: 30, 2: 40, 3: 50, 4: 65, 5: 80}  # minimum score per security level


@dataclass(frozen=True, slots=True)
class Capture:
    """The image buffer after GenImg: which finger, and the seed of this capture's noise."""

    finger: str
    noise_seed: int
    flip_rate: float


@dataclass(frozen=True, slots=True)
class CharFile:
    kind: int
    tag: bytes
    body: bytes
    count: int


def binding_tag(profile_name: str, firmware: str) -> bytes:
    """4 bytes naming profile and firmware; templates only match under the same tag."""
    return hashlib.sha256(f"{profile_name}\0{firmware}".encode()).digest()[:4]


def identity(finger: str, tag: bytes, n_bytes: int) -> bytes:
    return hashlib.shake_256(b"doorward-sim/finger\0" + tag + finger.encode()).digest(n_bytes)


def new_capture(finger: str, rng: random.Random) -> Capture:
    return Capture(finger, rng.getrandbits(64), rng.uniform(*FLIP_RATE_RANGE))


def _flip_bits(body: bytes, rate: float, rng: random.Random) -> bytes:
    out = bytearray(body)
    for bit in range(len(out) * 8):
        if rng.random() < rate:
            out[bit >> 3] ^= 1 << (bit & 7)
    return bytes(out)


def extract_features(capture: Capture, tag: bytes, feature_size: int) -> bytes:
    """Img2Tz: the feature file of one capture (same capture -> same bytes)."""
    rng = random.Random(capture.noise_seed)
    clean = identity(capture.finger, tag, feature_size - HEADER_LEN)
    body = _flip_bits(clean, capture.flip_rate, rng)
    quality = 100 - round(capture.flip_rate * 100)
    nonce = capture.noise_seed.to_bytes(8, "big")
    return HEADER.pack(KIND_FEATURE, FORMAT_VERSION, tag, quality, 0, nonce) + body


def _template_bytes(tag: bytes, consensus: bytes, count: int, template_size: int) -> bytes:
    template_id = hashlib.sha256(consensus).digest()[:8]
    header = HEADER.pack(KIND_TEMPLATE, FORMAT_VERSION, tag, count, 0, template_id)
    filler_len = template_size - HEADER_LEN - len(consensus) - 2
    filler = hashlib.shake_256(b"filler" + consensus).digest(filler_len)
    unsummed = header + consensus + filler
    return unsummed + struct.pack(">H", sum(unsummed) & 0xFFFF)


def parse(blob: bytes, feature_size: int, template_size: int) -> CharFile | None:
    """A char file, or None when the bytes are not a valid feature file or template."""
    if len(blob) not in (feature_size, template_size):
        return None
    kind, version, tag, count, _, _ = HEADER.unpack_from(blob)
    body_len = feature_size - HEADER_LEN
    body = blob[HEADER_LEN : HEADER_LEN + body_len]
    if version != FORMAT_VERSION:
        return None
    if kind == KIND_FEATURE and len(blob) == feature_size:
        return CharFile(kind, tag, body, 1)
    if kind == KIND_TEMPLATE and len(blob) == template_size:
        (stored_sum,) = struct.unpack_from(">H", blob, len(blob) - 2)
        if stored_sum == sum(blob[:-2]) & 0xFFFF:
            return CharFile(kind, tag, body, count)
    return None


def score(a: CharFile | None, b: CharFile | None, tag: bytes) -> int:
    """0..350 from the Hamming distance of the bodies; 0 across firmware or for bad files."""
    if a is None or b is None or a.tag != tag or b.tag != tag or len(a.body) != len(b.body):
        return 0
    distance = int.from_bytes(a.body, "big") ^ int.from_bytes(b.body, "big")
    share = distance.bit_count() / (8 * len(a.body))
    return max(0, round((1.0 - 2.0 * share) * SCORE_SCALE))


def threshold(security_level: int) -> int:
    return THRESHOLDS.get(security_level, THRESHOLDS[3])


def _majority(bodies: list[bytes]) -> bytes:
    """Bitwise majority; a tie keeps the bit of the first file (the earliest capture)."""
    out = bytearray(bodies[0])
    for bit in range(len(out) * 8):
        ones = sum(body[bit >> 3] >> (bit & 7) & 1 for body in bodies)
        zeros = len(bodies) - ones
        if ones != zeros:
            mask = 1 << (bit & 7)
            out[bit >> 3] = out[bit >> 3] | mask if ones > zeros else out[bit >> 3] & ~mask
    return bytes(out)


def merge(files: list[CharFile | None], tag: bytes, level: int, template_size: int, *,
          same_finger_only: bool = True) -> bytes | None:
    """RegModel: a template from 2..6 char files of one finger, or None (0x0A).
    ``same_finger_only=False`` is a clone that merges files of different fingers too."""
    if len(files) < 2 or any(f is None for f in files):
        return None
    valid = [f for f in files if f is not None]
    if same_finger_only and not _one_finger(valid, tag, threshold(level)):
        return None
    count = min(255, sum(f.count for f in valid))
    return _template_bytes(tag, _majority([f.body for f in valid]), count, template_size)


def _one_finger(files: list[CharFile], tag: bytes, limit: int) -> bool:
    """Every pair of files scores at least ``limit``."""
    for i, first in enumerate(files):
        if any(score(first, other, tag) < limit for other in files[i + 1 :]):
            return False
    return True
