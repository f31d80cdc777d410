"""Policy comparisons and sweeps (not written yet)."""
