"""Fault injection for the suite: a TCP proxy that drops replies or requests, and session kills.

- :class:`~tests.faults.proxy.Proxy` sits between a client and MariaDB,
  PostgreSQL or the MongoDB server and drops the reply to (or the request
  of) the next statement or command matching a pattern, or delays it.
- :class:`~tests.faults.sessions.SessionKiller` kills the server session of
  a connection the test opened (MariaDB ``KILL CONNECTION``, PostgreSQL
  ``pg_terminate_backend``).

Fixtures for both (``proxies``, ``sql_proxy``, ``mariadb_proxy``,
``postgres_proxy``, ``mongo_proxy``, ``session_killer``) live in
:mod:`tests.faults.plugin`, which ``tests/conftest.py`` loads for every test.
"""

from tests.faults.proxy import MODES, Fault, Proxy, command
from tests.faults.sessions import SessionKiller, session_id

__all__ = ["MODES", "Fault", "Proxy", "SessionKiller", "command", "session_id"]
