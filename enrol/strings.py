"""Every sentence the kiosk and ``doorward enrol`` show, in one place for translation.

Owns ``TEXT`` (message key -> English text with ``{named}`` fields), ``FINGERS`` (finger key ->
spoken name) and ``say``. Code passes keys around; only the edges (the page, the terminal)
turn them into words, so a translation replaces this module and nothing else. Keys whose
name starts with ``operator.`` are shown to the operator only, never in the large
instruction the person in front of the glass reads (a duplicate names someone else).

Pure: standard library only.
"""

from __future__ import annotations

FINGERS: dict[str, str] = {
    "right-thumb": "right thumb", "right-index": "right index finger",
    "right-middle": "right middle finger", "right-ring": "right ring finger",
    "right-little": "right little finger", "left-thumb": "left thumb",
    "left-index": "left index finger", "left-middle": "left middle finger",
    "left-ring": "left ring finger", "left-little": "left little finger",
}  # fmt: skip

TEXT: dict[str, str] = {
    # what the person at the glass reads, one instruction at a time
    "place": "Place your {finger} flat on the glass ({step} of {steps})",
    "hold": "Hold still…",
    "lift": "Lift your finger",
    "lift_again": "Lift your finger off the glass, then place it again",
    "captured": "Got it ({step} of {steps})",
    "poor_image": "Too dry or too light: press a little harder",
    "poor_too_dry": "Too dry: press a little harder",
    "poor_too_wet": "Too wet: dry your finger and try again",
    "poor_messy": "Smudged: hold your finger flat and still",
    "poor_too_few_features": "Too little of the finger: lay it flat over the whole sensor",
    "different_fingers": "Those were two different fingers: start again with your {finger}",
    "checking": "Checking…",
    "confirm": "One last time: place your {finger} to confirm ({step} of {steps})",
    "confirm_failed": "That did not match: place the same finger again",
    "finger_done": "Done: your {finger} is enrolled",
    "finger_failed": "This finger could not be enrolled. The operator will help you.",
    "duplicate": "This finger is already enrolled. Please wait for the operator.",
    "timed_out": "No finger was placed in time",
    "cancelled": "Cancelled",
    # the operator's screen and the terminal
    "signed_out": "Operator: sign in to start",
    "sign_in_failed": "Sign-in refused: check your name and password",
    "session_expired": "Your server session has expired: sign in again. Nothing was stored.",
    "idle_signed_out": "Signed out after two minutes without activity",
    "need_person": "Find the person, or add a new one",
    "need_consent": "Record the consent form reference before any capture",
    "consent_missing": "No consent recorded: a fingerprint cannot be taken without it",
    "choose_finger": "Choose the finger to enrol",
    "review": "{count} finger(s) ready. Send them to the server, or add another",
    "sent": "Enrolled: {name}, {count} finger(s) stored on the server",
    "server_unreachable": "The server cannot be reached: nothing was stored. Try again.",
    "server_refused": "The server refused: {detail}. Nothing was stored.",
    "forbidden": "Your role may not do this: {detail}",
    "unable_recorded": "Recorded: {name} cannot be enrolled. Use the fallback (escort or key).",
    "finger_deleted": "Finger deleted; doors remove it within seconds",
    "module_busy": "The fingerprint module is busy: wait for the current step to finish",
    "module_error": "The fingerprint module did not answer properly: {detail}",
    "port_held": ("The fingerprint module's port {port} is held by another program "
                  "(the door daemon, or another kiosk): stop it first"),
    "admin_only_duress": "Only an admin may mark a duress finger: nothing was started",
    "admin_only_window": "Only an admin may set a validity window: nothing was recorded",
    "window_invalid": "{field}: expected a date and time",
    "window_order": "The validity window must end after it starts: nothing was recorded",
    "window_over": "That validity window has already ended: choose a later end",
    # {name} is the owner as "operator.owner" words it; the finger is in there already
    "operator.duplicate": "Already enrolled as {name} (module page {page})",
    "operator.owner": "{name}'s {finger}",
    "operator.unknown_owner": "a finger the station's bundle does not name",
    "operator.coverage": ("The duplicate check covered {checked} of the site's {total} fingers "
                          "for this module model: the module holds only {capacity}"),
    "operator.syncing": ("The station library is still loading ({checked} of {total}): the "
                         "duplicate check covers only what is loaded"),
    "operator.too_many_retries": "Too many poor captures ({attempts}): try another finger",
}  # fmt: skip

# The page's fixed labels (enrol/kiosk/web/index.html names them as {{t:page.KEY}}).
TEXT.update({
    "page.doc_title": "doorward enrolment kiosk", "page.title": "Fingerprint enrolment",
    "page.sign_out": "Sign out", "page.your_name": "Your name", "page.password": "Password",
    "page.sign_in": "Sign in", "page.search": "Search", "page.name": "Name",
    "page.people_found": "People found", "page.new_name": "New person's full name",
    "page.add_person": "Add new person", "page.consent": "Consent",
    "page.consent_label": "Signed consent form reference (required before any capture)",
    "page.consent_done": "Consent recorded: continue",
    "page.unable": "This person cannot be enrolled", "page.back": "Back to people",
    "page.fingers": "Fingers", "page.finish": "Send to the server", "page.next": "Next person",
    "page.scans_done": "Scans done", "page.cancel": "Cancel this finger",
    "page.operator_details": "Operator details", "page.choose": "Choose",
    "page.captured": "Ready to send: {fingers}", "page.enrolled": "Enrolled fingers",
    "page.zones": "Zones", "page.no_zones": "No zones granted", "page.delete": "Delete",
    "page.signed_in_as": "Signed in: {name} ({role})",
    "page.exempt": "Recorded as unable to enrol: use the fallback",
    "page.mark_enrolled": "enrolled", "page.mark_ready": "ready to send",
    "page.mark_duress": "duress",
    "page.duress": "Duress finger",
    "page.duress_hint": "The next finger opens doors and silently raises a duress alarm",
    "page.duress_mark": "{finger} (duress)",
    "page.window": "Visitor: valid from / until (empty for staff)",
    "page.valid_from": "Valid from", "page.valid_until": "Valid until",
})


def say(key: str, **fields: object) -> str:
    """The text of ``key`` with its fields filled; fingers are given by their key."""
    if "finger" in fields:
        fields["finger"] = FINGERS.get(str(fields["finger"]), str(fields["finger"]))
    return TEXT[key].format(**fields)


def operator_only(key: str) -> bool:
    return key.startswith("operator.")
