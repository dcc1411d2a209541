"""``module_identity()``: one string naming a module's profile and firmware.

Templates are model- and firmware-specific, so every stored finger carries this string and
it is compared whole, never parsed. Modules that report themselves (R503 family: ReadProdInfo,
GetFwVer, GetAlgVer) are named by what they report; older ones (R307, AS608, ZFM clones) only
by their system parameters, so two such modules of one model but different firmware look
alike: that limit is the hardware's, and docs/simulator.md records it.

Format (``;``-separated ``key=value``, in this order):
- self-reporting: ``model=R503;hw=1.2;fw=<GetFwVer>;alg=<GetAlgVer>;template_bytes=1536;capacity=200``
- otherwise:      ``model=unknown;system_id=0x0009;capacity=1000``
Volatile settings (security level, packet size, baud, address) are not part of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from doorward.drivers.r30x.errors import ModuleRejected, Timeout

if TYPE_CHECKING:
    from doorward.drivers.r30x.sensor import R30xSensor


def identity_from(sensor: R30xSensor) -> str:
    params = sensor.read_system_parameters()
    try:
        info = sensor.read_product_info()
        firmware = sensor.get_fw_ver()
        algorithm = sensor.get_alg_ver()
    except (ModuleRejected, Timeout):
        # 0xFC (R503 "unsupported"), 0x01 or silence from modules without these commands.
        return f"model=unknown;system_id=0x{params.system_id:04X};capacity={params.capacity}"
    major, minor = info.hardware_version
    return (
        f"model={info.model};hw={major}.{minor};fw={firmware};alg={algorithm};"
        f"template_bytes={info.template_size};capacity={info.capacity}"
    )
