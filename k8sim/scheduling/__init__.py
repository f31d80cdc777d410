"""Scheduling: queue, framework, profiles and plugins (array functions over all nodes)."""
