"""Public trace importers, one module per trace format (not written yet)."""
