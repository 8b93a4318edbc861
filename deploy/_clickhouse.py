"""ClickHouse from the Debian package, run as the current user under ``$BOTBILL_HOME/clickhouse``.

The package's own service (``/etc/clickhouse-server``, ``/var/lib/clickhouse``) is not used:
the server gets a generated config whose every path points into ``config/``, ``data/`` and
``log/`` here. The templates are ``deploy/clickhouse/*.xml``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from string import Template
from xml.sax.saxutils import escape

from botbill.deploy._config import HOST, StackConfig
from botbill.deploy._process import Daemon
from botbill.deploy.exceptions import MissingTool

__all__ = ["ClickHouse", "find_server"]

log = logging.getLogger("botbill.stack")

TEMPLATES = Path(__file__).parent / "clickhouse"
_APT_INSTALL = ["apt-get", "install", "-y", "-q", "clickhouse-server", "clickhouse-client"]
_INSTALL_HINT = (
    "install the Debian package: `apt-get install -y clickhouse-server clickhouse-client`"
)


def find_server() -> list[str] | None:
    """The command that runs a ClickHouse server, or None if none is installed.

    Debian's package ships ``/usr/sbin/clickhouse-server`` (often not on a user's PATH);
    upstream packages ship the multi-call ``/usr/bin/clickhouse`` (``clickhouse server``).
    """
    for name in ("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"):
        found = shutil.which(name)
        if found:
            return [found]
    for name in ("clickhouse", "/usr/bin/clickhouse"):
        found = shutil.which(name)
        if found:
            return [found, "server"]
    return None


def _install() -> list[str]:
    """Install the Debian package (``apt-get update`` only if the first attempt fails)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MissingTool("clickhouse-server", _INSTALL_HINT + " (as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("installing clickhouse-server with apt-get")
    done = subprocess.run(_APT_INSTALL, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        done = subprocess.run(_APT_INSTALL, env=env, capture_output=True, text=True, check=False)
    command = find_server()
    if done.returncode != 0 or command is None:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise MissingTool("clickhouse-server", f"apt-get failed; {_INSTALL_HINT}\n{output}")
    return command


class ClickHouse:
    """The ClickHouse server process; ``prepare`` installs it if missing and writes its config."""

    name = "clickhouse"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        root = cfg.clickhouse_dir
        self.config_xml = root / "config" / "config.xml"
        self.users_xml = root / "config" / "users.xml"
        self.data = root / "data"
        self.logs = root / "log"
        self.daemon = Daemon(
            name=self.name,
            pid_file=root / "clickhouse.pid",
            log_file=self.logs / "stdout.log",
            marker=str(self.config_xml),
        )
        self._server: list[str] | None = None

    @property
    def ports(self) -> dict[str, int]:
        return {"native": self.cfg.clickhouse_port, "http": self.cfg.clickhouse_http_port}

    @property
    def address(self) -> str:
        return f"{HOST}:{self.cfg.clickhouse_port} (http {HOST}:{self.cfg.clickhouse_http_port})"

    @property
    def log_files(self) -> list[Path]:
        return [self.logs / "server.err.log", self.daemon.log_file]

    def prepare(self) -> None:
        self._server = find_server() or _install()
        for folder in (self.config_xml.parent, self.data, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        values = {
            "host": HOST,
            "tcp_port": str(self.cfg.clickhouse_port),
            "http_port": str(self.cfg.clickhouse_http_port),
            "data_dir": escape(str(self.data)),
            "log_dir": escape(str(self.logs)),
            "users_config": escape(str(self.users_xml)),
        }
        for target in (self.config_xml, self.users_xml):
            text = Template((TEMPLATES / target.name).read_text()).substitute(values)
            target.write_text(text)

    def command(self) -> list[str]:
        server = self._server or find_server()
        if server is None:
            raise MissingTool("clickhouse-server", _INSTALL_HINT)
        return [*server, f"--config-file={self.config_xml}"]

    def answers(self) -> bool:
        """True when ``SELECT 1`` succeeds over the native protocol.

        No bare TCP probe first: ClickHouse logs a warning for every silent connection.
        """
        from clickhouse_driver import Client
        from clickhouse_driver.errors import Error

        client = Client(
            host=HOST, port=self.cfg.clickhouse_port, connect_timeout=2, send_receive_timeout=5
        )
        try:
            return client.execute("SELECT 1") == [(1,)]
        except (Error, OSError, EOFError):
            return False
        finally:
            client.disconnect()
