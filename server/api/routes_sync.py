"""API of doors and stations: pairing, the bundle long-poll, events and heartbeats.

The bundle endpoint is async: a held poll awaits the device's asyncio.Event and holds no
worker thread; only the short database reads run in threads. A poll that carries a
``Doorward-Nonce`` is answered (200 and 304) with a ``Doorward-Freshness`` statement signed by
the bundle key: this version is the device's current one, now, in answer to that nonce
(docs/sync-protocol.md). Doors that send no nonce get no statement.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from doorward.daemon.codec import bundle as codec
from doorward.server.domain import alarms
from doorward.server.domain import events
from doorward.server.domain import pairing
from doorward.server.bundles.issue import BundleService, StoredBundle
from doorward.server.context import ServerContext
from doorward.server.api.deps import Ctx, DeviceCaller, get_bundles, get_notifier
from doorward.server.errors import Forbidden, Invalid
from doorward.server.api.models import EventsBody, HeartbeatBody, PairBody
from doorward.server.bundles.notifier import BundleNotifier

router = APIRouter(prefix="/api/v1", tags=["devices"])
BUNDLE_TYPE = "application/vnd.doorward.bundle+json"
NONCE_HEADER, FRESHNESS_HEADER = "Doorward-Nonce", "Doorward-Freshness"


@router.get("/health", tags=["server"])
def health(ctx: Ctx) -> dict:
    return {"status": "ok", "clock_synchronised": ctx.clock.synchronised(),
            "server_key_id": ctx.keys.key_id, "server_key_fingerprint": ctx.keys.fingerprint}


@router.post("/pair", status_code=201)
def pair(body: PairBody, request: Request, ctx: Ctx) -> dict:
    """Redeem a one-time pairing code: register keys, receive the device token (5 wrong
    codes per address in 5 minutes, then 429)."""
    now, throttle = ctx.clock.now(), request.app.state.throttle
    keys = [f"pair:{request.client.host if request.client else '-'}"]
    throttle.check(keys, now)
    pair_request = pairing.PairRequest(
        code=body.code, x25519_public=body.x25519_public, module_identity=body.module_identity,
        signing_public=body.signing_public,
        module_password=body.module_password.encode() if body.module_password else None)
    try:
        with ctx.write() as conn:
            return pairing.pair(conn, now, ctx.keys, pair_request, ledger=ctx.ledger)
    except Forbidden:
        throttle.failed(keys, now)
        raise


@router.get("/device/bundle", response_class=Response,
            responses={200: {"content": {BUNDLE_TYPE: {}}}, 304: {"description": "unchanged"}})
async def bundle(who: DeviceCaller, ctx: Ctx, request: Request, wait: float = Query(0, ge=0, le=30),
                 if_none_match: str | None = Header(None),
                 doorward_nonce: str | None = Header(None),
                 bundles: BundleService = Depends(get_bundles),
                 notifier: BundleNotifier = Depends(get_notifier)) -> Response:
    """The device's signed bundle. With ``If-None-Match`` equal to the current ETag and
    ``wait`` > 0, held until something affecting the device changes (at most ``wait`` s)."""
    if doorward_nonce is not None and not codec.is_nonce(doorward_nonce):
        raise Invalid(NONCE_HEADER, f"expected {codec.NONCE_HEX_CHARS} lowercase hex digits")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, ctx.config.max_wait_s)
    while True:
        changed = notifier.waiter(who.ident)  # taken before the check: no lost wake-up
        current = await asyncio.to_thread(bundles.ensure_current, who.ident)
        if current.etag != if_none_match:
            envelope = await asyncio.to_thread(bundles.envelope, who.ident)
            return Response(envelope, media_type=BUNDLE_TYPE,
                            headers=_answer_headers(ctx, who.ident, current, doorward_nonce))
        remaining = deadline - loop.time()
        if remaining <= 0 or notifier.closing or not await _held(request, notifier, changed, remaining):
            return Response(status_code=304,
                            headers=_answer_headers(ctx, who.ident, current, doorward_nonce))


async def _held(request: Request, notifier: BundleNotifier, changed: asyncio.Event,
                timeout_s: float) -> bool:
    """Wait for a change, counted in the held-polls gauge while it waits."""
    held = request.app.state.metrics.held_polls
    held.inc()
    try:
        return await notifier.wait(changed, timeout_s)
    finally:
        held.dec()


def _answer_headers(ctx: ServerContext, device_id: str, current: StoredBundle,
                    nonce: str | None) -> dict[str, str]:
    """The ETag, and the signed freshness statement when the door sent a nonce."""
    headers = {"ETag": current.etag}
    if nonce is not None:
        statement = codec.FreshnessStatement(device_id, nonce, current.version, ctx.clock.now())
        headers[FRESHNESS_HEADER] = codec.sign_freshness(statement, ctx.keys.signing)
    return headers


@router.post("/device/events")
def post_events(body: EventsBody, who: DeviceCaller, ctx: Ctx, request: Request):
    """Oldest first. Answers the highest contiguous sequence per journal; a gap is a 409
    carrying the expected sequence (events before the gap are kept), unless ``losses``
    declares exactly that gap lost: then one alarm names it and the later events go in."""
    with ctx.write() as conn:
        result = events.ingest(conn, ctx.clock.now(), who.ident, [e.model_dump() for e in body.events],
                               alarms.sinks_of(ctx.config.alarms),
                               [loss.model_dump() for loss in body.losses])
    for listener in request.app.state.event_listeners:  # told after the commit (the MQTT bridge)
        listener(who.ident, result.stored)
    answer = {"acknowledged": result.acknowledged, "accepted": result.accepted,
              "duplicates": result.duplicates, "chain_breaks": result.chain_breaks,
              "declared_gaps": result.declared_gaps}
    if result.gap is not None:
        return JSONResponse({"detail": f"sequence gap in journal {result.gap['journal_id']!r}: expected"
                             f" {result.gap['expected_seq']}, got {result.gap['got_seq']}",
                             **result.gap, **answer}, status_code=409)
    return answer


@router.post("/device/heartbeat")
def heartbeat(body: HeartbeatBody, who: DeviceCaller, ctx: Ctx) -> dict:
    now = ctx.clock.now()
    with ctx.write() as conn:
        events.heartbeat(conn, now, who.ident, body.model_dump(),
                         alarms.sinks_of(ctx.config.alarms))
    return {"server_time": now, "clock_synchronised": ctx.clock.synchronised()}
