"""Helpers to property-test concurrent writers (``pip install 'occ[testing]'``)."""

from __future__ import annotations

__all__: list[str] = []
