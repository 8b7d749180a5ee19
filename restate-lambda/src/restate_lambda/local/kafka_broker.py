"""Run a real single-node Apache Kafka broker (KRaft mode) without Docker.

Docker is not needed, nor an Apache download mirror, only Maven Central, which carries every jar of
the broker: :func:`ensure_kafka_jars` resolves them with ``mvn`` (see ``kafka/pom.xml`` beside this
module) into a cache outside the project (:func:`default_jars_dir`), and :class:`KafkaBroker`
starts ``kafka.Kafka`` with plain ``java``. The release's ``bin/*.sh`` wrappers are therefore
missing, so this module does their job: it writes ``server.properties`` and a log4j2 config, formats
the KRaft storage and supervises the JVM.

The broker is broker and controller at once, bound to 127.0.0.1, with every replication factor 1,
so that one node is a complete, working cluster. :func:`produce` and :func:`ensure_topics` are the
clients a test needs: records in, topics created before a subscription reads them.
"""

from __future__ import annotations

import atexit
import base64
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from restate_lambda.local.processes import log_text, port_is_open, start_guarded, stop_process

logger = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.1"
"""Kafka 4 needs Java 17+ and has no ZooKeeper mode left: KRaft is what a single node wants anyway."""
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
JVM_OPTIONS = (
    # Kafka's scripts default to a 1 GiB heap; a dev broker needs far less, and tests may run several.
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    # C1 only: about 0.5 s faster to start on two cores, and less JIT work competing with the tests.
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)
NODE_ID = 1
ERROR_RECORD = re.compile(r"^\[[^\]]*\] (?:ERROR|FATAL) ")
"""A record at ERROR or FATAL, in the layout :meth:`KafkaBroker._write_configs` gives the log."""


def default_jars_dir() -> Path:
    """Where the jars are kept between runs: ``kafka-jars`` in ``$RESTATE_LAMBDA_CACHE``, else in the user's
    cache folder (``$XDG_CACHE_HOME/restate-lambda``), as the bundling's wheel cache; never the project."""
    explicit = os.environ.get("RESTATE_LAMBDA_CACHE")
    base = (
        Path(explicit)
        if explicit
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "restate-lambda"
    )
    return base / "kafka-jars"


def kafka_jar_name(version: str) -> str:
    return f"kafka_2.13-{version}.jar"


