"""The SQLAlchemy bind types of both modes under one import.

The async SQL driver imports ``AsyncConnection``, ``AsyncEngine`` and
``AsyncSession`` from here, and its generated sync twin imports
``Connection``, ``Engine`` and ``Session`` from the same module.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

__all__ = ["AsyncConnection", "AsyncEngine", "AsyncSession", "Connection", "Engine", "Session"]
