"""Fixtures of the SQL tests."""

from tests.sql.drivers import make_repo as make_repo
