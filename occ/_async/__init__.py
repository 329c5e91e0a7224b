"""The drivers, written once for asyncio; ``occ/_sync/`` is generated from here.

``scripts/unasync.py`` turns each module into its sync twin with
identifier-only rules (``async def`` → ``def``, ``await x`` → ``x``,
``AsyncName`` → ``Name``, ``aname`` → ``name``, ``_async`` → ``_sync``);
``--check`` fails CI when a generated file is stale. Pure code lives outside
both trees, in :mod:`occ._core` and the backends' pure modules.
"""
