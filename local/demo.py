"""`make demo`: run every catalog pattern's demo scenario (``local/demos/<pattern>.py``), one PASS/FAIL line each.

Then the same for each HTTP API of the catalog (the front door runs the durable-RPC and queue
scenarios again, through its Function URL). Uses the stack already running on the usual
ports (`make dev` in another terminal), or starts one for the duration of the demo
(`make demo NODES=3`: a cluster of three Restate nodes).

On a cluster the scenarios are given every node's ingress, and a call whose node is gone goes to
the next one (see ``local/clients``). A running cluster's further nodes are on ports of their own:
`make dev NODES=3` prints the ``RESTATE_INGRESS_URL`` that names them all, which the demo takes -
those of its URLs on this machine, since the demo never calls out of it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx
from restate_lambda.registration.admin import AdminApiUnreachable, RestateAdmin

from functions.catalog import HTTP_APIS, INGRESS_URL_VARIABLE, PATTERNS
from functions.common.ingress import DEFAULT_INGRESS_URL, Ingress, ingress_urls
from local.processes import STATE_DIR, port_is_open
from local.stack import LocalStack, StackPorts, settings_from

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def demo_of(name: str) -> Callable[[Ingress], str]:
    module = importlib.import_module(f"local.demos.{name}")
    run_demo: Callable[[Ingress], str] = module.run_demo
    return run_demo


def run_one(name: str, ingress: Ingress) -> bool:
    """Run ``local/demos/<name>.py`` against ``ingress`` (an HTTP API's demo: its URL) and print its PASS/FAIL line."""
    started = time.monotonic()
    try:
        summary = demo_of(name)(ingress)
    except Exception as error:  # noqa: BLE001 - a failing demo is reported, the others still run
        print(f"FAIL  {name:<18} {type(error).__name__}: {error}", flush=True)
        return False
    print(f"PASS  {name:<18} {summary} ({time.monotonic() - started:.1f} s)", flush=True)
    return True


def run_all(ingress: Ingress, http_api_urls: Mapping[str, str]) -> bool:
    passed = [run_one(pattern.name, ingress) for pattern in PATTERNS]
    passed += [run_one(api.name, http_api_urls[api.name]) for api in HTTP_APIS if api.name in http_api_urls]
    return all(passed)


def running_stack_problem(ports: StackPorts) -> str | None:
    """What is wrong with whatever holds the usual ports, or None if it answers as a local stack should.

    An open port proves little: an orphaned restate-server of a crashed stack holds it too, without
    the Lambda runtime behind it, and every demo would then wait for answers that never come.
    """
    admin_url, ingress_url = f"http://127.0.0.1:{ports.admin}", f"http://127.0.0.1:{ports.ingress}"
    try:
        RestateAdmin(admin_url, request_timeout=5).wait_until_healthy(timeout=5)
        with httpx.Client(timeout=5) as client:
            client.get(f"{ingress_url}/restate/health").raise_for_status()
            missing = [
                service
                for pattern in PATTERNS
                for service in pattern.services
                if client.get(f"{admin_url}/services/{service}").status_code != 200
            ]
            # The Lambda runtime must answer too: an unknown function is its own 404, a dead runtime no answer.
            client.post(f"http://127.0.0.1:{ports.lambda_runtime}/2015-03-31/functions/probe/invocations", json={})
    except (AdminApiUnreachable, httpx.HTTPError) as problem:
        return str(problem)
    return f"it serves no {', '.join(missing)}" if missing else None


def running_stack_ingress(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The running stack's ingress: the usual port's, then the further nodes on this machine that the variable names."""
    named = ingress_urls(environ.get(INGRESS_URL_VARIABLE) or DEFAULT_INGRESS_URL)
    further = [url for url in named if url != DEFAULT_INGRESS_URL and urlsplit(url).hostname in LOOPBACK_HOSTS]
    return (DEFAULT_INGRESS_URL, *further)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1, help="Restate nodes of a stack the demo starts (default 1)")
    args = parser.parse_args(argv)
    ports = StackPorts()
    if port_is_open(ports.admin) or port_is_open(ports.ingress):
        problem = running_stack_problem(ports)
        if problem is not None:
            print(
                f"Ports {ports.ingress} and {ports.admin} are taken, but no working local stack answers there: "
                f"{problem}.\nIf a `make dev` crashed, start it again (it stops what it left behind), or stop "
                "whatever holds the ports; then run `make demo` again.",
                file=sys.stderr,
            )
            sys.exit(1)
        try:
            ingress = running_stack_ingress(os.environ)
        except ValueError as error:
            sys.exit(f"{INGRESS_URL_VARIABLE}: {error}")
        print(f"Using the running stack at {', '.join(ingress)}", flush=True)
        # Only the first HTTP API has a fixed port (see StackPorts.http_api).
        api_urls = {api.name: f"http://127.0.0.1:{ports.http_api}" for api in HTTP_APIS[:1]}
        sys.exit(0 if run_all(ingress, api_urls) else 1)
    state_dir = STATE_DIR / "demo"
    shutil.rmtree(state_dir, ignore_errors=True)
    needs_kafka = any(pattern.subscriptions for pattern in PATTERNS)
    print("No stack running: starting one for the demo...", flush=True)
    with LocalStack(
        state_dir=state_dir,
        ports=ports,
        with_kafka=needs_kafka,
        function_settings=settings_from(os.environ),
        nodes=args.nodes,
    ) as stack:
        passed = run_all(stack.ingress_urls, {name: server.url for name, server in stack.function_urls.items()})
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
