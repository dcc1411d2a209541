"""The event journal: append-only, hash-chained, durable on return, uploaded in order; its
lineage outside the file, declared losses, the in-memory queue that keeps an append from
ever failing the access path, and the feed the uploader reads.

Imports only the codec and the standard library's ``sqlite3``.
"""
