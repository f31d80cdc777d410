"""Simulation wiring: environment, random streams, processes."""
