"""A private three-node MariaDB Galera cluster on loopback, for tests, benchmarks and CI.

    python scripts/galera.py start --dir DIR [--nodes 3] [--timeout 180] [--lifetime 5400]
    python scripts/galera.py env --dir DIR     # export OCC_GALERA_URLS='url1 url2 url3'
    python scripts/galera.py status --dir DIR  # cluster size and certification counters
    python scripts/galera.py stop --dir DIR    # stop the nodes it started, remove DIR

Each node is a ``mariadbd`` of the installed ``mariadb-server`` with the
``galera-4`` provider (``/usr/lib/galera/libgalera_smm.so``), in its own data
directory under DIR, on free 127.0.0.1 ports (SQL, group communication,
incremental and snapshot state transfer): the machine's own MariaDB server is
never touched. The first node bootstraps the cluster; the others join it by an
``rsync`` state transfer, one at a time. ``root`` connects from 127.0.0.1
without a password. A node's ``wsrep_sync_wait`` and ``wsrep_retry_autocommit``
stay at the server defaults (0 and 1), the configuration users get.

Started from the command line (``.ci/run``), the nodes outlive the script and a
detached watchdog stops them after ``--lifetime`` seconds whatever happens;
``stop`` ends them earlier. From Python, :func:`galera_cluster` starts one owned
by the calling process (the nodes die with it) and stops it on exit. Either way
only the pids recorded in ``DIR/state.json`` are ever signalled.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
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

__all__ = ["GaleraCluster", "galera_cluster", "main", "start_cluster", "stop_cluster"]

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
#: the variable the test suite and the benchmarks read the node URLs from.
ENV = "OCC_GALERA_URLS"


@dataclass(frozen=True)
class Node:
    """One node: its name, directory and ports."""

    name: str
    home: Path
    sql: int
    gcomm: int
    ist: int
    sst: int

    @property
    def config(self) -> Path:
        return self.home / "my.cnf"

    @property
    def socket(self) -> Path:
        return self.home / "mysqld.sock"

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.sql}/"


@dataclass
class GaleraCluster:
    """A running private cluster: its nodes and how to reach them.

    Attributes:
        directory: where every node keeps its data, sockets and logs.
        nodes: the nodes, the bootstrap node first.
    """

    directory: Path
    nodes: list[Node]
    servers: list[Server] = field(default_factory=list, repr=False)

    @property
    def urls(self) -> list[str]:
        """One SQLAlchemy URL (PyMySQL, no database) per node."""
        return [n.url for n in self.nodes]

    def stop(self) -> None:
        """Stop the nodes and remove the directory."""
        stop_cluster(self.directory)
        for server in self.servers:
            server.reap()


def _check_installed() -> None:
    missing = [
        what
        for what, ok in (
            ("mariadbd (Debian package mariadb-server)", MARIADBD),
            ("mariadb-install-db (mariadb-server)", INSTALL_DB),
            (f"{PROVIDER} (Debian package galera-4)", os.path.exists(PROVIDER)),
            ("rsync (for state transfers)", shutil.which("rsync")),
        )
        if not ok
    ]
    if missing:
        raise ClusterError(
            "cannot start a Galera cluster, missing: " + "; ".join(missing) + ". Install with: "
            "apt-get install -y galera-4 mariadb-server rsync"
        )


def _config(node: Node, nodes: list[Node], cluster: str) -> str:
    peers = ",".join(f"127.0.0.1:{n.gcomm}" for n in nodes)
    provider = ";".join(
        [
            f"gmcast.listen_addr=tcp://127.0.0.1:{node.gcomm}",
            f"ist.recv_addr=127.0.0.1:{node.ist}",
            "gcache.size=32M",
            "evs.suspect_timeout=PT5S",
            "evs.inactive_timeout=PT10S",
            "pc.wait_prim_timeout=PT30S",
        ]
    )
    return f"""[mariadbd]
