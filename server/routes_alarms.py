"""API: alarms (list, acknowledge, clear, delivery status) and the received events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from server import alarms, events
from server.auth import Principal
from server.context import ServerContext
from server.deps import ADMIN, READ, get_ctx
from server.directory import fetch

router = APIRouter(prefix="/api/v1", tags=["alarms"])
ALARM_ID = Path(ge=1, le=2**62)


@router.get("/alarms")
def list_alarms(state: str | None = Query(None, pattern="^(open|acknowledged|cleared)$"),
                limit: int = Query(100, ge=1, le=10000), who: Principal = Depends(READ),
                ctx: ServerContext = Depends(get_ctx)) -> list[dict]:
    return alarms.list_alarms(ctx.read(), state, limit)


@router.get("/alarms/{alarm_id}")
def show_alarm(alarm_id: int = ALARM_ID, who: Principal = Depends(READ), ctx: ServerContext = Depends(get_ctx)) -> dict:
    conn = ctx.read()
    return {**alarms.alarm_view(fetch(conn, "alarms", alarm_id, "alarm")),
            "delivery": alarms.delivery_status(conn, alarm_id)}


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge(alarm_id: int = ALARM_ID, who: Principal = Depends(ADMIN), ctx: ServerContext = Depends(get_ctx)) -> dict:
    with ctx.write() as conn:
        alarms.acknowledge(conn, ctx.clock.now(), who.actor, alarm_id)
    return {"id": alarm_id, "state": "acknowledged"}


@router.post("/alarms/{alarm_id}/clear")
def clear(alarm_id: int = ALARM_ID, who: Principal = Depends(ADMIN), ctx: ServerContext = Depends(get_ctx)) -> dict:
    with ctx.write() as conn:
        alarms.clear(conn, ctx.clock.now(), who.actor, alarm_id)
    return {"id": alarm_id, "state": "cleared"}


@router.get("/events")
def list_events(device_id: str | None = Query(None, max_length=64), limit: int = Query(100, ge=1, le=10000),
                who: Principal = Depends(READ), ctx: ServerContext = Depends(get_ctx)) -> list[dict]:
    return events.list_events(ctx.read(), device_id, limit)
