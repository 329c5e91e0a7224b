"""The pieces of the ``occ`` command (private): one module per job.

- ``_common``: URL kinds, connections, the one-line error every command prints.
- ``_demo_cmd``, ``_policies``, ``_targets``, ``_async_targets``, ``_async_demo``,
  ``_render``: ``occ demo`` (the runner itself is :mod:`occ._demo`).
- ``_doctor_cmd``, ``_checks``, ``_doctor_sql``, ``_doctor_mongo``: ``occ doctor``.
- ``_conflicts_cmd``, ``_stores``, ``_conflicts_view``: ``occ conflicts``.
"""
