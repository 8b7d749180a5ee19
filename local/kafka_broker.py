"""Run a real single-node Apache Kafka broker (KRaft mode) without Docker.

Why this exists: tests and local development need a genuine Kafka broker, but
the environments we run in have no Docker and cannot reach the Apache download
mirrors -- only Maven Central.  Maven Central does carry every jar of the
broker, so we resolve them with ``mvn`` (see ``local/kafka/pom.xml``) and start
``kafka.Kafka`` with plain ``java``.  The release tarball's ``bin/*.sh``
wrappers are therefore not available, which is why this module does their job:
it writes ``server.properties`` and a log4j2 config, formats the KRaft storage
and supervises the JVM.

The broker runs as a combined broker+controller (``process.roles=broker,
controller``) bound to 127.0.0.1 only, with every replication factor set to 1
so that a single node is a complete, working cluster.

Command line use::

    python -m local.kafka_broker --port 9092 --controller-port 9093 --dir /tmp/kafka
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Final, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

__all__ = ["KAFKA_VERSION", "KafkaBroker", "ensure_kafka_jars", "main"]

_log = logging.getLogger(__name__)

#: Kafka release whose jars are fetched from Maven Central.  4.1.1 is pinned
#: because Kafka 4.x brokers need Java 17+ (our default JDK) and dropped
#: ZooKeeper, so KRaft is the only mode -- which is what we want anyway.
KAFKA_VERSION: Final = "4.1.1"

#: The pom lives next to this module so that the module works regardless of
#: the caller's working directory.
_POM: Final = Path(__file__).resolve().parent / "kafka" / "pom.xml"

#: Kafka's own scripts default to a 1 GiB heap; a test broker needs far less
#: and several may run in parallel on one machine.
_JVM_OPTS: Final = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    # C1 only: measured ~0.5 s faster start-up on a 2-core machine and less
    # JIT CPU competing with the tests; a dev broker never needs C2's peak
    # throughput.
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

_NODE_ID: Final = 1

#: Lines of the broker log to include in exceptions, so that a failed start
#: explains itself without anyone having to go and find the log file.
_LOG_TAIL_LINES: Final = 40
_LOG_ERROR_RECORDS: Final = 5
#: Matches the PatternLayout written by KafkaBroker ("[date] LEVEL message").
_ERROR_RECORD: Final = re.compile(r"^\[[^\]]*\] (?:ERROR|FATAL) ")


def _kafka_jar_name(version: str) -> str:
    return f"kafka_2.13-{version}.jar"


def ensure_kafka_jars(cache_dir: Path) -> Path:
    """Return a directory holding every jar the broker needs, fetching if needed.

    The jars go to ``cache_dir/kafka-<KAFKA_VERSION>/``.  When that directory
    already contains the broker jar nothing is run, so calling this on every
    test session costs a single ``stat``.

    Maven writes into a temporary sibling directory that is renamed into place
    only after it succeeded: an interrupted download can then never leave a
    half-filled directory that later calls would mistake for a complete one,
    and concurrent callers race harmlessly (the loser discards its copy).
    """
    # Absolute: Maven resolves a relative outputDirectory against the pom's folder, not ours.
    cache_dir = cache_dir.resolve()
    target = cache_dir / f"kafka-{KAFKA_VERSION}"
    marker = _kafka_jar_name(KAFKA_VERSION)
    if (target / marker).is_file():
        return target

    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven ('mvn') is needed to fetch the Kafka jars but is not on PATH")

    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".kafka-{KAFKA_VERSION}-", dir=cache_dir))
    try:
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(_POM),
            "dependency:copy-dependencies",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-DoutputDirectory={staging}",
        ]
        _log.info("fetching Kafka %s jars into %s", KAFKA_VERSION, target)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not (staging / marker).is_file():
            raise RuntimeError(
                f"fetching Kafka jars failed (exit {result.returncode}): {' '.join(cmd)}\n"
                f"{result.stdout}{result.stderr}"
            )
        if (target / marker).is_file():
            # A concurrent caller finished first; keep its copy.
            return target
        if target.exists():
            # Left over from something other than this function (we never
            # leave partial directories); replace it with the good copy.
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            # Another process won the race; its copy is just as good.
            if not (target / marker).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _java() -> str:
    """Locate ``java``, honouring JAVA_HOME the way Kafka's scripts do."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("no 'java' on PATH and JAVA_HOME is not set; Kafka 4 needs Java 17+")
    return found


