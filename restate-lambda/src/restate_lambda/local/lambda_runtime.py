r"""A local AWS Lambda: the Invoke API on 127.0.0.1, backed by worker processes.

restate-server, pointed here with ``AWS_ENDPOINT_URL_LAMBDA``, calls
``POST /2015-03-31/functions/<qualified ARN>/invocations`` exactly as it calls AWS, and the real
handler modules answer. What behaves like Lambda, because the patterns depend on it:

* every function runs in its own processes (execution environments) with the Lambda environment
  variables set before the handler module is imported; one event at a time per process; new
  processes start on demand up to the function's concurrency limit, beyond which callers get
  ``429 TooManyRequestsException``;
* the payload limits of a synchronous invoke: a request over 6 MB is refused with
  ``413 RequestEntityTooLargeException`` before the function runs, and an answer over 6 MB
  becomes the ``Function.ResponseSizeTooLarge`` function error instead of reaching the caller;
  timeouts and memory sizes outside Lambda's range are refused when a function is defined;
* the timeout is enforced: the process is killed and replaced and the caller gets Lambda's error
  shape (``X-Amz-Function-Error`` header, ``errorMessage`` / ``errorType`` body); an exception or a
  crash in the handler is reported the same way; an unknown function gets a 404
  ``ResourceNotFoundException``;
* each function's output goes to ``<log dir>/<function>.log`` with START/END/REPORT lines, the
  REPORT line in Lambda's format (billed duration, memory size, peak memory, and the init duration
  on an execution environment's first invocation), which `make bench` reads for invocations and cost;
* versions: :meth:`LocalLambdaRuntime.publish_version` gives a function numbered versions of their
  own code and settings, and :meth:`LocalLambdaRuntime.delete_function` deletes them all, so that
  the next version is 1 again: the ARN reuse a deleted and re-created function shows on AWS (tests
  of a deploy lifecycle rely on it). A function given at start serves every other qualifier with
  its one code, so that a stack kept across restarts can name its code by a qualifier of its own.

::

    restate-server --POST /2015-03-31/functions/arn:...:function:greeter:1/invocations--+
                                                                                          |
    LocalLambdaRuntime (threads) -- FunctionPool[greeter:1] -- worker process (idle/busy) <-+
                                                           \- worker process ...
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from restate_lambda.local.lambda_worker import HEADER
from restate_lambda.local.loopback_http import KeepAliveNoDelayHandler, LoopbackHttpServer

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"
INIT_TIMEOUT_SECONDS = 10.0
"""Lambda gives a function's init phase 10 s, separately from the invocation timeout."""
MAX_REQUEST_BYTES = 6_291_456
"""What Lambda accepts as a synchronous invoke's request payload (6 MB)."""
MAX_RESPONSE_BYTES = 6_291_556
"""What Lambda returns as a synchronous invoke's response payload (its error message names this figure)."""
MAX_TIMEOUT_SECONDS = 900
MEMORY_RANGE_MB = (128, 10_240)
WORKER_FILE = Path(__file__).resolve().parent / "lambda_worker.py"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    """``module.attribute`` (or ``module:attribute``), importable from ``code_root``."""
    timeout_seconds: float = 60.0
    memory_mb: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)
    max_concurrency: int = 10
    code_root: Path = field(default_factory=Path.cwd)
    """The function's code, like /var/task: a project's folder, or an unpacked deployment bundle."""
    description: str = ""
    """Part of the function's configuration, as on Lambda: a new one lets the same code be published again."""
    python: str | None = None
    """The execution environment's interpreter, like Lambda's runtime (``python3.13``): None for this one.

    Given, only ``code_root`` is on the worker's ``PYTHONPATH``: the function imports what its bundle
    holds and nothing of the project's. Else this interpreter's packages are there too.
    """

    def __post_init__(self) -> None:
        # Lambda refuses such a function when it is created: locally it must not quietly work.
        if not 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(
                f"{self.name}: a Lambda timeout is 1 to {MAX_TIMEOUT_SECONDS} s, not {self.timeout_seconds}"
            )
        low, high = MEMORY_RANGE_MB
        if not low <= self.memory_mb <= high:
            raise ValueError(f"{self.name}: Lambda memory is {low} to {high} MB, not {self.memory_mb}")


