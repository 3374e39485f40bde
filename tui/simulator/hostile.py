"""A hostile-text world: every id and text the API shows carries terminal control sequences.

Opt-in (`World(hostile=True)`), for the tests that check no escape sequence reaches the
terminal: OSC 52 (writes the clipboard), OSC 2 (retitles the window), CSI, DCS/APC/PM, C1
bytes (0x9b is a one-byte CSI, 0x9d a one-byte OSC), C0 (BEL, ESC, NUL, CR, LF), DEL and a
bidi override, in project ids, names and descriptions; job ids, names, jobTypes, cron
schedules, descriptions and tags; run ids, names and statuses; log lines and container ids.

Ids carry the control characters but none of `/ ? # % \\`: a client refuses those in a path
before any request, so they would only test that refusal. Ids stay unique (a prefix before
a UUID). Error messages with the same sequences come from `HOSTILE_TEXT` given to
`Faults.queue(kind, message=...)`, and from the 404s that quote a hostile id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import World

OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # "Hello" onto the clipboard
OSC2 = "\x1b]2;pwned\x07"  # the window title
CSI = "\x1b[2J\x1b[31m"  # clear the screen, then red
C1 = "\x9b2J\x9d0;c1\x07\x85\x90q\x9c"  # one-byte CSI, OSC, NEL, DCS, ST
DCS_APC_PM = "\x1bPq#0\x1b\\\x1b_apc\x1b\\\x1b^pm\x1b\\"
C0 = "\x00\x01\x07\x08\t\n\r\x1b"
DEL = "\x7f"
BIDI = "\u202e"

# Every kind at once, for names, descriptions, tags, statuses, log lines, messages.
HOSTILE_TEXT = OSC52 + OSC2 + CSI + C1 + DCS_APC_PM + C0 + DEL + BIDI
# The same without what a path refuses (DCS/APC/PM end with ESC \, so they go too).
HOSTILE_ID = OSC52 + OSC2 + "\x1b[1m" + C1 + "\x00\x01\x07\t\n\r" + DEL + BIDI
# Every control character in the texts above: none of them may reach the terminal.
CONTROL_CHARACTERS = frozenset(
    char for char in HOSTILE_TEXT + HOSTILE_ID if not char.isprintable()
)

PROJECT = "hostile"  # a plain id: its jobs can be listed by any client
JOB = "hostile-job"  # a plain id, hostile everything else; its run ids are hostile
EVIL_PROJECT = f"proj{HOSTILE_ID}"
EVIL_JOB = f"job{HOSTILE_ID}"


def _wrap(label: str) -> str:
    # At both ends: a column cut in the middle still shows one of them.
    return f"{HOSTILE_TEXT}{label}{HOSTILE_TEXT}"


def seed_hostile(world: World) -> None:
    """Fill `world` (empty, clock frozen) with the hostile projects, jobs and runs."""
    world.add_project(PROJECT, _wrap("Hostile project"), description=_wrap("description"))
    world.add_job(
        PROJECT, JOB, _wrap("job"), "manual", None, (30.0, 300.0), 0.3,
        tags=(HOSTILE_TEXT, f"tag{HOSTILE_TEXT}"),
        description=_wrap("job description"),
        job_type_label=f"{HOSTILE_TEXT}manual",
        run_id_prefix=HOSTILE_ID,
        run_name_prefixes=(_wrap("run"), f"run{HOSTILE_TEXT}"),
        extra_log_lines=(HOSTILE_TEXT, f"log line {OSC52} {OSC2} end"),
    )
    world.add_runs(PROJECT, JOB, 4, status=None)
    world.add_runs(PROJECT, JOB, 2, status=f"{OSC2}DONE{C1}")
    world.add_runs(PROJECT, JOB, 1, status=HOSTILE_TEXT)
    for index in range(3):
        # Running for hours: durations tick, and there is a run to abort.
        world.start_run(PROJECT, JOB, run_name=_wrap(f"running {index}"), duration=8 * 3600.0)
    # Two minutes on, so that the running runs have written their log lines.
    world.advance(120.0)
    # A job whose id is hostile and whose name is empty (the id is shown instead); its
    # details show a hostile cron schedule.
    world.add_job(
        PROJECT, EVIL_JOB, "", "cron", 3600.0, (10.0, 60.0),
        job_type_label=HOSTILE_TEXT, run_id_prefix=HOSTILE_ID,
        schedule_label=f"{HOSTILE_TEXT}0 * * * *",
        extra_log_lines=(HOSTILE_TEXT,), tags=(HOSTILE_TEXT,),
    )
    world.add_runs(PROJECT, EVIL_JOB, 2, status=None)
    # A project whose id is hostile, shown by its id (no name).
    world.add_project(EVIL_PROJECT, "", description=HOSTILE_TEXT)
    world.add_job(EVIL_PROJECT, "inner", _wrap("inner job"), "manual", None, (5.0, 30.0),
                  job_type_label=HOSTILE_TEXT, description=HOSTILE_TEXT)
    world.add_runs(EVIL_PROJECT, "inner", 2, status=HOSTILE_TEXT)
