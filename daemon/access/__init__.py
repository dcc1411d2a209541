"""The access decision: ``decide(claim, snapshot, state, ...)``, its reason codes and alarms,
and the state it carries between scans (lockout strikes, two-person entry, clock anchor).

Pure: imports only the codec and the standard library; no IO library, no clock.
"""
