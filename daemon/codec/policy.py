"""The door's access policy: timings, lockout, two-person window, offline and clock policy.

Owns the ``Policy`` frozen dataclass, its defaults and its validation. The signed bundle is
the only source of policy; the TOML holds the defaults used before the first bundle arrives,
so both the config loader and the snapshot parse it with ``Policy.from_mapping``, which raises
``ConfigError`` naming the bad key (``policy.offline.grace_s: ...``).

Pure: imports only the standard library and ``doorward.daemon.errors``. No IO, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from doorward.daemon.errors import ConfigError

OFFLINE_THEN = ("allow_list", "deny")
UNTRUSTED_CLOCK = ("deny_windowed", "ignore_windows")
BOOT_UNTRUSTED = ("grace", "deny")
# Keys added after format doorward-bundle/1 was frozen: written out only when they differ
# from their default, so a payload that does not use them re-encodes byte for byte (the
# golden vectors) and doors that predate them keep accepting it.
LATER_KEYS = {"boot_untrusted": "grace"}


@dataclass(frozen=True)
class LockoutPolicy:
    """Guessing brake: after ``strikes`` unknown fingers in a row, ignore scans for
    ``first_s``, doubling on each further lockout up to ``max_s``."""

    strikes: int = 3
    first_s: float = 5.0
    max_s: float = 60.0

    def duration_s(self, lockouts_so_far: int) -> float:
        """How long the lockout number ``lockouts_so_far + 1`` lasts."""
        return min(self.first_s * 2 ** min(lockouts_so_far, 32), self.max_s)


@dataclass(frozen=True)
class OfflinePolicy:
    """What an expired snapshot still allows: everyone granted for ``grace_s`` (one alarm),
    then only ``allow_list`` user ids (``then="allow_list"``) or nobody (``then="deny"``)."""

    grace_s: float = 86400.0
    then: str = "deny"
    allow_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """Access policy of one door. Durations in seconds on the monotonic clock.

    ``prealarm_s`` is the warning before the held-open alarm: beeps start at
    ``held_open_s - prealarm_s`` after the door opened, the alarm at ``held_open_s``.
    ``two_person_window_s`` is the default for zones that do not set their own.
    ``boot_untrusted`` is the boot policy: what a snapshot whose age the door cannot know
    (after a reboot with an untrusted clock) still allows: ``"grace"`` grants that need no
    wall clock for the offline grace, counted on the monotonic clock from the start;
    ``"deny"`` nobody (docs/reasons.md, "Boot").
    """

    unlock_s: float = 5.0
    held_open_s: float = 30.0
    prealarm_s: float = 10.0
    relock_on_close: bool = True
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    two_person_window_s: float = 30.0
    offline: OfflinePolicy = field(default_factory=OfflinePolicy)
    untrusted_clock: str = "deny_windowed"
    sync_interval_s: float = 30.0
    max_clock_skew_s: float = 300.0
    boot_untrusted: str = "grace"

    def __post_init__(self) -> None:
        if self.prealarm_s > self.held_open_s:
            raise ConfigError(
                f"policy.prealarm_s: {self.prealarm_s} is longer than held_open_s "
                f"({self.held_open_s}); the pre-alarm must fit before the alarm"
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], where: str = "policy") -> Policy:
        """Build a Policy from a TOML table or bundle dict; missing keys take defaults."""
        _require_mapping(mapping, where)
        _reject_unknown(mapping, _FLAT_PARSERS.keys() | {"lockout", "offline"}, where)
        values = {
            key: parse(mapping[key], f"{where}.{key}")
            for key, parse in _FLAT_PARSERS.items()
            if key in mapping
        }
        if "lockout" in mapping:
            values["lockout"] = _lockout_from(mapping["lockout"], f"{where}.lockout")
        if "offline" in mapping:
            values["offline"] = _offline_from(mapping["offline"], f"{where}.offline")
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """A plain JSON-able dict that ``from_mapping`` turns back into an equal Policy."""
        flat = {f.name: getattr(self, f.name) for f in fields(self)}
        flat["lockout"] = {f.name: getattr(self.lockout, f.name) for f in fields(LockoutPolicy)}
        flat["offline"] = {
            "grace_s": self.offline.grace_s,
            "then": self.offline.then,
            "allow_list": list(self.offline.allow_list),
        }
        for key, default in LATER_KEYS.items():
            if flat[key] == default:
                del flat[key]
        return flat


def _require_mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")


def _reject_unknown(mapping: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")


def _seconds(value: Any, where: str, positive: bool = False) -> float:
    # bool is an int subclass: `unlock_s = true` must not mean one second.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number of seconds, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{where}: expected a finite number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"{where}: must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def _positive_seconds(value: Any, where: str) -> float:
    return _seconds(value, where, positive=True)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _choice(allowed: tuple[str, ...]):
    def parse(value: Any, where: str) -> str:
        if value not in allowed:
            raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")
        return value

    return parse


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a whole number >= 1, got {value!r}")
    return value


def _user_ids(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of user ids, got {value!r}")
    for position, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"{where}[{position}]: expected a user id string, got {item!r}")
    return tuple(value)


_FLAT_PARSERS = {
    "unlock_s": _positive_seconds,
    "held_open_s": _positive_seconds,
    "prealarm_s": _seconds,
    "relock_on_close": _flag,
    "two_person_window_s": _positive_seconds,
    "untrusted_clock": _choice(UNTRUSTED_CLOCK),
    "sync_interval_s": _positive_seconds,
    "max_clock_skew_s": _seconds,
    "boot_untrusted": _choice(BOOT_UNTRUSTED),
}


def _lockout_from(mapping: Any, where: str) -> LockoutPolicy:
    _require_mapping(mapping, where)
    parsers = {"strikes": _count, "first_s": _positive_seconds, "max_s": _positive_seconds}
    _reject_unknown(mapping, set(parsers), where)
    values = {key: parse(mapping[key], f"{where}.{key}") for key, parse in parsers.items()
              if key in mapping}
    lockout = LockoutPolicy(**values)
    if lockout.max_s < lockout.first_s:
        raise ConfigError(
            f"{where}.max_s: {lockout.max_s} is shorter than first_s {lockout.first_s}"
        )
    return lockout


def _offline_from(mapping: Any, where: str) -> OfflinePolicy:
    _require_mapping(mapping, where)
    parsers = {"grace_s": _seconds, "then": _choice(OFFLINE_THEN), "allow_list": _user_ids}
    _reject_unknown(mapping, set(parsers), where)
    values = {key: parse(mapping[key], f"{where}.{key}") for key, parse in parsers.items()
              if key in mapping}
    return OfflinePolicy(**values)
