"""The reference central server: admin API, pairing, per-door signed bundles, events, alarms.

Installed through the ``server`` extra. From ``daemon/`` it imports ``daemon.bundle`` only.
"""
