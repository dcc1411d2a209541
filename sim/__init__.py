"""Simulated hardware and the harness that runs a whole site on one machine.

``module`` (a byte-accurate R30x on a pty or an in-memory link, with faults and a control
socket), ``pi`` (the simulated Pi's GPIO hub process), ``rig`` (processes, doors, server,
webhook and the site, as the demo, the tests and the benchmarks start them) and ``demo``
(``doorward demo``). Production code never imports this package.
"""
