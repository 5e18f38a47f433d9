"""The seed's token endpoints, driven with the exact requests its clients send."""

from __future__ import annotations


