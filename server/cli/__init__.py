"""``doorward server ...``: the server's command line, one module per command group, and the
table, time and CSV formatting their output shares. Calls ``domain`` and ``store``.
"""
