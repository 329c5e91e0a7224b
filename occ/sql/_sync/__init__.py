# Generated from occ/sql/_async/__init__.py by scripts/unasync.py: edit that file.
"""The drivers of this package: written in ``_sync/``, generated into ``_sync/``."""
