"""The demo's printed timeline: readable lines, or JSON lines for machines (``--json``).

Owns ``Timeline``. ``event(step, text, **data)`` prints ``[  12.34 s] text`` (or one JSON
object per line with ``t``, ``step``, ``text`` and the data) and keeps every record, so the
tests can assert the day event by event; ``detail(text)`` prints an indented line under the
last event (not kept). Times are seconds since the demo started, on the monotonic clock.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from doorward.sim.rig.processes import interrupt_checkpoint


@dataclass
class Timeline:
    json_lines: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    quiet: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    started_mono: float = field(default_factory=time.monotonic)

    def elapsed_s(self) -> float:
        return round(time.monotonic() - self.started_mono, 2)

    def event(self, step: str, text: str, **data: Any) -> dict[str, Any]:
        if step != "interrupted":
            interrupt_checkpoint()  # a Ctrl-C that Python swallowed in a finaliser
        record = {"t": self.elapsed_s(), "step": step, "text": text, **data}
        self.records.append(record)
        if self.json_lines:
            self._print(json.dumps(record, sort_keys=True, default=str))
        else:
            self._print(f"[{record['t']:7.2f} s] {text}")
        return record

    def heading(self, text: str) -> None:
        if not self.json_lines:
            self._print(f"\n== {text} ==")

    def detail(self, text: str) -> None:
        if not self.json_lines:
            self._print(f"             {text}")

    def steps(self) -> list[str]:
        return [record["step"] for record in self.records]

    def find(self, step: str) -> dict[str, Any]:
        return next(record for record in self.records if record["step"] == step)

    def _print(self, line: str) -> None:
        if not self.quiet:
            print(line, file=self.out, flush=True)