class VersionExists(Exception):
    """Publishing a version whose code and configuration the latest version already has."""


@dataclass
class InvokeResult:
    status: int
    body: dict[str, Any] | list[Any] | str | int | float | bool | None
    headers: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def payload(self) -> bytes:
        """The body as the Invoke API sends it: encoded once, both to check its size and to answer."""
        return json.dumps(self.body).encode()


def function_error(request_id: str, error: dict[str, Any]) -> InvokeResult:
    """Lambda reports function errors with HTTP 200 and the ``X-Amz-Function-Error`` header."""
    return InvokeResult(
        status=200,
        body={**error, "requestId": request_id},
        headers={"X-Amz-Function-Error": "Unhandled"},
    )


def payload_too_large(request_id: str, size: int) -> InvokeResult:
    return function_error(
        request_id,
        {
            "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
            f"({MAX_RESPONSE_BYTES} bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        },
    )


def service_error(status: int, error_type: str, message: str) -> InvokeResult:
    return InvokeResult(
        status=status,
        body={"Type": "User", "message": message},
        headers={"x-amzn-ErrorType": error_type},
    )


def billed_duration_ms(duration_ms: float, init_ms: float | None = None) -> int:
    """Lambda bills every started millisecond, and since August 2025 a cold start's init phase too."""
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


def report_line(
    request_id: str, duration_ms: float, memory_mb: int, max_memory_used_mb: int, init_ms: float | None = None
) -> str:
    """Lambda's REPORT line; ``Init Duration`` only on an execution environment's first invocation."""
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_duration_ms(duration_ms, init_ms)} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_ms is not None:
        fields.append(f"Init Duration: {init_ms:.2f} ms")
    return "\t".join(fields)


def peak_memory_mb(pid: int) -> int:
    """The process's peak resident set (Linux ``VmHWM``) in MB, as Lambda's "Max Memory Used"; 0 if unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return math.ceil(int(line.split()[1]) / 1024)
    return 0


class WorkerDied(Exception):
    pass


class WorkerTimedOut(Exception):
    pass


def invocation_context(spec: FunctionSpec, arn: str, version: str, request_id: str, pid: int) -> dict[str, Any]:
    """What the worker turns into the handler's ``context`` argument."""
    return {
        "function_name": spec.name,
        "function_version": version,
        "invoked_function_arn": arn,
        "memory_limit_in_mb": spec.memory_mb,
        "aws_request_id": request_id,
        "log_group_name": f"/aws/lambda/{spec.name}",
        "log_stream_name": f"local/{pid}",
        "deadline_ms": int(time.time() * 1000 + spec.timeout_seconds * 1000),
    }


def read_frames(data: bytes) -> list[dict[str, Any]]:
    """The whole frames in ``data``, a worker's output: the ready frame, then one answer per event."""
    frames = []
    while len(data) >= HEADER.size:
        (length,) = HEADER.unpack_from(data)
        end = HEADER.size + length
        if len(data) < end:
            break
        frames.append(json.loads(data[HEADER.size : end]))
        data = data[end:]
    return frames


@dataclass(frozen=True)
class SingleInvocation:
    """One execution environment's whole life: its init, one event, its exit."""

    reply: dict[str, Any]
    """The worker's answer: ``{"ok": <handler result>}``, or ``{"error": ...}`` for an init or handler error."""
    log: str
    """The worker's output: the function's log lines and whatever the launcher printed when it exited."""


def exit_description(returncode: int) -> str:
    """Lambda's words for an execution environment that ended with ``returncode`` (negative: a signal)."""
    if returncode < 0:
        return f"Runtime exited with error: signal: {signal.Signals(-returncode).name}"
    return f"Runtime exited with error: exit status {returncode}"


