"""``doorward doctor``: the install self-test, a checklist with the fix for each failure.

``main`` runs the checks; ``probe`` holds the results and the edges they read through,
``system`` the files, unit and board, ``hardware`` the module, pins and relay, ``sync`` the
server link and the journal.
"""
