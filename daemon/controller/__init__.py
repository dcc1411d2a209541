"""The controller thread: one event queue, one thread that calls ``decide()`` and
``transition()`` and carries out their actions on the GPIO, the journal and the alarm sinks.

Imports ``access``, ``door`` and the GPIO edge; never the reader, sync or storage modules (the
journal and the alarm sink are handed in as interfaces).
"""
