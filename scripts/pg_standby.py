"""A private PostgreSQL primary with a streaming hot standby on loopback, with adjustable lag.

    python scripts/pg_standby.py start --dir DIR [--timeout 120] [--lifetime 5400]
    python scripts/pg_standby.py env --dir DIR     # export OCC_PG_STANDBY=DIR
    python scripts/pg_standby.py delay --dir DIR --seconds 2.5
    python scripts/pg_standby.py stop --dir DIR

The PostgreSQL 15 binaries (``/usr/lib/postgresql/15/bin``, or ``PG_BIN``)
make a new cluster with ``initdb`` in DIR/primary and start it on a free
127.0.0.1 port; ``pg_basebackup -R`` copies it to DIR/standby, which starts as
a hot standby streaming from it, on a port of its own. The machine's own
PostgreSQL server is never touched. As root, every PostgreSQL process runs as
the ``postgres`` user (PostgreSQL refuses root). Authentication is ``trust``
for ``postgres`` from 127.0.0.1.

The standby's ``recovery_min_apply_delay`` (its lag) is set by
:meth:`PgPair.set_delay` / ``delay``: written to DIR/standby/occ_delay.conf and
loaded by a reload signal to the standby's postmaster — the standby then
applies each commit that much later than the primary made it.

Started from the command line, the servers outlive the script and a detached
watchdog stops them after ``--lifetime`` seconds; :func:`pg_pair` starts a pair
owned by the calling process (its servers die with it) and stops it on exit.
Only the pids recorded in DIR/state.json are ever signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, the repository root is not on the path: ``scripts`` is imported as a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts._servers import (
    ClusterError,
    Server,
    check_reachable,
    cleanup_on_error,
    free_ports,
    load_state,
    remove_tree,
    save_state,
    spawn_watchdog,
    stop_pids,
    wait_until,
)

__all__ = ["PgPair", "load", "main", "pg_pair", "start_pair"]

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
#: the variable the test suite and the benchmarks read the pair's directory from.
ENV = "OCC_PG_STANDBY"
_USER = "postgres"


def _user() -> str | None:
    return _USER if os.geteuid() == 0 else None


def _run(argv: list[str], *, timeout: float) -> None:
    kwargs: dict[str, object] = {}
    if _user() is not None:
        kwargs.update(user=_USER, group=_USER, extra_groups=[])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    if out.returncode != 0:
        raise ClusterError(f"{Path(argv[0]).name} failed:\n{out.stdout}\n{out.stderr}")


@dataclass
class PgPair:
    """A running primary and standby.

    Attributes:
        directory: where both keep their data and logs.
        primary_port: the primary's port on 127.0.0.1.
        standby_port: the standby's.
        standby_pid: the standby postmaster's pid (reload signals go there).
    """

    directory: Path
    primary_port: int
    standby_port: int
    standby_pid: int
    servers: list[Server] = field(default_factory=list, repr=False)

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"

    @property
    def primary_url(self) -> str:
        """SQLAlchemy URL (psycopg) of the primary's ``postgres`` database."""
        return self.url(self.primary_port)

    @property
    def standby_url(self) -> str:
        """SQLAlchemy URL (psycopg) of the standby's ``postgres`` database."""
        return self.url(self.standby_port)

    def set_delay(self, seconds: float) -> None:
        """Have the standby apply each commit ``seconds`` after the primary made it.

        The reload is asynchronous: the standby's recovery takes the new value
        within moments (it re-reads it while it waits to apply a commit, too).
        """
        conf = self.directory / "standby" / "occ_delay.conf"
        conf.write_text(f"recovery_min_apply_delay = '{int(seconds * 1000)}ms'\n")
        if _user() is not None:
            shutil.chown(conf, _USER, _USER)
        os.kill(self.standby_pid, signal.SIGHUP)

    def stop(self) -> None:
        """Stop both servers and remove the directory."""
        stop_pair(self.directory)
        for server in self.servers:
            server.reap()