def _new_cluster_id() -> str:
    """Generate a cluster id in Kafka's format (22 char URL-safe base64 UUID).

    Doing it here saves a JVM launch (``kafka-storage random-uuid``).  Ids that
    start with ``-`` are avoided -- as Kafka itself does -- because command
    line parsers would take them for an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


class KafkaBroker:
    """A single-node Kafka broker+controller running in a child JVM.

    Everything the broker persists lives under ``data_dir``, so stopping and
    starting again (``restart()``) keeps topics and messages.  The JVM runs in
    its own session/process group: a Ctrl-C meant for the Python process then
    does not kill the broker behind our back, and ``stop()`` can signal the
    whole group.  The broker's stdout/stderr and log4j output go to
    ``log_file``.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        controller_port: int,
        log_file: Path,
        jars_dir: Path,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.controller_port = controller_port
        self.log_file = log_file.resolve()
        self.jars_dir = jars_dir.resolve()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None
        # Where this run's output starts in the (appended-to) log file, so
        # error messages show this run's tail, not a previous run's.
        self._log_offset = 0

    # -- paths -----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value for clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker JVM started by this object is still alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def _config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def _log4j_file(self) -> Path:
        return self.data_dir / "log4j2.properties"

    @property
    def _kafka_log_dir(self) -> Path:
        # Kafka calls its data directories "log dirs"; they hold the topic
        # partitions and the KRaft metadata log, not text logs.
        return self.data_dir / "kraft-combined-logs"

    # -- lifecycle -------------------------------------------------------------

    def start(self, timeout: float = 90) -> None:
        """Start the broker and block until it serves metadata requests.

        Storage is formatted only on the first start of a ``data_dir``;
        later starts reuse it, so data survives restarts.  Raises
        ``RuntimeError`` if the JVM exits and ``TimeoutError`` if it does not
        become ready within ``timeout`` seconds; in both cases the JVM is
        stopped and the tail of the broker log is part of the message.
        """
        if self.running:
            raise RuntimeError(f"Kafka broker on {self.bootstrap} is already running")
        jar = self.jars_dir / _kafka_jar_name(KAFKA_VERSION)
        if not jar.is_file():
            raise FileNotFoundError(f"{jar} not found; call ensure_kafka_jars() first")

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._write_configs()

        self._log_fh = self.log_file.open("ab")
        self._log_offset = self._log_fh.tell()
        try:
            if not (self._kafka_log_dir / "meta.properties").is_file():
                self._format_storage()
            self._proc = subprocess.Popen(
                [*self._java_cmd(), "kafka.Kafka", str(self._config_file)],
                stdin=subprocess.DEVNULL,
                stdout=self._log_fh,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        except BaseException:
            self._close_log()
            raise
        # A forgotten broker would outlive the interpreter (it is in its own
        # session, so it does not get the terminal's signals either).
        atexit.register(self.stop)
        try:
            self._wait_ready(time.monotonic() + timeout, timeout)
        except BaseException:
            self.stop()
            raise
        _log.info("Kafka %s broker ready on %s", KAFKA_VERSION, self.bootstrap)

    def stop(self, timeout: float = 30) -> None:
        """Stop the broker: SIGTERM, wait ``timeout`` s, then SIGKILL.

        SIGTERM makes Kafka shut down cleanly (flushing logs and writing
        clean-shutdown markers), which keeps the next start fast.  Safe to call
        any number of times, including when the broker never started.
        """
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _log.warning("Kafka broker did not stop within %ss; killing it", timeout)
                    self._signal_group(proc, signal.SIGKILL)
                    proc.wait()
        finally:
            self._close_log()

    def restart(self, timeout: float = 90) -> None:
        """Stop and start again on the same ``data_dir`` and ports."""
        self.stop()
        self.start(timeout=timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------

    def _java_cmd(self) -> list[str]:
        return [
            _java(),
            *_JVM_OPTS,
            # Point log4j2 at our config; without it log4j2 falls back to
            # "errors only to the console" and the broker log is nearly empty.
            f"-Dlog4j2.configurationFile={self._log4j_file}",
            # Referenced by Kafka's stock log4j configs; set for consistency.
            f"-Dkafka.logs.dir={self.log_file.parent}",
            "-cp",
            # The JVM expands "dir/*" itself (no shell involved).
            f"{self.jars_dir}/*",
        ]

    def _write_configs(self) -> None:
        """(Re)write server.properties and log4j2.properties on every start.

        Rewriting keeps a ``data_dir`` usable after this module changes its
        settings.  Nothing port-specific needs to survive in the data
        directory: with 4.1.1 an existing ``data_dir`` also starts fine on
        different client and controller ports (the single voter simply
        re-registers its endpoint).
        """
        listeners = f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(_NODE_ID),
            # Dynamic quorum (KIP-853); this is what `format --standalone`
            # requires instead of controller.quorum.voters.
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
            # Internal topics default to replication factor 3, which a single
            # node can never satisfy: consumer groups and transactions would
            # hang forever.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # The default 3 s delay before the first group rebalance only
            # slows tests down.
            "group.initial.rebalance.delay.ms": "0",
        }
        self._config_file.write_text(
            "# Generated by local/kafka_broker.py -- rewritten on every start.\n"
            + "".join(f"{key}={value}\n" for key, value in settings.items()),
            encoding="utf-8",
        )
        # Log to the console appender: the JVM's stdout is the log file, so
        # log4j output, JVM crash messages and uncaught exceptions all end up
        # in one file with a single writer.
        self._log4j_file.write_text(
            "# Generated by local/kafka_broker.py -- rewritten on every start.\n"
            "status = warn\n"
            # log4j2's own JVM shutdown hook would otherwise stop logging
            # while Kafka's shutdown hook is still running, silently losing
            # the shutdown messages.  Console output needs no final flush.
            "shutdownHook = disable\n"
            "appender.out.type = Console\n"
            "appender.out.name = STDOUT\n"
            "appender.out.layout.type = PatternLayout\n"
            "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.out.ref = STDOUT\n"
            # Per-request logging is far too chatty for a dev broker.
            "logger.request.name = kafka.request.logger\n"
            "logger.request.level = WARN\n"
            # Kafka's stock config sends these to a separate file; in a
            # single log they would drown everything else.
            "logger.statechange.name = state.change.logger\n"
            "logger.statechange.level = WARN\n",
            encoding="utf-8",
        )

    def _format_storage(self) -> None:
        """Initialise the KRaft metadata log (what ``kafka-storage.sh format`` does)."""
        assert self._log_fh is not None
        cmd = [
            *self._java_cmd(),
            "kafka.tools.StorageTool",
            "format",
            "--config",
            str(self._config_file),
            "--cluster-id",
            _new_cluster_id(),
            "--standalone",
        ]
        self._log_fh.flush()
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"formatting Kafka storage in {self._kafka_log_dir} failed "
                f"(exit {result.returncode}):\n{self._log_tail()}"
            )

    def _wait_ready(self, deadline: float, timeout: float) -> None:
        """Poll until the broker answers a metadata request listing itself.

        An open port alone is not enough: the listener accepts connections
        before the broker has joined the quorum and been unfenced.  We first
        wait for the port (cheap, and keeps librdkafka from logging
        "connection refused" noise), then require a metadata response that
        names our node.
        """
        admin: AdminClient | None = None
        while True:
            proc = self._proc
            assert proc is not None
            if proc.poll() is not None:
                raise RuntimeError(
                    f"Kafka broker exited with code {proc.returncode} during startup:\n{self._log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"Kafka broker on {self.bootstrap} not ready after {timeout}s:\n{self._log_tail()}")
            if admin is None and _port_accepts(self.port):
                admin = AdminClient(
                    {"bootstrap.servers": self.bootstrap},
                    logger=logging.getLogger(f"{__name__}.librdkafka"),
                )
            if admin is not None:
                try:
                    metadata = admin.list_topics(timeout=min(2.0, max(remaining, 0.1)))
                except KafkaException:
                    pass
                else:
                    if _NODE_ID in metadata.brokers:
                        return
            time.sleep(0.1)

    def _log_tail(self) -> str:
        """Summarise this run's log for an exception message.

        Kafka logs a long orderly shutdown after a fatal startup error, so the
        last lines alone rarely show the cause (e.g. "Address already in
        use"); the first ERROR/FATAL records, each with the line after it
        (usually the exception), are therefore listed before the tail.
        """
        if self._log_fh is not None:
            self._log_fh.flush()
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(self._log_offset)
                data = fh.read()
        except OSError as exc:
            return f"<cannot read {self.log_file}: {exc}>"
        lines = data.decode("utf-8", errors="replace").splitlines()
        errors: list[str] = []
        for index, line in enumerate(lines):
            if len(errors) >= 2 * _LOG_ERROR_RECORDS:
                break
            if _ERROR_RECORD.match(line):
                errors.extend(lines[index : index + 2])
        parts = []
        if errors:
            parts += [f"--- first errors in {self.log_file} ---", *errors]
        parts += [f"--- last lines of {self.log_file} ---", *lines[-_LOG_TAIL_LINES:]]
        return "\n".join(parts)

    def _close_log(self) -> None:
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # start_new_session=True made the JVM a session (and group) leader, so
        # its pid is the process group id.  Only called before the JVM has
        # been reaped: until then its pid -- and so the group id -- cannot be
        # reused by an unrelated process.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


def main(argv: list[str] | None = None) -> int:
    """Run a broker in the foreground until SIGINT/SIGTERM, then stop it cleanly."""
    parser = argparse.ArgumentParser(
        prog="python -m local.kafka_broker",
        description=f"Run a single-node Apache Kafka {KAFKA_VERSION} broker (KRaft) locally.",
    )
    parser.add_argument("--port", type=int, default=9092, help="client listener port")
    parser.add_argument("--controller-port", type=int, default=9093, help="KRaft controller port")
    parser.add_argument("--dir", type=Path, required=True, help="data directory (kept across runs)")
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="broker log (default: <dir>/broker.log)",
    )
    parser.add_argument(
        "--jars-cache",
        type=Path,
        default=Path.home() / ".cache" / "local-kafka",
        help="where the Kafka jars are cached (default: %(default)s)",
    )
    parser.add_argument("--timeout", type=float, default=90, help="startup timeout in seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    # Handlers only set a flag: raising out of a signal handler could
    # interrupt start() between spawning the JVM and recording it.
    stop_requested = threading.Event()

    def _request_stop(signum: int, _frame: FrameType | None) -> None:
        _log.info("received %s, stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)

    jars = ensure_kafka_jars(args.jars_cache)
    log_file = args.log_file if args.log_file is not None else args.dir / "broker.log"
    broker = KafkaBroker(args.dir, args.port, args.controller_port, log_file, jars)
    try:
        started = time.monotonic()
        broker.start(timeout=args.timeout)
        _log.info(
            "bootstrap.servers=%s (ready in %.1fs, log: %s); Ctrl-C to stop",
            broker.bootstrap,
            time.monotonic() - started,
            broker.log_file,
        )
        while not stop_requested.wait(1.0):
            if not broker.running:
                _log.error("Kafka broker exited unexpectedly; see %s", broker.log_file)
                return 1
    finally:
        broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