datadir={node.home / "data"}
socket={node.socket}
pid-file={node.home / "mysqld.pid"}
log-error={node.home / "error.log"}
port={node.sql}
bind-address=127.0.0.1
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit=2
max_connections=300
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_cluster_name={cluster}
wsrep_cluster_address=gcomm://{peers}
wsrep_node_name={node.name}
wsrep_node_address=127.0.0.1:{node.gcomm}
wsrep_node_incoming_address=127.0.0.1:{node.sql}
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:{node.sst}
wsrep_provider_options="{provider}"
wsrep_slave_threads=2
"""


def _server(node: Node, *, bootstrap: bool) -> Server:
    argv = [str(MARIADBD), f"--defaults-file={node.config}"]
    if bootstrap:
        argv.append("--wsrep-new-cluster")
    return Server(node.name, argv, node.home / "console.log", user=_user())


def _user() -> str | None:
    """As root, the nodes run as ``mysql`` (rsync's state transfer drops root's rights)."""
    return "mysql" if os.geteuid() == 0 else None


def _query(node: Node, sql: str) -> str:
    """Run ``sql`` on ``node`` through its socket; the first column of the first row."""
    out = subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={node.socket}", "-uroot", "-N", "-B", "-e", sql],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return out.stdout.strip()


def _synced(node: Node, size: int) -> bool:
    state = _query(node, "SHOW STATUS LIKE 'wsrep_local_state_comment'").split()
    members = _query(node, "SHOW STATUS LIKE 'wsrep_cluster_size'").split()
    return state[-1:] == ["Synced"] and members[-1:] == [str(size)]


def _install(node: Node) -> None:
    user = [f"--user={_user()}"] if _user() else []
    out = subprocess.run(
        [
            str(INSTALL_DB),
            "--no-defaults",
            f"--datadir={node.home / 'data'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise ClusterError(f"mariadb-install-db failed:\n{out.stdout}\n{out.stderr}")


def start_cluster(
    directory: Path | None = None,
    *,
    nodes: int = 3,
    timeout: float = 180,
    owned: bool = True,
) -> GaleraCluster:
    """Start a private cluster of ``nodes`` nodes; return it once every node is Synced.

    Args:
        directory: an empty (or absent) directory for the nodes; default: a new
            temporary one.
        nodes: how many nodes (at least 1).
        timeout: seconds for the whole start; past it the nodes started so far
            are stopped and :class:`ClusterError` raised with their logs.
        owned: the nodes die with this process (a test session's cluster);
            ``False`` leaves them running after it exits (see ``stop``).

    Raises:
        ClusterError: a package is missing, or a node did not come up in time.
    """
    _check_installed()
    if nodes < 1:
        raise ValueError("a cluster has at least one node")
    made = directory is None
    directory = Path(directory or tempfile.mkdtemp(prefix="occ-galera-"))
    directory.mkdir(parents=True, exist_ok=True)
    directory = directory.resolve()
    if _user() is not None:
        check_reachable(directory, "mysql")
    ports = free_ports(4 * nodes)
    members = [
        Node(f"n{i + 1}", directory / f"n{i + 1}", *ports[4 * i : 4 * i + 4]) for i in range(nodes)
    ]
    cluster = f"occ_{secrets.token_hex(4)}"
    servers: list[Server] = []
    deadline = time.monotonic() + timeout

    def record() -> None:
        save_state(
            directory,
            {
                "kind": "galera",
                "pids": [s.pid for s in servers],
                "urls": [n.url for n in members],
                "sockets": [str(n.socket) for n in members],
            },
        )

    def give_up() -> None:
        stop_pids([s.pid for s in servers if s.proc is not None], signal.SIGKILL, timeout=10)
        for server in servers:
            server.reap()
        if made:  # a directory of our own: its logs are in the error already
            remove_tree(directory)

    with cleanup_on_error(give_up):
        for node in members:
            # A joiner's data is replaced by the state transfer: an empty datadir will do.
            (node.home / "data").mkdir(parents=True)
            node.config.write_text(_config(node, members, cluster))
        owner = _user()
        if owner is not None:
            for path in (directory, *directory.rglob("*")):
                shutil.chown(path, owner, owner)
        _install(members[0])
        for i, node in enumerate(members):
            server = _server(node, bootstrap=i == 0)
            server.start(owned=owned)
            servers.append(server)
            record()
            left = max(5.0, deadline - time.monotonic())
            try:
                wait_until(
                    f"galera node {node.name}",
                    lambda n=node, k=i + 1: _synced(n, k),
                    left,
                    alive=server.alive,
                )
            except ClusterError as exc:
                log = node.home / "error.log"
                raise ClusterError(f"{exc}; {log} ends:\n{server.tail(log=log)}") from None
            if i == 0:
                # Replicated to the joiners by their state transfer.
                _query(node, "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
                _query(node, "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
    return GaleraCluster(directory, members, servers)


def stop_cluster(directory: Path, *, keep: bool = False) -> None:
    """Stop the nodes recorded in ``directory`` (and only those); remove it unless ``keep``."""
    state = load_state(directory)
    if state is not None:
        stop_pids(state.get("pids", []), signal.SIGTERM, timeout=30)
        watchdog = state.get("watchdog")
        if watchdog and watchdog != os.getpid():
            stop_pids([watchdog], signal.SIGTERM, timeout=5)
    if not keep:
        remove_tree(directory)


@contextlib.contextmanager
def galera_cluster(
    directory: Path | None = None, *, nodes: int = 3, timeout: float = 180
) -> Iterator[GaleraCluster]:
    """A private cluster owned by this process, stopped (and its directory removed) on exit."""
    cluster = start_cluster(directory, nodes=nodes, timeout=timeout, owned=True)
    try:
        yield cluster
    finally:
        cluster.stop()


def status(directory: Path) -> list[str]:
    """One line per node: cluster size, state, certification failures, brute-force aborts."""
    state = load_state(directory)
    if state is None:
        raise ClusterError(f"no cluster in {directory}")
    lines = []
    names = (
        "wsrep_cluster_size",
        "wsrep_local_state_comment",
        "wsrep_local_cert_failures",
        "wsrep_local_bf_aborts",
    )
    for url, sock in zip(state["urls"], state["sockets"], strict=True):
        node = Node("?", Path(sock).parent, 0, 0, 0, 0)
        values = []
        for name in names:
            try:
                values.append(_query(node, f"SHOW STATUS LIKE '{name}'").split("\t")[-1])
            except Exception:
                values.append("down")
        pairs = zip(names, values, strict=True)
        lines.append(f"{url}  " + "  ".join(f"{n[6:]}={v}" for n, v in pairs))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/galera.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a cluster in --dir (it must not hold one)")
    start.add_argument("--dir", type=Path, required=True)
    start.add_argument("--nodes", type=int, default=3)
    start.add_argument("--timeout", type=float, default=180, help="seconds to come up")
    start.add_argument(
        "--lifetime", type=float, default=5400, help="a watchdog stops it after this many seconds"
    )
    for name, text in (
        ("env", "print the shell line that exports OCC_GALERA_URLS"),
        ("status", "print each node's state and counters"),
    ):
        sub.add_parser(name, help=text).add_argument("--dir", type=Path, required=True)
    stop = sub.add_parser("stop", help="stop the cluster in --dir and remove the directory")
    stop.add_argument("--dir", type=Path, required=True)
    stop.add_argument("--after", type=float, default=0, help="wait this many seconds first")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            if load_state(args.dir) is not None:
                raise ClusterError(f"{args.dir} already holds a cluster: stop it first")
            cluster = start_cluster(args.dir, nodes=args.nodes, timeout=args.timeout, owned=False)
            state = load_state(cluster.directory) or {}
            state["watchdog"] = spawn_watchdog(Path(__file__), cluster.directory, args.lifetime)
            save_state(cluster.directory, state)
            print(" ".join(cluster.urls))
        elif args.command == "env":
            state = load_state(args.dir)
            if state is None:
                raise ClusterError(f"no cluster in {args.dir}")
            print(f"export {ENV}='{' '.join(state['urls'])}'")
        elif args.command == "status":
            print("\n".join(status(args.dir)))
        else:
            if args.after:
                time.sleep(args.after)
            stop_cluster(args.dir)
    except ClusterError as exc:
        print(f"galera: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
