"""nf-runs: a terminal dashboard for Northflank job runs."""

__version__ = "0.1.0"
