"""API: doors and stations (one router per kind), pairing codes, capacity and removals."""

from __future__ import annotations

from fastapi import APIRouter

from doorward.server.domain import devices
from doorward.server.domain import pairing
from doorward.server.context import ServerContext
from doorward.server.api.deps import AdminCaller, Ctx, PeopleReader, ReadCaller
from doorward.server.domain.directory import fetch
from doorward.server.errors import NotFound
from doorward.server.api.models import DeviceBody, DevicePatch, changes_of


def _device(ctx: ServerContext, kind: str, ident: str):
    row = fetch(ctx.read(), "devices", ident, kind)
    if row["kind"] != kind:
        raise NotFound(kind, ident)
    return row


def _offline_after_s(ctx: ServerContext) -> float:
    return ctx.config.heartbeat_interval_s * ctx.config.missed_heartbeats


def device_router(kind: str) -> APIRouter:
    """``/api/v1/doors`` or ``/api/v1/stations``: the same operations on either kind."""
    router = APIRouter(prefix=f"/api/v1/{kind}s", tags=[f"{kind}s"])
    _add_records(router, kind)
    _add_pairing_and_reports(router, kind)
    return router


def _add_records(router: APIRouter, kind: str) -> None:
    @router.post("", status_code=201)
    def create(body: DeviceBody, who: AdminCaller, ctx: Ctx) -> dict:
        with ctx.write() as conn:
            ident = devices.create_device(
                conn, ctx.clock.now(), who.actor, kind=kind, name=body.name, site_id=body.site_id,
                zone_id=body.zone_id, module_identity=body.module_identity,
                capacity_templates=body.capacity, policy=body.policy)
        return {"id": ident}

    @router.get("")
    def list_all(who: PeopleReader, ctx: Ctx) -> list[dict]:
        conn, now = ctx.read(), ctx.clock.now()
        rows = conn.execute("SELECT * FROM devices WHERE kind = ? ORDER BY name", (kind,)).fetchall()
        return [devices.device_view(conn, row, now, _offline_after_s(ctx)) for row in rows]

    @router.get("/{ident}")
    def show(ident: str, who: PeopleReader, ctx: Ctx) -> dict:
        row = _device(ctx, kind, ident)
        return devices.device_view(ctx.read(), row, ctx.clock.now(), _offline_after_s(ctx))

    @router.patch("/{ident}")
    def update(ident: str, body: DevicePatch, who: AdminCaller,
               ctx: Ctx) -> dict:
        _device(ctx, kind, ident)
        with ctx.write() as conn:
            changes = changes_of(body, nullable=("zone_id",))
            devices.update_device(conn, ctx.clock.now(), who.actor, ident, changes, ledger=ctx.ledger)
        return {"id": ident}

    @router.delete("/{ident}", status_code=204)
    def delete(ident: str, who: AdminCaller, ctx: Ctx) -> None:
        """Decommission: its token stops working at once."""
        _device(ctx, kind, ident)
        with ctx.write() as conn:
            devices.delete_device(conn, ctx.clock.now(), who.actor, ident, ledger=ctx.ledger)


def _add_pairing_and_reports(router: APIRouter, kind: str) -> None:
    @router.post("/{ident}/pairing-codes", status_code=201)
    def pairing_code(ident: str, who: AdminCaller, ctx: Ctx) -> dict:
        _device(ctx, kind, ident)
        with ctx.write() as conn:
            code, expires_at = pairing.create_code(conn, ctx.clock.now(), who.actor, ident,
                                                   ctx.config.pairing_code_s)
        return {"code": code, "expires_at": expires_at, "server_key_fingerprint": ctx.keys.fingerprint}

    @router.get("/{ident}/capacity")
    def capacity(ident: str, who: PeopleReader, ctx: Ctx) -> dict:
        return devices.capacity_report(ctx.read(), _device(ctx, kind, ident), ctx.clock.now())

    @router.get("/{ident}/removals")
    def removals(ident: str, who: ReadCaller, ctx: Ctx) -> list[dict]:
        _device(ctx, kind, ident)
        return devices.removals(ctx.read(), "device_id = ?", (ident,))
