"""Detached service processes: start, find, stop, and read their logs.

A service is started through ``sh -c 'cmd & echo $!'`` in a new session so that it outlives
the caller (a CLI run, a pytest session) and is never the caller's child: the caller then has
no zombie to reap and no ``Popen`` to keep alive. Liveness is checked through ``/proc`` and a
marker in the command line (the service's config path), so a recycled pid is not mistaken
for the service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from botbill.deploy.exceptions import StackError

__all__ = ["START_MARKER", "Daemon", "port_open", "tail", "wait_until"]

START_MARKER = "botbill stack: starting"
_SPAWN = 'log=$1; shift; "$@" >>"$log" 2>&1 </dev/null & echo $!'


@dataclass(frozen=True)
class Daemon:
    """One detached process: its pid file, its stdout/stderr log, and its command-line marker."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str

    def pid(self) -> int | None:
        """The pid of the running service, or None; a stale pid file is removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid, self.marker):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def spawn(self, cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> int:
        """Start ``cmd`` detached, append its output to ``log_file``, record its pid."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {START_MARKER} ---\n")
        done = subprocess.run(
            ["sh", "-c", _SPAWN, "sh", str(self.log_file), *cmd],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            start_new_session=True,
            check=False,
        )
        if done.returncode != 0 or not done.stdout.strip().isdigit():
            raise StackError(f"{self.name}: could not start {cmd[0]}: {done.stderr.strip()}")
        pid = int(done.stdout.strip())
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{pid}\n")
        tmp.replace(self.pid_file)
        return pid

    def stop(self, grace_s: float) -> bool:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; True if a process was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        _signal(pid, signal.SIGTERM)
        if not wait_until(lambda: not _alive(pid, self.marker), grace_s):
            _signal(pid, signal.SIGKILL)
            wait_until(lambda: not _alive(pid, self.marker), 10.0)
        self.pid_file.unlink(missing_ok=True)
        return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs (not a zombie) and its command line contains ``marker``."""
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and marker in cmdline


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout_s: float, every_s: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout_s`` passed; returns the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every_s)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, from its last start marker on if it has one."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(no log file at {path})"
    start = text.rfind(START_MARKER)
    if start >= 0:
        text = text[text.rfind("\n", 0, start) + 1 :]
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"
