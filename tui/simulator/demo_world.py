"""The demo world: three projects of plausible jobs and a sandbox of names that try to break a
terminal UI. `World()` seeds it; it reaches into World's runs as the world's own code.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import World


def seed_demo(world: World, history: bool) -> None:
    """Fill `world` (empty, clock frozen) with the demo projects, jobs and runs."""
    t0 = float(math.floor(world.now_ts()))

    def many(full: int, small: int) -> int:
        return full if history else small

    def seed_cron(project: str, job_id: str, count: int) -> None:
        # The newest seeded run starts at the last schedule tick at or before start,
        # so at start it is usually still RUNNING.
        world.seed_history(project, job_id, count)

    def seed_manual(project: str, job_id: str, count: int, before: float) -> None:
        world.seed_history(project, job_id, count, up_to=before)

    world.add_project("payments", "Payments", "Card payments, invoicing and settlement")
    world.add_job(
        "payments",
        "settle-ledger",
        "Settle ledger",
        "cron",
        60,
        (10, 50),
        0.03,
        tags=("billing", "ledger"),
        description="Moves captured payments to the ledger",
    )
    seed_cron("payments", "settle-ledger", many(3000, 30))
    world.add_job(
        "payments",
        "invoice-sync",
        "Invoice sync",
        "cron",
        300,
        (20, 120),
        0.02,
        tags=("billing",),
        description="Pushes invoices to the accounting system",
        backoff_limit=2,
    )
    seed_cron("payments", "invoice-sync", many(600, 12))
    world.add_job(
        "payments",
        "refund-batch",
        "Refund batch",
        "manual",
        None,
        (30, 300),
        0.1,
        disabled_ci=True,
    )
    seed_manual("payments", "refund-batch", 6, t0 - 1800)
    world.add_job(
        "payments",
        "reconcile-legacy",
        "Reconcile legacy gateway",
        "manual",
        None,
        (5, 40),
        1.0,
        description="Always fails: the legacy gateway is switched off",
        tags=("legacy",),
    )
    seed_manual("payments", "reconcile-legacy", 8, t0 - 600)

    world.add_project("data-platform", "Data platform", "Ingestion, warehouse and ML")
    world.add_job(
        "data-platform",
        "ingest-events",
        "Ingest events",
        "cron",
        60,
        (10, 50),
        0.05,
        tags=("ingest", "kafka"),
        description="Drains the events topic into the lake",
        # A run every minute that logs twice a second: a log to follow live until it ends.
        log_every=0.5,
    )
    seed_cron("data-platform", "ingest-events", many(2500, 25))
    world.add_job(
        "data-platform",
        "backfill-partitions",
        "Backfill partitions",
        "manual",
        None,
        (600, 1800),
        0.1,
        description="Rebuilds old partitions, several at once",
    )
    backfill = world._job("data-platform", "backfill-partitions")
    seed_manual("data-platform", "backfill-partitions", 4, t0 - 7200)
    for ago, planned in ((555, 2400), (420, 2100), (300, 1800), (160, 1500), (40, 1200)):
        world._append(backfill, t0 - ago, duration=planned)
    world.add_job(
        "data-platform",
        "model-training",
        "Train ranking model",
        "manual",
        None,
        (7200, 21600),
        0.2,
        tags=("ml", "gpu"),
        backoff_limit=1,
        # Hours-long runs, a line every 2 s: the failed one's log is ~9000 lines (older
        # pages load as the log viewer scrolls up), the running one grows while watched.
        log_every=2.0,
    )
    training = world._job("data-platform", "model-training")
    seed_manual("data-platform", "model-training", 3, t0 - 3600 - 600)
    world._append(training, t0 - 3600, duration=3 * 3600, outcome="SUCCESS")
    world.add_job(
        "data-platform",
        "vacuum-warehouse",
        "Vacuum warehouse",
        "cron",
        86400,
        (300, 900),
        suspended=True,
        description="Suspended while the warehouse migrates",
    )
    seed_cron("data-platform", "vacuum-warehouse", 14)
    world.add_job(
        "data-platform",
        "export-reports",
        "Export reports",
        "manual",
        None,
        (60, 600),
        description="Never run yet",
    )

    world.add_project(
        "sandbox", "Sandbox (edge cases)", "Names and values that try to break a terminal UI"
    )
    world.add_job(
        "sandbox",
        "nightly-report",
        "[bold]nightly[/] report",
        "cron",
        86400,
        (60, 600),
        0.2,
        description="[i]markup in a description[/i]",
    )
    seed_cron("sandbox", "nightly-report", 10)
    world.add_job(
        "sandbox",
        "markup-runs",
        "Run names with markup",
        "manual",
        None,
        (5, 60),
        0.3,
        run_name_prefixes=("[red]x[/]", "[/]", "deploy[", "[link=http://x]y[/link]"),
    )
    seed_manual("sandbox", "markup-runs", 8, t0 - 900)
    world.add_job(
        "sandbox",
        "ansi-escape",
        "\x1b[31mred alert\x1b[0m",
        "manual",
        None,
        (5, 30),
        tags=("\x1b[1mbold-tag\x1b[0m", "[b]tag[/b]"),
    )
    seed_manual("sandbox", "ansi-escape", 2, t0 - 300)
    world.add_job(
        "sandbox",
        "doc-quirks",
        "Doc quirks: succeeded=0, odd status",
        "manual",
        None,
        (5, 30),
        succeeded_flag=False,
        description="succeeded is 0 even on SUCCESS (as in the doc); one ABORTED run",
    )
    quirks = world._job("sandbox", "doc-quirks")
    seed_manual("sandbox", "doc-quirks", 4, t0 - 3600)
    world._append(quirks, t0 - 1800, duration=12, outcome="ABORTED")
    world._append(quirks, t0 - 1200, duration=20, outcome="SUCCESS")
    world.add_job(
        "sandbox",
        "a-job-with-a-really-long-identifier-that-keeps-going-and-going",
        "A job name long enough to be cut short in any reasonable column of a dashboard",
        "manual",
        None,
        (5, 30),
        0.5,
    )
    seed_manual(
        "sandbox",
        "a-job-with-a-really-long-identifier-that-keeps-going-and-going",
        3,
        t0 - 5000,
    )

    world.add_project(
        "markup-lab", "[link=http://x]y[/link] lab", "[b]not bold[/b] and [/] stray tags"
    )
    world.add_job("markup-lab", "hello", "Hello", "manual", None, (1, 10))
    seed_manual("markup-lab", "hello", 2, t0 - 120)
    world.add_project("empty", "Empty project")
