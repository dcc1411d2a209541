"""The reader: the one thread that owns the fingerprint module client, its job queue, the scan
and its claim, the module binding and guard, supervision (offline, power cycle) and the
R503's ring LED.

Imports ``library`` for reconcile and the R30x driver; never the controller, sync or runtime
modules (claims and alarms leave through callbacks).
"""
