"""Failure processes (not modelled yet)."""
