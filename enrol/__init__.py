"""The enrolment kiosk: one finger's enrolment as a step machine (``workflow``), one operator's
session (``session``), the station that owns the kiosk's module (``station``), the page
(``kiosk/``) and the same workflow on a terminal (``terminal``).

Imports the door's reader, library, sync and codec; never the server (it speaks to it over
HTTP with the operator's session).
"""