def _ready(port: int) -> bool:
    out = subprocess.run(
        [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"],
        capture_output=True,
        timeout=10,
    )
    return out.returncode == 0


def _streaming(port: int) -> bool:
    out = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "-tA",
            "-c",
            "SELECT pg_is_in_recovery() AND "
            "(SELECT status = 'streaming' FROM pg_stat_wal_receiver)",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.strip() == "t"


def _settings(port: int, directory: Path) -> str:
    return (
        "\n# occ private pair\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{directory}'\n"
        "wal_level = replica\n"
        "max_wal_senders = 5\n"
        "hot_standby = on\n"
        "hot_standby_feedback = on\n"
        "fsync = off\n"
        "full_page_writes = off\n"
        "shared_buffers = 32MB\n"
        "max_connections = 100\n"
        "include_if_exists = 'occ_delay.conf'\n"
    )


def start_pair(
    directory: Path | None = None,
    *,
    timeout: float = 120,
    owned: bool = True,
    delay: float = 0,
) -> PgPair:
    """Start a primary and a streaming standby; return them once the standby streams.

    Args:
        directory: an empty (or absent) directory; default: a new temporary one.
        timeout: seconds for the whole start; past it what started is stopped
            and :class:`ClusterError` raised with the logs.
        owned: the servers die with this process (a test session's pair).
        delay: the standby's initial ``recovery_min_apply_delay`` in seconds.

    Raises:
        ClusterError: the binaries are missing, or a server did not come up in time.
    """
    if not (BIN / "initdb").exists():
        raise ClusterError(
            f"no PostgreSQL binaries in {BIN} (Debian package postgresql-15, or set PG_BIN)"
        )
    made = directory is None
    directory = Path(directory or tempfile.mkdtemp(prefix="occ-pg-"))
    directory.mkdir(parents=True, exist_ok=True)
    directory = directory.resolve()
    if _user() is not None:
        check_reachable(directory, _USER)
        shutil.chown(directory, _USER, _USER)
    primary_port, standby_port = free_ports(2)
    primary_dir, standby_dir = directory / "primary", directory / "standby"
    servers: list[Server] = []
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(5.0, deadline - time.monotonic())

    def record() -> None:
        save_state(
            directory,
            {
                "kind": "pg_standby",
                "pids": [s.pid for s in servers],
                "primary_port": primary_port,
                "standby_port": standby_port,
            },
        )

    def start(name: str, data: Path, port: int, ready: object) -> Server:
        server = Server(name, [str(BIN / "postgres"), "-D", str(data)], directory / f"{name}.log")
        server.user = _user()
        server.start(owned=owned)
        servers.append(server)
        record()
        try:
            wait_until(f"postgres {name}", ready, left(), alive=server.alive)  # type: ignore[arg-type]
        except ClusterError as exc:
            raise ClusterError(f"{exc}; its log ends:\n{server.tail()}") from None
        return server

    def give_up() -> None:
        stop_pids([s.pid for s in servers], signal.SIGQUIT, timeout=10)
        for server in servers:
            server.reap()
        if made:  # a directory of our own: its logs are in the error already
            remove_tree(directory)

    with cleanup_on_error(give_up):
        _run(
            [
                str(BIN / "initdb"),
                "-D",
                str(primary_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            timeout=left(),
        )
        with (primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(_settings(primary_port, directory))
        start("primary", primary_dir, primary_port, lambda: _ready(primary_port))
        _run(
            [
                str(BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary_port),
                "-U",
                "postgres",
                "-D",
                str(standby_dir),
                "-X",
                "stream",
                "-R",
                "--no-sync",
            ],
            timeout=left(),
        )
        with (standby_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {standby_port}\n")
        pair = PgPair(directory, primary_port, standby_port, 0, servers)
        (standby_dir / "occ_delay.conf").write_text(
            f"recovery_min_apply_delay = '{int(delay * 1000)}ms'\n"
        )
        if _user() is not None:
            shutil.chown(standby_dir / "occ_delay.conf", _USER, _USER)
        standby = start("standby", standby_dir, standby_port, lambda: _streaming(standby_port))
        pair.standby_pid = standby.pid
    return pair


def load(directory: str | Path) -> PgPair:
    """The pair a ``start`` from the command line left running in ``directory``.

    Raises:
        ClusterError: there is none.
    """
    directory = Path(directory)
    state = load_state(directory)
    if state is None or state.get("kind") != "pg_standby":
        raise ClusterError(f"no primary/standby pair in {directory}")
    return PgPair(directory, state["primary_port"], state["standby_port"], state["pids"][1])


def stop_pair(directory: Path, *, keep: bool = False) -> None:
    """Stop the servers recorded in ``directory`` (and only those); remove it unless ``keep``."""
    state = load_state(directory)
    if state is not None:
        # SIGINT: PostgreSQL's fast shutdown (clients disconnected, no waiting on them).
        stop_pids(list(reversed(state.get("pids", []))), signal.SIGINT, timeout=30)
        watchdog = state.get("watchdog")
        if watchdog and watchdog != os.getpid():
            stop_pids([watchdog], signal.SIGTERM, timeout=5)
    if not keep:
        remove_tree(directory)


@contextlib.contextmanager
def pg_pair(directory: Path | None = None, *, timeout: float = 120) -> Iterator[PgPair]:
    """A pair owned by this process, stopped (and its directory removed) on exit."""
    pair = start_pair(directory, timeout=timeout, owned=True)
    try:
        yield pair
    finally:
        pair.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/pg_standby.py", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a pair in --dir (it must not hold one)")
    start.add_argument("--dir", type=Path, required=True)
    start.add_argument("--timeout", type=float, default=120, help="seconds to come up")
    start.add_argument("--delay", type=float, default=0, help="initial standby lag, seconds")
    start.add_argument(
        "--lifetime", type=float, default=5400, help="a watchdog stops it after this many seconds"
    )
    env = sub.add_parser("env", help="print the shell line that exports OCC_PG_STANDBY")
    env.add_argument("--dir", type=Path, required=True)
    delay = sub.add_parser("delay", help="set the standby's recovery_min_apply_delay")
    delay.add_argument("--dir", type=Path, required=True)
    delay.add_argument("--seconds", type=float, required=True)
    stop = sub.add_parser("stop", help="stop the pair in --dir and remove the directory")
    stop.add_argument("--dir", type=Path, required=True)
    stop.add_argument("--after", type=float, default=0, help="wait this many seconds first")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            if load_state(args.dir) is not None:
                raise ClusterError(f"{args.dir} already holds a cluster: stop it first")
            pair = start_pair(args.dir, timeout=args.timeout, owned=False, delay=args.delay)
            state = load_state(pair.directory) or {}
            state["watchdog"] = spawn_watchdog(Path(__file__), pair.directory, args.lifetime)
            save_state(pair.directory, state)
            print(pair.primary_url, pair.standby_url)
        elif args.command == "env":
            print(f"export {ENV}='{load(args.dir).directory.resolve()}'")
        elif args.command == "delay":
            load(args.dir).set_delay(args.seconds)
        else:
            if args.after:
                time.sleep(args.after)
            stop_pair(args.dir)
    except ClusterError as exc:
        print(f"pg_standby: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
