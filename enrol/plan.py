"""Which captures a finger's enrolment takes on each module model: the capture plan.

Owns ``CapturePlan`` and ``plan_for``. The R307 and AS608 have two char buffers: two captures
into buffers 1 and 2, a 1:1 Match of the two (so two different fingers are refused before
they are merged), RegModel, then a third capture matched against the new template. The R503
has six: four captures into buffers 1-4 (the protocol sheet, section 5.1: RegModel merges 2-6
files, four or more recommended), each taken with GetImageEx so that the module's own
quality verdict refuses a poor image, then RegModel.

RegModel writes the template back into CharBuffer1 and CharBuffer2 (sheet, section 2.1). Every
later capture (the R307's check capture, the confirmation) goes into buffer 1, so the template
stays in buffer 2 for the duplicate Search, the 1:1 Matches and the final UpChar: nothing is
ever stored in the module's library, which reconcile owns.

Pure: no IO.
"""

from __future__ import annotations

from dataclasses import dataclass

LIVE_BUFFER = 1  # captures after the merge land here; Match compares it with buffer 2
TEMPLATE_BUFFER = 2  # holds the merged template from RegModel to UpChar


@dataclass(frozen=True)
class CapturePlan:
    model: str
    merge_buffers: tuple[int, ...]  # one capture into each, then RegModel
    match_before_merge: bool  # R307: Match CB1/CB2 so two fingers are refused by name
    check_after_merge: bool  # R307: a third capture matched against the new template
    quality_gate: bool  # R503: captures through GetImageEx (poor quality is refused)

    @property
    def touches(self) -> int:
        """Placements of one finger, the confirmation included."""
        return len(self.merge_buffers) + int(self.check_after_merge) + 1


R307_PLAN = CapturePlan("r307", (1, 2), match_before_merge=True, check_after_merge=True,
                        quality_gate=False)  # fmt: skip
R503_PLAN = CapturePlan("r503", (1, 2, 3, 4), match_before_merge=False, check_after_merge=False,
                        quality_gate=True)  # fmt: skip


def plan_for(module_identity: str) -> CapturePlan:
    """R503-family modules name themselves (``model=R503;...``); every module that does
    not (R307, AS608, ZFM clones) has the two-buffer plan."""
    fields = dict(part.split("=", 1) for part in module_identity.split(";") if "=" in part)
    return R503_PLAN if fields.get("model", "").upper().startswith("R503") else R307_PLAN
