"""Batch and AI workloads: PodGroups (gangs) and the training-job model."""
