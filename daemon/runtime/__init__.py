"""The composition root of ``doorward run``: builds the door's edges from its configuration,
wires the controller, reader, journal and sync client together, and runs the supervision
loop, the status file, systemd's notify protocol and the watchdog.

The only room that imports all the others; nothing below imports it.
"""
