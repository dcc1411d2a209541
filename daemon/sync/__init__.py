"""The link to the server: the sync client (bundle long-poll, event upload, heartbeat), its
HTTP edge, the bundle-apply policy and the applier the runtime hands it, incident
deduplication, and the door side of pairing.

Imports the codec, ``storage`` and ``journal``; never the controller or the reader.
"""
