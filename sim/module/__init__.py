"""The simulated R30x module: bytes in, timed packets out, byte-accurate to the protocol sheet
(docs/r30x-protocol.md); its flash, profiles and timing model, virtual fingers, line faults,
links (in memory, or a real pty), the control socket and ``doorward sim module``.
"""
