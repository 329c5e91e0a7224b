"""What the private-cluster scripts share: free ports, owned processes, waiting, state files.

Every server a script starts is a child process whose pid is recorded in the
cluster's directory (``state.json``), so that stopping it signals only those
pids — never a server found by name. A cluster started for the life of a
test session dies with it (``die_with_parent``); one started from the command
line for ``.ci/run`` gets a watchdog that stops it after ``--lifetime``
seconds whatever happens to the shell that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ClusterError",
    "Server",
    "check_reachable",
    "cleanup_on_error",
    "die_with_parent",
    "free_ports",
    "load_state",
    "port_open",
    "remove_tree",
    "save_state",
    "spawn_watchdog",
    "stop_pids",
    "wait_until",
]

_PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """A private cluster did not start (or stop) in time; the message says what its logs said."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now (the kernel's choice)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    what: str,
    ready: Callable[[], bool],
    timeout: float,
    *,
    alive: Callable[[], bool] | None = None,
    every: float = 0.2,
) -> None:
    """Poll ``ready()`` until it is true; raise :class:`ClusterError` after ``timeout`` seconds,
    or as soon as ``alive()`` (the process that should become ready) says it exited."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise ClusterError(f"{what}: exited")
        try:
            if ready():
                return
        except Exception:  # not up yet: connection refused and the like
            pass
        if time.monotonic() > deadline:
            raise ClusterError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(every)


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` that has the child sent ``sig`` when the process that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


@dataclass
class Server:
    """One server process started by a script: its name, pid and log file."""

    name: str
    argv: Sequence[str]
    log: Path
    user: str | None = None
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, *, owned: bool) -> None:
        """Start it; ``owned``: it dies with this process (a test session's cluster)."""
        out = self.log.open("ab")
        kwargs: dict[str, Any] = {}
        if self.user is not None and os.geteuid() == 0:
            kwargs.update(user=self.user, group=self.user, extra_groups=[])
        if owned:
            kwargs["preexec_fn"] = die_with_parent()
        else:
            kwargs["start_new_session"] = True
        self.proc = subprocess.Popen(
            list(self.argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env,
            **kwargs,
        )
        out.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was not started"
        return self.proc.pid

    def reap(self) -> None:
        """Collect its exit status once it has been stopped (no zombie, no warning)."""
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 15, *, log: Path | None = None) -> str:
        """The end of its log, or of ``log`` (what to show when it did not start)."""
        try:
            text = (log or self.log).read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(f"    {line}" for line in text[-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def stop_pids(pids: Sequence[int], sig: int, *, timeout: float = 30) -> None:
    """Send ``sig`` to each pid, wait up to ``timeout`` seconds, then ``SIGKILL`` what is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def check_reachable(directory: Path, user: str) -> None:
    """Refuse a directory the servers' ``user`` could not reach (an ancestor closed to others).

    Raises:
        ClusterError: naming the ancestor to open (``chmod o+x``) or another place to use.
    """
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    for ancestor in directory.parents:
        info = ancestor.stat()
        if info.st_uid != uid and not info.st_mode & 0o001:
            raise ClusterError(
                f"{ancestor} is closed to other users, so the {user} user cannot reach "
                f"{directory}: pass a directory that {user} can reach (e.g. a new one "
                f'straight under /tmp: --dir "$(mktemp -d)")'
            )


def save_state(directory: Path, state: dict[str, Any]) -> None:
    """Write the cluster's ``state.json`` (pids, ports, URLs)."""
    (directory / "state.json").write_text(json.dumps(state, indent=2))


def load_state(directory: Path) -> dict[str, Any] | None:
    """The cluster's ``state.json``, or ``None`` if there is none."""
    try:
        state: dict[str, Any] = json.loads((directory / "state.json").read_text())
    except FileNotFoundError:
        return None
    return state


def spawn_watchdog(script: Path, directory: Path, lifetime: float) -> int:
    """Start ``script stop --dir directory --after lifetime`` detached; return its pid."""
    proc = subprocess.Popen(
        [sys.executable, str(script), "stop", "--dir", str(directory), "--after", str(lifetime)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc.pid


def remove_tree(directory: Path) -> None:
    """Remove a cluster directory (data, sockets, logs)."""
    shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def cleanup_on_error(stop: Callable[[], None]) -> Iterator[None]:
    """Run ``stop()`` if the block raises, then re-raise."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            stop()
        raise
