"""Shared test helpers: builders in the spirit of upstream's ``st.MakeNode()`` /
``st.MakePod()`` (pkg/scheduler/testing/wrappers.go)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
