"""Workload controllers and autoscalers (not modelled yet)."""
