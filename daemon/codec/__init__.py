"""The sync codec, shared by the door and the server: bundles, sealed secrets, event chains,
the permission snapshot and its payload, the access policy and schedules.

Everything ``doorward.server`` may import from the door lives here, and nothing here imports
another part of the door (only the standard library, ``cryptography`` and
``doorward.daemon.errors``). Pure: no IO library, no clock; times are arguments.
"""
