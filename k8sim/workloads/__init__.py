"""Workload sources: synthetic arrival generators, manifests and traces."""
