"""Struct-of-arrays cluster state (nodes, pods) and the only functions that mutate it."""
