"""Timestamp versions: strictly increasing per row, refused where microseconds are lost."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

import occ
from tests.sql.models import coarse, stamped


def test_timestamp_versions_strictly_increase_even_within_one_microsecond(
    db: sa.Engine, make_repo: Any
) -> None:
    repo = make_repo(stamped, version_column="updated", version_type="timestamp")
    created = repo.insert({"id": 1, "body": "a"})
    assert isinstance(created.version, dt.datetime)
    version = created.version
    seen = [version]
    for i in range(20):  # far faster than one write per microsecond of clock drift
        version = repo.update(1, {"body": f"b{i}"}, expected_version=version).version
        seen.append(version)
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    assert repo.get(1).version == version


def test_stale_timestamp_is_a_conflict(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(stamped, version_column="updated", version_type="timestamp")
    v1 = repo.insert({"id": 1, "body": "a"}).version
    repo.update(1, {"body": "b"}, expected_version=v1)
    with pytest.raises(occ.ConflictError) as info:
        repo.update(1, {"body": "c"}, expected_version=v1)
    assert info.value.conflict.expected_version == v1
    assert repo.get(1).value["body"] == "b"


def test_timestamp_expected_version_must_be_a_datetime(db: sa.Engine, make_repo: Any) -> None:
    repo = make_repo(stamped, version_column="updated", version_type="timestamp")
    repo.insert({"id": 1, "body": "a"})
    with pytest.raises(occ.ValidationError, match="must be a datetime"):
        repo.update(1, {"body": "x"}, expected_version=1)
    assert repo.get(1).value["body"] == "a"


def test_column_without_microseconds_is_refused_on_mariadb(db: sa.Engine) -> None:
    if db.dialect.name == "mysql":
        with pytest.raises(occ.ConfigurationError, match="microseconds"):
            occ.sql.Repository(db, coarse, version_column="updated", version_type="timestamp")
    else:  # SQLite and PostgreSQL keep microseconds in a plain DateTime
        repo = occ.sql.Repository(db, coarse, version_column="updated", version_type="timestamp")
        assert repo.entity.versions.name == "timestamp"


def test_integer_versions_refuse_a_datetime_column(db: sa.Engine) -> None:
    with pytest.raises(occ.ConfigurationError, match="Integer column"):
        occ.sql.Repository(db, stamped, version_column="updated")
