"""The sync codec, shared by the door and the server: bundles, sealed secrets, event chains,
the permission snapshot and its payload, the access policy and schedules; and the one
schema-migration mechanism of the three SQLite databases (server, cache, journal).

Everything ``doorward.server`` may import from the door lives here, and nothing here imports
another part of the door (only the standard library, ``cryptography`` and
``doorward.daemon.errors``). Pure: no IO library, no clock; times are arguments. The one
exception is ``migrations``, which runs SQL on a ``sqlite3`` connection it is handed (it
opens no file).
"""
