"""Environment switches. ``LAB_FAST=1`` shrinks data and epochs (tests, CI, quick previews)."""
from __future__ import annotations

import os


def fast_mode() -> bool:
    return os.environ.get("LAB_FAST", "").strip().lower() in ("1", "true", "yes", "on")
