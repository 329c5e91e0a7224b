# Generated from occ/_async/__init__.py by scripts/unasync.py: edit that file.
"""The drivers, written once for asyncio; ``occ/_sync/`` is generated from here.

``scripts/unasync.py`` turns each module into its sync twin with
identifier-only rules (``def`` → ``def``, ``x`` → ``x``,
``AsyncName`` → ``Name``, ``aname`` → ``name``, ``_sync`` → ``_sync``);
``--check`` fails CI when a generated file is stale. Pure code lives outside
both trees, in :mod:`occ._core` and the backends' pure modules.
"""
