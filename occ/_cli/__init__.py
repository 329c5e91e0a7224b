"""The pieces of the ``occ`` command (private): one module per job.

- ``_common``: URL kinds, connections, the one-line error every command prints.
- ``occ demo``: ``_demo_cmd`` (options, progress bar, output) runs ``_demo`` (both
  sides under ``occ.testing.hammer`` / ``ahammer``), whose writers (``_writers``)
  are flows of steps (``_steps``) on a target (``_targets``: SQL or MongoDB) under
  a policy (``_policies``); ``_report`` and ``_render`` hold and print what it found.
- ``_doctor_cmd``, ``_checks``, ``_doctor_sql``, ``_doctor_mongo``: ``occ doctor``.
- ``_conflicts_cmd``, ``_stores``, ``_conflicts_view``: ``occ conflicts``.
"""
