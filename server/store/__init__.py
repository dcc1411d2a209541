"""Storage: the database and its migrations, backups and restores, the version floor, the
removal ledger and the server's keys (the last three kept outside the database file).
"""
