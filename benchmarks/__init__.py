"""Benchmarks of ``occ`` against the raw driver, SQLAlchemy Core and ORM, pessimistic
locking, PyMongo and Beanie.

Run ``python -m benchmarks`` (full), ``--quick`` (under two minutes) or
``--smoke`` (a few operations, for the test suite). Every system runs on the
same database in one process, in interleaved rounds (A B A B ...) so machine
drift cancels; figures are read as ratios within one run. Round trips are
counted (SQLAlchemy ``before_cursor_execute``, PyMongo ``CommandListener``),
never inferred from timing.
"""
