"""The one process harness: starts the hub, simulated modules, ``doorward run`` doors, the
server and a webhook receiver as real processes, logs each to a file and always stops them.
Used by ``doorward demo``, the end-to-end tests and the benchmarks.
"""
