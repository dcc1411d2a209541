"""``doorward demo --interactive`` end to end: the real command, its prompt driven on stdin.

One test, because it starts a whole site (server, two doors, the kiosk's module, each its own
process) and plays the scripted day before the prompt opens: about twenty seconds. The lines
typed cover a good command, each kind of malformed one, a grant, a denial, ``status``,
``alarms`` and ``help``; every answer must be a readable line, never a Python error or a dict.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading

from doorward.sim.rig.processes import child_env

TYPED = ["foo", "scan lobby", "scan hall alice", "scan lobby alice", "scan tent carol",
         "", "status", "alarms", "help", "quit"]  # fmt: skip


def test_the_interactive_demo_answers_every_line_readably() -> None:
    with tempfile.TemporaryDirectory(prefix="dw-ia-", dir="/tmp") as directory:
        demo = subprocess.Popen([sys.executable, "-m", "doorward.daemon.cli", "demo", "--interactive", "--keep",
                                 directory], env=child_env(), text=True, start_new_session=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            out, err = _type_at_the_prompt(demo, TYPED)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    assert demo.returncode == 0, f"{out[-3000:]}\n{err[-3000:]}"
    prompt = out[out.index("The site keeps running"):]
    answers = [part.strip() for part in prompt.split("demo> ")]
    assert answers[1].startswith("? unknown command 'foo': expected one of scan, place, lift")
    assert answers[2].startswith("? scan needs a person: `scan DOOR WHO`")
    assert answers[3].startswith("? unknown door 'hall': expected lobby or tent")
    assert answers[4].startswith("Lobby door, alice: GRANTED, may enter [granted] at ")
    assert answers[5].startswith("Tent door, carol: DENIED, a finger this door does not hold "
                                 "[unknown_finger]")
    assert answers[6] == ""  # an empty line is answered with the next prompt only
    status = answers[7].splitlines()
    assert status[0].startswith("Lobby door: ") and status[1].startswith("Tent door: ")
    assert "module reconciled" in status[0] and "(issued " in status[0]
    assert "last decision: GRANTED, may enter [granted]" in status[0]
    # The kiosk station runs only while it enrols: on a slow machine its door_offline alarm
    # can come before the duress one, so the order of the lists is not asserted.
    assert status[2] == "latest alarms:"
    assert any(re.match(r"  #\d+ duress from Lobby door", line) for line in status[3:]), status
    alarms = answers[8].splitlines()
    assert any(re.match(r"#\d+ duress from Lobby door: a duress finger was used", line)
               for line in alarms), alarms
    # The day's one forced opening is one alarm; others (the kiosk station, which runs only
    # while it enrols, going quiet) may be listed beside it in any order.
    forced = [line for line in alarms if " forced " in line]
    assert len(forced) == 1 and forced[0].startswith("#") and \
        " forced from Lobby door: the door was forced open" in forced[0], alarms
    assert "scan DOOR WHO" in answers[9] and "alarms" in answers[9]
    assert "the day played as scripted" in answers[10]
    for text in answers[1:]:
        assert "Traceback" not in text and "{'" not in text and "index out of range" not in text


def _type_at_the_prompt(demo: subprocess.Popen, lines: list[str]) -> tuple[str, str]:
    """Everything the demo printed, the lines typed only once its prompt is up (the day's
    own commands never see them)."""
    printed: list[str] = []
    prompt_up = threading.Event()

    def read() -> None:
        for chunk in iter(lambda: demo.stdout.read(1), ""):
            printed.append(chunk)
            if chunk == " " and "".join(printed[-6:]) == "demo> ":
                prompt_up.set()
        prompt_up.set()  # the demo ended before its prompt: the assertions say why

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert prompt_up.wait(240), "no prompt within 240 s:\n" + "".join(printed)[-3000:]
    demo.stdin.write("\n".join(lines) + "\n")
    demo.stdin.close()
    demo.wait(120)
    reader.join(10)
    return "".join(printed), demo.stderr.read()
