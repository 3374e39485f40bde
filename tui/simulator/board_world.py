"""The board world: 3 projects, 40 jobs, big enough that watching all of them needs the budget.

`World(preset="board")` (or `nf-runs simulate --world board`). Its classes, as issue 10's
benchmark counts them:

- 2 cron jobs every minute, 8 every 15 minutes (some at an offset, one "Forbid" and one
  "Replace"), 10 hourly or daily (one on weekdays only);
- 10 manual jobs started by hand about once every 2 hours, at seeded random times;
- 10 suspended cron jobs or idle manual jobs (one never run);
- failing streaks (a cron job whose last 4 runs failed, one always failing) and one cron job
  that misses runs (`MISSING_JOB`: about a fifth of its fires, and surely the first after the
  start).

Every cron job's latest fire at or before the start has its run, so a board opened at the
start finds nothing missed but that job. Everything depends on the seed alone (through the
world's hashes); only public `World` calls are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .world import World

HAND_EVERY = 7200.0  # seconds: the mean gap between two hand starts of a manual job
SUSPENDED_FOR = 3 * 86400.0  # a suspended job's last run is from before this
MISSING_JOB = ("data", "export-events")
MISS_RATE = 0.2


class _Spec(NamedTuple):
    project: str
    id: str
    name: str
    cron: str | None  # None: a manual job
    duration: tuple[float, float]
    fail_rate: float = 0.0
    history: int = 25
    policy: str = "Allow"
    suspended: bool = False
    by_hand: bool = False  # a manual job started about every HAND_EVERY
    failed_streak: int = 0  # the newest runs, all FAILED
    tags: tuple[str, ...] = ()


PROJECTS = (
    ("storefront", "Storefront", "The shop: catalogue, carts and payments"),
    ("data", "Data pipelines", "Ingestion, warehouse and models"),
    ("platform", "Platform", "Backups, certificates and the rest of the plumbing"),
)

JOBS: tuple[_Spec, ...] = (
    # Every minute.
    _Spec("storefront", "sync-inventory", "Sync inventory", "* * * * *", (5, 40), 0.02, 60,
          tags=("inventory",)),
    _Spec("data", "ingest-clicks", "Ingest clickstream", "* * * * *", (10, 45), 0.05, 60,
          tags=("ingest", "kafka")),
    # Every 15 minutes.
    _Spec("storefront", "refresh-prices", "Refresh prices", "*/15 * * * *", (30, 180), 0.03),
    _Spec("storefront", "charge-retries", "Retry failed charges", "5-59/15 * * * *", (20, 120),
          0.5, failed_streak=4, tags=("billing",)),
    _Spec("storefront", "abandoned-carts", "Abandoned-cart mails", "10,25,40,55 * * * *",
          (60, 300)),
    _Spec("data", "export-events", "Export events", "*/15 * * * *", (60, 400), 0.02),
    _Spec("data", "compact-topics", "Compact topics", "*/15 * * * *", (120, 600),
          policy="Forbid"),
    _Spec("data", "dedupe-users", "Deduplicate users", "*/15 * * * *", (30, 90), 0.1),
    _Spec("platform", "rotate-logs", "Rotate logs", "*/15 * * * *", (10, 60)),
    _Spec("platform", "health-probe", "Health probe", "3-59/15 * * * *", (5, 30), 0.01,
          policy="Replace"),
    # Hourly.
    _Spec("storefront", "sitemap", "Build sitemap", "0 * * * *", (60, 300)),
    _Spec("storefront", "search-index", "Search index", "30 * * * *", (300, 900), 0.1),
    _Spec("data", "hourly-rollup", "Hourly rollup", "@hourly", (120, 600)),
    _Spec("data", "warehouse-load", "Load warehouse", "15 * * * *", (600, 1500), 0.15,
          failed_streak=3),
    _Spec("platform", "cert-check", "Check certificates", "45 * * * *", (5, 20)),
    # Daily.
    _Spec("storefront", "daily-report", "Daily sales report", "30 8 * * *", (120, 600)),
    _Spec("data", "nightly-etl", "Nightly ETL", "0 2 * * *", (1800, 5400), 0.2),
    _Spec("data", "model-refresh", "Refresh models", "@daily", (3600, 7200), tags=("ml",)),
    _Spec("platform", "backup-db", "Back up databases", "0 3 * * *", (900, 2400)),
    _Spec("platform", "weekday-digest", "Weekday digest", "15 6 * * 1-5", (30, 120)),
    # Manual, started by hand about every 2 hours.
    _Spec("storefront", "reindex-products", "Reindex products", None, (120, 900), 0.05,
          by_hand=True),
    _Spec("storefront", "purge-cdn", "Purge CDN", None, (5, 60), by_hand=True),
    _Spec("storefront", "refund-batch", "Refund batch", None, (30, 300), 0.1, by_hand=True),
    _Spec("data", "backfill-partitions", "Backfill partitions", None, (600, 2400), 0.1,
          by_hand=True),
    _Spec("data", "replay-dlq", "Replay dead letters", None, (60, 600), 0.3, by_hand=True),
    _Spec("data", "train-ranker", "Train ranking model", None, (1800, 5400), 1.0,
          by_hand=True, tags=("ml", "gpu")),
    _Spec("data", "ad-hoc-query", "Ad-hoc query", None, (10, 300), by_hand=True),
    _Spec("platform", "deploy-migrations", "Deploy migrations", None, (30, 240), 0.05,
          by_hand=True),
    _Spec("platform", "scale-test", "Scale test", None, (300, 1200), 0.2, by_hand=True),
    _Spec("platform", "rotate-secrets", "Rotate secrets", None, (10, 90), by_hand=True),
    # Suspended cron jobs.
    _Spec("storefront", "legacy-feed", "Legacy partner feed", "*/30 * * * *", (20, 120),
          history=20, suspended=True),
    _Spec("data", "vacuum-warehouse", "Vacuum warehouse", "0 4 * * 0", (600, 1800),
          history=8, suspended=True),
    _Spec("data", "old-export", "Old export", "0 * * * *", (60, 300), 0.6, history=30,
          suspended=True),
    _Spec("platform", "chaos-monkey", "Chaos monkey", "*/5 * * * *", (30, 300), 0.3,
          history=40, suspended=True),
    _Spec("platform", "quarterly-audit", "Quarterly audit", "0 0 1 */3 *", (600, 1200),
          history=4, suspended=True),
    # Idle manual jobs.
    _Spec("storefront", "export-catalog", "Export catalogue", None, (60, 600), history=3),
    _Spec("storefront", "gdpr-erase", "GDPR erasure", None, (5, 60), history=1),
    _Spec("data", "rebuild-index", "Rebuild index", None, (600, 3600), history=0),
    _Spec("platform", "disaster-drill", "Disaster drill", None, (1200, 3600), 1.0, history=2),
    _Spec("platform", "onboard-tenant", "Onboard tenant", None, (30, 300), history=5),
)


def seed_board(world: World, history: bool = True) -> None:
    """Fill `world` (empty, clock frozen) with the board's projects, jobs and runs; without
    `history`, a few runs per job instead of a few dozen (faster tests)."""
    for project_id, name, description in PROJECTS:
        world.add_project(project_id, name, description)
    start = world.now_ts()
    for spec in JOBS:
        world.add_job(
            spec.project, spec.id, spec.name, "manual" if spec.cron is None else "cron",
            None, spec.duration, spec.fail_rate, cron=spec.cron, tags=spec.tags,
            concurrency_policy=spec.policy, suspended=spec.suspended,
            started_every=HAND_EVERY if spec.by_hand else None,
            miss_rate=MISS_RATE if (spec.project, spec.id) == MISSING_JOB else 0.0,
        )
        count = spec.history if history else min(spec.history, max(spec.failed_streak, 3))
        streak = min(spec.failed_streak, count)
        up_to = start - SUSPENDED_FOR if spec.suspended else None
        if streak:
            world.seed_history(spec.project, spec.id, streak, status="FAILED", up_to=up_to)
            world.add_runs(spec.project, spec.id, count - streak, status=None)
        elif count:
            world.seed_history(spec.project, spec.id, count, up_to=up_to)
    world.skip_fires(*MISSING_JOB)