def ensure_kafka_jars(cache_dir: Path | None = None) -> Path:
    """A folder with every jar the broker needs, ``cache_dir/kafka-<KAFKA_VERSION>/``, fetched on first use.

    Maven fills a temporary sibling that is renamed into place only once complete: an interrupted
    download never leaves a folder a later call would take for a good one, and concurrent callers
    race harmlessly (the loser drops its copy).
    """
    # Absolute: Maven resolves a relative outputDirectory against the pom's folder, not ours.
    cache_dir = (cache_dir or default_jars_dir()).resolve()
    target = cache_dir / f"kafka-{KAFKA_VERSION}"
    marker = kafka_jar_name(KAFKA_VERSION)
    if (target / marker).is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven ('mvn') is needed to fetch the Kafka jars but is not on PATH")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".kafka-{KAFKA_VERSION}-", dir=cache_dir))
    try:
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-DoutputDirectory={staging}",
        ]
        logger.info("Fetching the Kafka %s jars into %s", KAFKA_VERSION, target)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (staging / marker).is_file():
            raise RuntimeError(
                f"fetching the Kafka jars failed (exit {result.returncode}): {' '.join(command)}\n"
                f"{result.stdout}{result.stderr}"
            )
        if (target / marker).is_file():
            return target  # a concurrent caller finished first
        if target.exists():
            # Not from this function, which never leaves a partial folder: replace it with the good copy.
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            if not (target / marker).is_file():  # else another process won the race with as good a copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def java_executable() -> str:
    """``java`` from ``JAVA_HOME`` if set, as Kafka's scripts look for it, else from ``PATH``."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("no 'java' on PATH and JAVA_HOME is not set; Kafka 4 needs Java 17+")
    return found


def new_cluster_id() -> str:
    """A cluster id as ``kafka-storage random-uuid`` makes one (a URL-safe base64 UUID), without a JVM start.

    An id starting with ``-`` would be taken for an option on the command line, so Kafka avoids it too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker:
    """A single-node Kafka broker and controller in a child JVM.

    Everything it keeps lives under ``data_dir``, so :meth:`restart` keeps topics and records. The
    JVM runs in its own process group: a Ctrl-C meant for the harness does not kill it behind the
    harness's back, and :meth:`stop` stops the whole group. Its output and log4j's go to ``log_file``.
    """

    def __init__(self, data_dir: Path, port: int, controller_port: int, log_file: Path, jars_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.controller_port = controller_port
        self.log_file = log_file.resolve()
        self.jars_dir = jars_dir.resolve()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0
        """Where this run's output starts in the appended-to log, so that errors show this run's lines."""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def _config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def _log4j_file(self) -> Path:
        return self.data_dir / "log4j2.properties"

    @property
    def _kafka_log_dir(self) -> Path:
        # Kafka's "log dirs" hold the partitions and the KRaft metadata log, not text logs.
        return self.data_dir / "kraft-combined-logs"

    def start(self, timeout: float = 90) -> None:
        """Start the broker and return once it serves metadata requests.

        The storage is formatted on the first start of a ``data_dir`` only, so data survives restarts.
        A JVM that exits or is not ready within ``timeout`` is stopped, and the error carries this
        run's log.
        """
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"Kafka broker on {self.bootstrap} is already running")
        jar = self.jars_dir / kafka_jar_name(KAFKA_VERSION)
        if not jar.is_file():
            raise FileNotFoundError(f"{jar} not found; call ensure_kafka_jars() first")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._write_configs()
        self._log = self.log_file.open("ab")
        self._log_offset = self._log.tell()
        try:
            if not (self._kafka_log_dir / "meta.properties").is_file():
                self._format_storage()
            self.process = start_guarded(
                [*self._java_command(), "kafka.Kafka", str(self._config_file)], log=self._log, cwd=self.data_dir
            )
        except BaseException:
            self._close_log()
            raise
        # In its own session the JVM gets no signal from the terminal: a forgotten one would outlive us.
        atexit.register(self.stop)
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        logger.info("Kafka %s broker ready on %s", KAFKA_VERSION, self.bootstrap)

    def stop(self, timeout: float = 30) -> None:
        """Stop the broker; safe to call again. Kafka shuts down cleanly on SIGTERM, which keeps the next start fast."""
        atexit.unregister(self.stop)
        try:
            if self.process is not None:
                stop_process(self.process, timeout)
        finally:
            self.process = None
            self._close_log()

    def restart(self, timeout: float = 90) -> None:
        """Stop and start again on the same ``data_dir`` and ports."""
        self.stop()
        self.start(timeout=timeout)

    def _java_command(self) -> list[str]:
        return [
            java_executable(),
            *JVM_OPTIONS,
            # Without its config log4j2 logs errors only, to the console: the broker log would be nearly empty.
            f"-Dlog4j2.configurationFile={self._log4j_file}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            "-cp",
            # The JVM expands "dir/*" itself; no shell is involved.
            f"{self.jars_dir}/*",
        ]

    def _write_configs(self) -> None:
        """Write server.properties and log4j2.properties on every start, so that a ``data_dir`` follows changes here.

        Nothing port-specific needs to survive in the data directory: an existing one starts on other
        ports too (the single voter registers its endpoint again).
        """
        listeners = f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            # A dynamic quorum (KIP-853): what `format --standalone` needs instead of controller.quorum.voters.
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": listeners,
            "advertised.listeners": listeners,
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": self._kafka_log_dir.as_posix(),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            # Internal topics default to 3 replicas, which one node never has: consumer groups and
            # transactions would hang forever.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # The 3 s wait before a group's first rebalance only slows the tests down.
            "group.initial.rebalance.delay.ms": "0",
        }
        generated = "# Generated by restate_lambda.local.kafka_broker on every start.\n"
        self._config_file.write_text(
            generated + "".join(f"{key}={value}\n" for key, value in settings.items()), encoding="utf-8"
        )
        # To the console, i.e. the JVM's stdout, which is the log file: log4j's lines, JVM crashes and
        # uncaught exceptions end up in one file with one writer.
        self._log4j_file.write_text(
            generated + "status = warn\n"
            # log4j2's own shutdown hook would stop logging while Kafka's still runs, losing its last lines.
            "shutdownHook = disable\n"
            "appender.out.type = Console\n"
            "appender.out.name = STDOUT\n"
            "appender.out.layout.type = PatternLayout\n"
            "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.out.ref = STDOUT\n"
            # Per-request and state-change lines would drown everything else in a single log.
            "logger.request.name = kafka.request.logger\n"
            "logger.request.level = WARN\n"
            "logger.statechange.name = state.change.logger\n"
            "logger.statechange.level = WARN\n",
            encoding="utf-8",
        )

    def _format_storage(self) -> None:
        """Initialise the KRaft metadata log, as ``kafka-storage.sh format`` does."""
        command = [
            *self._java_command(),
            "kafka.tools.StorageTool",
            "format",
            "--config",
            str(self._config_file),
            "--cluster-id",
            new_cluster_id(),
            "--standalone",
        ]
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"formatting Kafka storage in {self._kafka_log_dir} failed (exit {result.returncode}):\n"
                f"{self._this_run_s_log()}"
            )

    def _wait_until_ready(self, timeout: float) -> None:
        """Return once the broker answers a metadata request that lists it.

        An open port is not enough: the listener accepts connections before the broker has joined the
        quorum and been unfenced. The port comes first all the same, so that librdkafka does not log
        "connection refused" meanwhile.
        """
        deadline = time.monotonic() + timeout
        admin: AdminClient | None = None
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Kafka broker exited with code {self.process.returncode} during startup:\n{self._this_run_s_log()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"Kafka broker on {self.bootstrap} not ready after {timeout} s:\n{self._this_run_s_log()}"
                )
            if admin is None and port_is_open(self.port):
                admin = AdminClient(
                    {"bootstrap.servers": self.bootstrap}, logger=logging.getLogger(f"{__name__}.librdkafka")
                )
            if admin is not None:
                try:
                    if NODE_ID in admin.list_topics(timeout=min(2.0, max(remaining, 0.1))).brokers:
                        return
                except KafkaException:
                    pass
            time.sleep(0.1)

    def _this_run_s_log(self, error_records: int = 5, last_lines: int = 40) -> str:
        """This run's log for an error message: its first errors, then its last lines.

        After a fatal start-up error Kafka logs a long, orderly shutdown, so the last lines alone rarely
        show the cause ("Address already in use"); each error record comes with the line after it,
        usually the exception.
        """
        lines = log_text(self.log_file, start=self._log_offset).splitlines()
        errors: list[str] = []
        for index, line in enumerate(lines):
            if len(errors) >= 2 * error_records:
                break
            if ERROR_RECORD.match(line):
                errors.extend(lines[index : index + 2])
        parts = [f"--- first errors in {self.log_file} ---", *errors] if errors else []
        return "\n".join([*parts, f"--- last lines of {self.log_file} ---", *lines[-last_lines:]])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def produce(bootstrap: str, topic: str, records: Iterable[tuple[str, str]], timeout: float = 30.0) -> int:
    """Send ``(key, value)`` records in order and wait until the broker acknowledged all of them."""
    failures: list[str] = []

    def on_delivery(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    # Idempotent producer: a retry after a broker hiccup cannot duplicate or reorder records.
    # log_level 3: errors only; a broker that is still loading its coordinator is retried, not news.
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5, "log_level": 3})
    count = 0
    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=on_delivery)
        producer.poll(0)
        count += 1
    remaining = producer.flush(timeout)
    if remaining or failures:
        raise RuntimeError(f"{remaining} records not acknowledged, errors: {failures[:3]}")
    return count


def ensure_topics(bootstrap: str, topics: Iterable[str], timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet, with one partition each (one broker; order per key is kept).

    Subscriptions made before their topic exists would only notice it at the consumer's next
    metadata refresh; creating the topics first makes a fresh subscription start at once.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [NewTopic(topic, num_partitions=1, replication_factor=1) for topic in topics if topic not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except Exception as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise RuntimeError(f"could not create topic {topic}: {error}") from error
