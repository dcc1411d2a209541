"""The door controller: everything ``doorward run`` is made of, in rooms by layer.

Read the folders from the bottom up: ``codec`` (the signed bundle and event formats, shared
with the server), ``access`` (the pure access decision), ``door`` (the pure door state
machine), ``library`` (which module page holds which finger), then the edges that carry them
out: ``controller`` (the one thread that decides and drives the relay), ``reader`` (the one
thread that owns the fingerprint module), ``storage`` and ``journal`` (what is kept on disk),
``sync`` (the link to the server), ``config`` (the TOML), and on top ``runtime`` (the
composition root) and ``commands`` (one module per ``doorward`` subcommand). Importing this
package imports nothing else.
"""
