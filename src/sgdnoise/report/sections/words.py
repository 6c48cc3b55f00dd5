"""Small helpers the builders share to say numbers in words."""

from __future__ import annotations

import math


def percent(share: float) -> str:
    """``0.837`` → ``"84%"``; NaN → ``"n/a"``."""
    return "n/a" if share is None or math.isnan(share) else f"{100 * share:.0f}%"


def number(value: float, digits: int = 3) -> str:
    """A float with ``digits`` significant digits; NaN → ``"n/a"``."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}g}"
