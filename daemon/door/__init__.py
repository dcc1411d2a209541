"""The door state machine and its vocabulary: ``transition(state, event, mono_now)``, the
timers it names, debounce by re-reading, and the LED and buzzer patterns as timed steps.

Pure: imports only ``access`` for the decision it acts on; no IO library, no clock.
"""
