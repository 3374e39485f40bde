"""Widgets of nf-runs: the virtual run list and its status badges."""
