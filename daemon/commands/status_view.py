"""``doorward status`` as text: the status file's sections, one line each.

Owns ``render_status``. Reads only the dict written by ``daemon/storage/status_file.py``; a key
missing from an older or newer daemon's file shows as ``?`` instead of failing.
"""

from __future__ import annotations

from typing import Any


def _get(section: dict[str, Any] | None, key: str) -> Any:
    value = (section or {}).get(key)
    return "?" if value is None else value


def _door(door: dict[str, Any]) -> str:
    relay = "ENERGISED" if door.get("relay_energised") else "de-energised"
    contact = "open" if door.get("contact_open") else "closed"
    flags = [name for name in ("lockdown", "forced", "tamper") if door.get(name)]
    if door.get("held") not in (None, "none"):
        flags.append(f"held {door['held']}")
    return f"{_get(door, 'state')}, relay {relay}, contact {contact} {' '.join(flags)}".rstrip()


def _reader(reader: dict[str, Any]) -> str:
    identity = reader.get("module_identity")
    return f"{_get(reader, 'state')}: {_get(reader, 'detail')}" + (
        f" [{identity}]" if identity else "")


def _sync(sync: dict[str, Any]) -> str:
    if not sync.get("enabled"):
        return f"disabled: {_get(sync, 'why')}"
    state = "online" if sync.get("online") else f"offline ({_get(sync, 'last_error')})"
    return (f"{state}, last success {_get(sync, 'last_success_age_s')} s ago, "
            f"events acknowledged up to {_get(sync, 'events_acknowledged')}")


def _decisions(decisions: list[dict[str, Any]]) -> list[str]:
    return [f"  {d.get('at')} {d.get('kind')} {d.get('reason')} ({d.get('claim')})"
            for d in decisions[-5:]] or ["  none"]


def render_status(status: dict[str, Any], live: bool, age_s: float) -> str:
    versions, clock = status.get("versions", {}), status.get("clock", {})
    journal, watchdog = status.get("journal", {}), status.get("watchdog", {})
    running = f"running (pid {status.get('pid')})" if live else \
        f"NOT RUNNING (last status {status.get('state')}, {age_s:.0f} s old)"
    trust = "trusted" if clock.get("trusted") else f"untrusted ({_get(clock, 'reason')})"
    lines = [
        f"doorward:  {running}",
        f"door:      {_door(status.get('door', {}))}",
        f"reader:    {_reader(status.get('reader', {}))}",
        f"sync:      {_sync(status.get('sync', {}))}",
        f"versions:  applied {_get(versions, 'applied')}, reconciled "
        f"{_get(versions, 'reconciled')}, in force {_get(versions, 'in_force')}",
        f"clock:     {trust}",
        f"journal:   backlog {_get(journal, 'backlog')}, pending {_get(journal, 'pending')}"
        + (", FAILING" if journal.get("failing") else "")
        + (", DISK LOW" if journal.get("disk_low") else ""),
        f"watchdog:  {'healthy' if watchdog.get('healthy') else watchdog.get('problems')}",
    ]
    lines += [f"problem:   {problem}" for problem in status.get("problems", [])]
    return "\n".join(lines + ["last decisions:", *_decisions(status.get("last_decisions", []))])
