"""The ``[policy]`` section: the access policy used until the first signed bundle arrives.

Access policy comes from the signed bundle; this section only holds the defaults a door uses
before it has one (DESIGN.md, "Configuration and policy"), with exactly the bundle's keys and
validation (``Policy.from_mapping``). Every key is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from doorward.daemon.errors import ConfigError
from doorward.daemon.codec.policy import Policy

if TYPE_CHECKING:
    from doorward.daemon.config.loader import TableReader

FLAT = {"unlock_s": float, "held_open_s": float, "prealarm_s": float, "relock_on_close": bool,
        "two_person_window_s": float, "untrusted_clock": str, "sync_interval_s": float,
        "max_clock_skew_s": float, "boot_untrusted": str}  # fmt: skip
LOCKOUT = {"strikes": int, "first_s": float, "max_s": float}
OFFLINE = {"grace_s": float, "then": str, "allow_list": list}


def _present(table: TableReader, kinds: dict[str, type]) -> dict[str, Any]:
    values = {name: table.value(name, kind, None) for name, kind in kinds.items()}
    return {name: value for name, value in values.items() if value is not None}


def read_policy(table: TableReader) -> Policy:
    mapping = _present(table, FLAT)
    for name, kinds in (("lockout", LOCKOUT), ("offline", OFFLINE)):
        sub = table.table(name)
        if sub is not None:
            mapping[name] = _present(sub, kinds)
            sub.finish()
    try:
        return Policy.from_mapping(mapping, where="policy")
    except ConfigError as error:
        table.problems.append(str(error))
        return Policy()
