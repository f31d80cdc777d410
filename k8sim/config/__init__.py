"""Scenario schema (pydantic models), quantities, distributions and the YAML loader."""
