"""One scan at the door: capture, search, and the claim checked as far as the Pi can check it.

Owns ``scan_once`` and ``finger_present``, the module commands of the access path (DESIGN.md,
"The access path"). The module's "page N, score S" is only a claim: the page's state and
finger id come from the slot map, never from the module, and a hit on a page the map holds
is confirmed by loading that page's stored template into CharBuffer2 and a 1:1 Match against
the live features in CharBuffer1. A naive lying module ("found page 7" whatever is on the
glass) fails that Match; a page the map holds as empty is never even loaded.

Runs on the reader thread only; transport errors propagate to it.
"""

from __future__ import annotations

import logging

from doorward.daemon.access.claim import Claim, SlotState
from doorward.daemon.library.slotmap import SlotMap
from doorward.drivers.r30x.errors import ModuleRejected
from doorward.drivers.r30x.results import Features, Image, SearchResult
from doorward.drivers.r30x.sensor import R30xSensor

log = logging.getLogger(__name__)

LIVE_BUFFER = 1  # Img2Tz writes the live features here; Search reads it
STORED_BUFFER = 2  # LoadChar of the claimed page, for the 1:1 Match


def finger_present(sensor: R30xSensor) -> bool:
    """GenImg answers 0x02 at once when the glass is empty (protocol sheet 9.2)."""
    return sensor.gen_img() is not Image.NO_FINGER


def scan_once(sensor: R30xSensor, slot_map: SlotMap, module_identity: str) -> Claim | None:
    """None when no finger is on the glass; otherwise the checked claim of one capture."""
    image = sensor.gen_img()
    if image is Image.NO_FINGER:
        return None
    if image is Image.POOR or sensor.img2tz(LIVE_BUFFER).poor:
        return Claim.poor_image()
    result = sensor.search(LIVE_BUFFER)
    if not result.found:
        return Claim.unknown()
    return resolve_hit(sensor, result, slot_map, module_identity)


def resolve_hit(
    sensor: R30xSensor, result: SearchResult, slot_map: SlotMap, module_identity: str
) -> Claim:
    slot = slot_map.at(result.page)
    state = SlotState.EMPTY if slot is None else slot.state
    finger_id = None if slot is None else slot.finger_id
    confirmed = slot is not None and confirm_page(sensor, result.page)
    if not confirmed:
        log.warning("module claimed page %d (%s); the 1:1 Match did not confirm it",
                    result.page, state.value)  # fmt: skip
    return Claim.hit(result.page, result.score, state, finger_id, confirmed, module_identity)


def confirm_page(sensor: R30xSensor, page: int) -> bool:
    """LoadChar(2, page) + Match(CB1, CB2). A page the module cannot load (empty, out of
    range) is unconfirmed, not an error: the liar named a page it does not hold."""
    try:
        sensor.load_char(STORED_BUFFER, page)
    except ModuleRejected as rejected:
        log.warning("LoadChar of claimed page %d refused: %s", page, rejected)
        return False
    return sensor.match().matched