def worker_command(spec: FunctionSpec) -> list[str]:
    """The command of one execution environment of ``spec``."""
    # By its file, not as a module of this package: -P keeps the worker's own folder off sys.path, so
    # the function imports its code root and its packages only (the worker needs the standard library).
    return [spec.python or sys.executable, "-P", str(WORKER_FILE), spec.handler]


class Worker:
    """One execution environment: a ``lambda_worker.py`` process."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], log: IO[bytes]) -> None:
        self.started_at = time.monotonic()
        self.ready_at: float | None = None
        self.process = subprocess.Popen(
            worker_command(spec),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=dict(environment),
            cwd=spec.code_root,
            # Own process group: a Ctrl-C reaches the runtime, which then stops workers itself.
            start_new_session=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._to_worker = self.process.stdin
        self._from_worker = self.process.stdout.fileno()
        self._buffer = b""
        self.ready = False

    def wait_ready(self, timeout: float) -> dict[str, Any] | None:
        """None once the handler module is imported, else the init error to report."""
        message = self._read_frame(time.monotonic() + timeout)
        if "ready" in message:
            self.ready = True
            self.ready_at = float(message.get("at", time.monotonic()))
            return None
        error: dict[str, Any] = message["error"]
        return error

    def invoke(self, event: Any, context: dict[str, Any], timeout: float) -> dict[str, Any]:
        payload = json.dumps({"event": event, "context": context}).encode()
        try:
            self._to_worker.write(HEADER.pack(len(payload)) + payload)
            self._to_worker.flush()
        except (BrokenPipeError, ValueError) as error:
            raise WorkerDied(self._exit_description()) from error
        return self._read_frame(time.monotonic() + timeout)

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimedOut()
            try:
                readable, _, _ = select.select([self._from_worker], [], [], remaining)
                if not readable:
                    raise WorkerTimedOut()
                chunk = os.read(self._from_worker, 1 << 16)
            except (OSError, ValueError) as error:  # the runtime closed it while stopping
                raise WorkerDied("Runtime stopped") from error
            if not chunk:
                raise WorkerDied(self._exit_description())
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _read_frame(self, deadline: float) -> dict[str, Any]:
        (length,) = HEADER.unpack(self._read_exactly(HEADER.size, deadline))
        message: dict[str, Any] = json.loads(self._read_exactly(length, deadline))
        return message

    def _exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "Runtime exited without providing a reason"
        return exit_description(code)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                # Closing flushes what was not written yet, into a pipe whose reader is dead.
                with contextlib.suppress(BrokenPipeError):
                    stream.close()


class FunctionPool:
    """The execution environments of one function; hands out an idle one or starts a new one."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], log_path: Path) -> None:
        self.spec = spec
        self.environment = environment
        self.log_path = log_path
        self._log = open(log_path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the pool
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._live: set[Worker] = set()
        self._busy = 0
        self._closed = False

    def log(self, line: str) -> None:
        # An invocation that ends while the pool closes (the harness stopping) has nowhere left to log.
        with contextlib.suppress(ValueError):
            self._log.write(f"{line}\n".encode())

    def _acquire(self) -> Worker | None:
        with self._lock:
            # Lambda never hands an invocation to an execution environment that died while idle.
            while self._idle and self._idle[-1].process.poll() is not None:
                dead = self._idle.pop()
                self._live.discard(dead)
                dead.kill()  # reaps it and closes its pipes
            if self._idle:
                self._busy += 1
                return self._idle.pop()
            if self._busy >= self.spec.max_concurrency or self._closed:
                return None
            self._busy += 1
        try:
            worker = self.start_worker()
        except Exception:
            with self._lock:
                self._busy -= 1
            raise
        with self._lock:
            self._live.add(worker)
        return worker

    def start_worker(self) -> Worker:
        """A new execution environment of this function (the caller owns it until it is pooled)."""
        return Worker(self.spec, self.environment, self._log)

    def prewarm(self) -> None:
        """Start one execution environment now, idle, so that the first invocation need not wait for its import.

        Its init phase still shows, in the REPORT line of its first invocation, as a cold start's does.
        """
        with self._lock:
            if self._closed or self._live:
                return
        worker = self.start_worker()
        with self._lock:
            if self._closed:
                closed = True
            else:
                closed = False
                self._live.add(worker)
                self._idle.append(worker)
        if closed:
            worker.kill()

    def live_workers(self) -> list[Worker]:
        with self._lock:
            return list(self._live)

    def kill_workers(self) -> int:
        """Kill every execution environment of this pool, busy or idle, as a crash would; how many there were.

        A busy one's caller gets Lambda's ``Runtime.ExitError``; the next invocation starts a new one.
        """
        workers = self.live_workers()
        for worker in workers:
            worker.process.kill()
        return len(workers)

    def _release(self, worker: Worker, healthy: bool) -> None:
        with self._lock:
            self._busy -= 1
            if healthy and not self._closed:
                self._idle.append(worker)
                return
            self._live.discard(worker)
        worker.kill()

    def invoke(self, event: Any, arn: str, version: str) -> InvokeResult:
        acquiring = time.monotonic()
        worker = self._acquire()
        if worker is None:
            return service_error(429, "TooManyRequestsException", "Rate Exceeded.")
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        init_ms: float | None = None
        self.log(f"START RequestId: {request_id} Version: {version}")
        healthy = False
        try:
            if not worker.ready:
                try:
                    init_error = worker.wait_ready(INIT_TIMEOUT_SECONDS)
                finally:
                    # Lambda reports the init phase apart from the invocation, from the process start on.
                    started = time.monotonic()
                    init_ms = ((worker.ready_at or started) - min(worker.started_at, acquiring)) * 1000
                if init_error is not None:
                    return function_error(request_id, init_error)
            context = invocation_context(self.spec, arn, version, request_id, worker.process.pid)
            reply = worker.invoke(event, context, self.spec.timeout_seconds)
            if "error" in reply:
                healthy = True  # like Lambda: an exception does not end the execution environment
                return function_error(request_id, reply["error"])
            healthy = True
            result = InvokeResult(status=200, body=reply["ok"])
            size = len(result.payload)
            if size > MAX_RESPONSE_BYTES:
                self.log(f"RequestId: {request_id} Error: response of {size} bytes is over Lambda's limit")
                return payload_too_large(request_id, size)
            return result
        except WorkerTimedOut:
            message = f"Task timed out after {self.spec.timeout_seconds:.2f} seconds"
            self.log(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {request_id} {message}")
            return function_error(
                request_id,
                {"errorMessage": f"RequestId: {request_id} Error: {message}", "errorType": "Sandbox.Timedout"},
            )
        except WorkerDied as died:
            self.log(f"RequestId: {request_id} Error: {died}")
            return function_error(
                request_id, {"errorMessage": f"RequestId: {request_id} Error: {died}", "errorType": "Runtime.ExitError"}
            )
        finally:
            # Read before the worker is released: a killed one has no memory figures left.
            max_memory_used_mb = peak_memory_mb(worker.process.pid)
            self._release(worker, healthy)
            elapsed_ms = (time.monotonic() - started) * 1000
            self.log(f"END RequestId: {request_id}")
            self.log(report_line(request_id, elapsed_ms, self.spec.memory_mb, max_memory_used_mb, init_ms))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            live, self._live, self._idle = self._live, set(), []
        # Busy workers too: nothing may outlive the runtime (their callers get a crash report).
        for worker in live:
            worker.kill()
        self._log.close()


def parse_function_reference(reference: str) -> tuple[str, str]:
    """(function name, qualifier) from a name, a partial ARN or a full, maybe qualified, ARN."""
    reference = unquote(reference)
    if reference.startswith("arn:"):
        parts = reference.split(":")
        # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        name = parts[6] if len(parts) > 6 else ""
        qualifier = parts[7] if len(parts) > 7 else "$LATEST"
        return name, qualifier
    name, _, qualifier = reference.partition(":")
    return name, qualifier or "$LATEST"


class LocalLambdaRuntime(LoopbackHttpServer):
    """Serves the Lambda Invoke API for ``functions`` on ``host:port`` (0 = a free port)."""

    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        log_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        base_environment: Mapping[str, str] | None = None,
    ) -> None:
        self.on_invoke: list[Callable[[str, Any], None]] = []
        """Called with each invocation's function reference and event before it runs (a bench records them)."""
        self.region = region
        self.account = account
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        base = dict(os.environ if base_environment is None else base_environment)
        self._base_environment = base
        self.pools = {
            spec.name: FunctionPool(spec, self._environment(spec, base), log_dir / f"{spec.name}.log")
            for spec in functions
        }
        self._versions: dict[str, dict[str, FunctionPool]] = {}
        """Published versions by function name, then by version number (as a string)."""
        self._versions_lock = threading.Lock()
        super().__init__(self._handler_class(), host=host, port=port, name="lambda-runtime")

    def _environment(self, spec: FunctionSpec, base: Mapping[str, str]) -> dict[str, str]:
        # The code root comes first so that a bundle's own packages win. Another interpreter's functions
        # see their code root alone, as on Lambda: this one's PYTHONPATH would be of no use to it.
        roots = [str(spec.code_root), *([base.get("PYTHONPATH", "")] if spec.python is None else [])]
        pythonpath = os.pathsep.join(dict.fromkeys(filter(None, roots)))
        return {
            **base,
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_seconds),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "LAMBDA_TASK_ROOT": str(spec.code_root),
            "PYTHONPATH": pythonpath,
            "PYTHONUNBUFFERED": "1",
        }

    def environment_of(self, spec: FunctionSpec) -> dict[str, str]:
        """The environment variables an execution environment of ``spec`` starts with."""
        return self._environment(spec, self._base_environment)

    def invoke_once(
        self, spec: FunctionSpec, event: Any, launcher: Sequence[str] = (), timeout_seconds: float | None = None
    ) -> SingleInvocation:
        """``event`` served by a new execution environment of ``spec`` that then exits, apart from any pool.

        For tools that watch a process from its start to its exit, as ``launcher``: the worker's command
        follows it (``["valgrind", "--tool=cachegrind"]``, ``["strace", "-c"]``). The environment is the
        one :meth:`publish_version` would give ``spec``; nothing is logged to the function's log.
        ``timeout_seconds`` (the function's timeout plus its init's by default) bounds the whole life,
        which a launcher may slow down many times over.
        """
        version = "1"
        arn = self.function_arn(spec.name, version)
        context = invocation_context(spec, arn, version, str(uuid.uuid4()), os.getpid())
        request = json.dumps({"event": event, "context": context}).encode()
        completed = subprocess.run(
            [*launcher, *worker_command(spec)],
            input=HEADER.pack(len(request)) + request,
            capture_output=True,
            env=self.environment_of(spec),
            cwd=spec.code_root,
            timeout=timeout_seconds or INIT_TIMEOUT_SECONDS + spec.timeout_seconds,
            check=False,
        )
        log = completed.stderr.decode(errors="replace")
        # An init error is the only frame; otherwise the ready frame comes first.
        replies = [frame for frame in read_frames(completed.stdout) if "ready" not in frame]
        if replies:
            return SingleInvocation(replies[0], log)
        died = {"errorMessage": exit_description(completed.returncode), "errorType": "Runtime.ExitError"}
        return SingleInvocation({"error": died}, log)

    def function_arn(self, name: str, version: str = "1") -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}:{version}"

    def log_path(self, name: str) -> Path:
        """The log of every version of ``name``: its output and Lambda's START/END/REPORT lines."""
        return self.log_dir / f"{name}.log"

    def pools_of(self, name: str) -> list[FunctionPool]:
        """The function given at start (if it was) and each of its published versions."""
        with self._versions_lock:
            published = list(self._versions.get(name, {}).values())
        given = self.pools.get(name)
        return [given, *published] if given is not None else published

    def kill_workers(self, name: str) -> int:
        """Kill every execution environment of every version of ``name``, as crashes would; how many."""
        return sum(pool.kill_workers() for pool in self.pools_of(name))

    def publish_version(self, spec: FunctionSpec) -> str:
        """Publish the next version of ``spec.name`` with ``spec``'s code and settings; its qualified ARN.

        Like Lambda's numbering: 1, 2, ... per function, from 1 again after :meth:`delete_function`.
        And like Lambda, it refuses to publish what the latest version already is (code and
        configuration unchanged): :class:`VersionExists`, which CloudFormation reports as "A version
        for this Lambda function exists".
        """
        with self._versions_lock:
            versions = self._versions.setdefault(spec.name, {})
            if versions:
                latest_number = str(len(versions))
                if versions[latest_number].spec == spec:
                    raise VersionExists(
                        f"A version for this Lambda function exists ( {latest_number} ). "
                        "Modify the function to create a new version."
                    )
            number = str(len(versions) + 1)
            log_path = self.log_dir / f"{spec.name}.log"
            environment = {**self._environment(spec, self._base_environment), "AWS_LAMBDA_FUNCTION_VERSION": number}
            versions[number] = FunctionPool(spec, environment, log_path)
        return self.function_arn(spec.name, number)

    def delete_function(self, name: str) -> None:
        """Delete every published version of ``name`` (their workers stop, their ARNs answer 404)."""
        with self._versions_lock:
            versions = self._versions.pop(name, {})
        for pool in versions.values():
            pool.close()

    def _pool(self, name: str, qualifier: str) -> FunctionPool | None:
        with self._versions_lock:
            published = self._versions.get(name, {}).get(qualifier)
        return published if published is not None else self.pools.get(name)

    def prewarm(self, name: str, qualifier: str = "$LATEST") -> None:
        """Start one execution environment of ``name:qualifier`` ahead of its first invocation."""
        pool = self._pool(name, qualifier)
        if pool is not None:
            pool.prewarm()

    def invoke(self, reference: str, event: Any) -> InvokeResult:
        for observer in self.on_invoke:
            observer(reference, event)
        name, qualifier = parse_function_reference(reference)
        pool = self._pool(name, qualifier)
        if pool is None:
            arn = reference if reference.startswith("arn:") else self.function_arn(name, qualifier)
            return service_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        return pool.invoke(event, self.function_arn(name, qualifier), qualifier)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        runtime = self

        class InvokeHandler(KeepAliveNoDelayHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server dispatches on this name
                path = self.path.split("?", 1)[0]
                prefix, suffix = "/2015-03-31/functions/", "/invocations"
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not (path.startswith(prefix) and path.endswith(suffix)):
                    self._reply(service_error(404, "UnknownOperationException", f"Unknown operation {path}"))
                    return
                if length > MAX_REQUEST_BYTES:
                    self._reply(
                        service_error(
                            413,
                            "RequestEntityTooLargeException",
                            f"{length} byte payload is too large for the Invoke operation (max {MAX_REQUEST_BYTES})",
                        )
                    )
                    return
                try:
                    event = json.loads(raw) if raw else {}
                except json.JSONDecodeError:
                    self._reply(
                        service_error(400, "InvalidRequestContentException", "Could not parse request body into json")
                    )
                    return
                reference = path[len(prefix) : -len(suffix)]
                self._reply(runtime.invoke(reference, event))

            def _reply(self, result: InvokeResult) -> None:
                body = result.payload
                self.send_response(result.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                for name, value in result.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                # The caller (restate-server) may have gone away, e.g. while the harness is stopping.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        return InvokeHandler

    def stop(self) -> None:
        super().stop()
        for pool in self.pools.values():
            pool.close()
        for name in list(self._versions):
            self.delete_function(name)
