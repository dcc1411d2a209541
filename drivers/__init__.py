"""The hardware edge: the R30x module's protocol and client (``r30x``), and the door's GPIO
through the RPi.GPIO API or the simulated Pi (``gpio``). Imports nothing else of doorward.
"""
