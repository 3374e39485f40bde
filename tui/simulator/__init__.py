"""A simulated Northflank API (stdlib, and cronsim for cron schedules) for tests, demos and
benchmarks.

`World` is the seeded data on a simulated clock, `Faults` the injected failures, and
`Simulator` serves both over HTTP on loopback.
"""

from .faults import FAULT_KINDS, Fault, Faults
from .server import DEFAULT_TOKEN, Simulator, run_simulator, serve_forever_cli
from .world import DEFAULT_START, NotFoundError, World

__all__ = [
    "DEFAULT_START",
    "DEFAULT_TOKEN",
    "FAULT_KINDS",
    "Fault",
    "Faults",
    "NotFoundError",
    "Simulator",
    "World",
    "run_simulator",
    "serve_forever_cli",
]
