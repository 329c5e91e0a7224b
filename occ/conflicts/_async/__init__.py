"""The drivers of this package: written in ``_async/``, generated into ``_sync/``."""
