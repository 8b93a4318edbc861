"""Single-node KRaft Kafka from Maven Central jars, under ``$BOTBILL_HOME/kafka``.

Layout: ``libs/`` (jars, fetched once with Maven from ``deploy/kafka/pom.xml``), ``config/``
(server.properties and log4j.properties, rewritten on every start), ``data/`` (the log dirs,
formatted once with a cluster id kept in ``cluster-id``), ``logs/``.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from botbill.deploy._config import HOST, StackConfig
from botbill.deploy._process import Daemon, port_open
from botbill.deploy.exceptions import MissingTool, StackError

__all__ = ["Kafka"]

log = logging.getLogger("botbill.stack")

POM = Path(__file__).parent / "kafka" / "pom.xml"
_MVN_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _kafka_version() -> str:
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", _MVN_NS)
    if node is None or not (node.text or "").strip():
        raise StackError(f"{POM} has no <kafka.version> property")
    return node.text.strip()


def _properties(values: dict[str, object]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


class Kafka:
    """The broker+controller process; ``prepare`` is idempotent and cheap after the first run."""

    name = "kafka"

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        root = cfg.kafka_dir
        self.libs = root / "libs"
        self.server_properties = root / "config" / "server.properties"
        self.log4j_properties = root / "config" / "log4j.properties"
        self.data = root / "data"
        self.logs = root / "logs"
        self.cluster_id_file = root / "cluster-id"
        self.daemon = Daemon(
            name=self.name,
            pid_file=root / "kafka.pid",
            log_file=self.logs / "stdout.log",
            marker=str(self.server_properties),
        )

    @property
    def ports(self) -> dict[str, int]:
        return {"broker": self.cfg.kafka_port, "controller": self.cfg.kafka_controller_port}

    @property
    def address(self) -> str:
        return f"{HOST}:{self.cfg.kafka_port} (controller {HOST}:{self.cfg.kafka_controller_port})"

    @property
    def log_files(self) -> list[Path]:
        return [self.logs / "server.log", self.daemon.log_file]

    def prepare(self) -> None:
        for tool, hint in (
            ("java", "install a JDK 17, e.g. `apt-get install -y openjdk-17-jre-headless`"),
            ("mvn", "install Maven, e.g. `apt-get install -y maven`"),
        ):
            if shutil.which(tool) is None:
                raise MissingTool(tool, hint)
        self._fetch_jars()
        self._write_config()
        self._format()

    def command(self) -> list[str]:
        heap = os.environ.get("BOTBILL_KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m").split()
        return [
            "java",
            *heap,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            "-Djava.net.preferIPv4Stack=true",
            *self._jvm_logging(),
            "-cp",
            f"{self.libs}/*",
            "kafka.Kafka",
            str(self.server_properties),
        ]

    def answers(self) -> bool:
        """True when the broker serves metadata (a TCP accept alone is not enough in KRaft)."""
        if not port_open(self.cfg.kafka_port):
            return False
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.cfg.kafka_bootstrap, "log_level": 0})
        try:
            return bool(admin.list_topics(timeout=3).brokers)
        except KafkaException:
            return False

    def _jvm_logging(self) -> list[str]:
        return [
            f"-Dlog4j.configuration=file:{self.log4j_properties}",
            f"-Dkafka.logs.dir={self.logs}",
        ]

    def _fetch_jars(self) -> None:
        version = _kafka_version()
        if (self.libs / f"kafka_2.13-{version}.jar").exists():
            return
        partial = self.libs.with_name("libs.partial")
        shutil.rmtree(partial, ignore_errors=True)
        log.info("fetching Kafka %s jars with Maven into %s", version, self.libs)
        done = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={partial}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise StackError(
                f"kafka: Maven could not fetch the jars (exit {done.returncode}); check that "
                f"Maven Central is reachable (proxy settings in ~/.m2/settings.xml):\n{output}"
            )
        shutil.rmtree(self.libs, ignore_errors=True)
        partial.rename(self.libs)

    def _write_config(self) -> None:
        cfg = self.cfg
        self.server_properties.parent.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        server = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@{HOST}:{cfg.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{cfg.kafka_port},"
            f"CONTROLLER://{HOST}:{cfg.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{cfg.kafka_port}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": self.data,
            "num.partitions": 1,
            "default.replication.factor": 1,
            "min.insync.replicas": 1,
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 16,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            # Topics come from `botbill topics create` (and Faust's admin calls for its
            # changelogs); a typo must fail instead of creating a 1-partition topic that
            # breaks co-partitioning.
            "auto.create.topics.enable": "false",
            "delete.topic.enable": "true",
            "log.retention.hours": 168,
            "log.segment.bytes": 256 * 1024 * 1024,
            "log.retention.check.interval.ms": 300000,
            "num.network.threads": 3,
            "num.io.threads": 4,
            "num.recovery.threads.per.data.dir": 1,
        }
        self.server_properties.write_text(
            "# Written by `botbill stack up`; edits are overwritten on the next start.\n"
            + _properties(server)
        )
        log4j = {
            "log4j.rootLogger": "INFO, stdout, file",
            "log4j.appender.stdout": "org.apache.log4j.ConsoleAppender",
            "log4j.appender.stdout.Threshold": "WARN",
            "log4j.appender.stdout.layout": "org.apache.log4j.PatternLayout",
            "log4j.appender.stdout.layout.ConversionPattern": "[%d] %p %m (%c)%n",
            "log4j.appender.file": "org.apache.log4j.RollingFileAppender",
            "log4j.appender.file.File": self.logs / "server.log",
            "log4j.appender.file.MaxFileSize": "50MB",
            "log4j.appender.file.MaxBackupIndex": 3,
            "log4j.appender.file.layout": "org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern": "[%d] %p %m (%c)%n",
            "log4j.logger.kafka": "INFO",
            "log4j.logger.org.apache.kafka": "INFO",
            "log4j.logger.kafka.request.logger": "WARN",
            "log4j.logger.kafka.log.LogCleaner": "WARN",
            "log4j.logger.state.change.logger": "WARN",
            "log4j.logger.org.apache.kafka.storage.internals.log": "WARN",
        }
        self.log4j_properties.write_text(_properties(log4j))

    def _cluster_id(self) -> str:
        if self.cluster_id_file.exists():
            return self.cluster_id_file.read_text().strip()
        cluster_id = "-"
        while cluster_id.startswith("-"):  # as Kafka's own Uuid.randomUuid: never an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self.cluster_id_file.write_text(cluster_id + "\n")
        return cluster_id

    def _format(self) -> None:
        """Format the KRaft storage once; a formatted ``data/`` is left alone."""
        if (self.data / "meta.properties").exists():
            return
        log.info("formatting Kafka KRaft storage in %s", self.data)
        done = subprocess.run(
            [
                "java",
                *self._jvm_logging(),
                "-cp",
                f"{self.libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                f"--cluster-id={self._cluster_id()}",  # one argument even if it starts with "-"
                "-c",
                str(self.server_properties),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(
                f"kafka: formatting {self.data} failed (exit {done.returncode}); if the folder "
                f"holds data from another cluster, remove {self.cfg.kafka_dir} and retry:\n"
                f"{done.stdout}{done.stderr}"
            )
