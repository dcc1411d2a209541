"""The reference central server: admin API, pairing, per-door signed bundles, events, alarms.

Installed through the ``server`` extra. Its rooms: ``api`` (HTTP), ``cli`` (``doorward server``),
``domain`` (the site's rules), ``bundles`` (what each door receives), ``store`` (database,
backups, ledger, keys), ``duties`` (background work), ``integrations`` (webhook signatures,
Prometheus metrics, the MQTT bridge). From the door it imports the codec
(``doorward.daemon.codec``) and nothing else.
"""
