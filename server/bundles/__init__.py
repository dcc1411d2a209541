"""Per-door signed bundles: when to issue one and with which version, what it carries (the
payload), whether a door's module can hold it (capacity), and waking the held long-polls.
"""
