"""``python -m restate_lambda.local serve``: the dev server's banner, a reload on a code change, a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from restate_lambda.local import find_restate_server

GREETER = """
import restate

greeter = restate.Service("Greeter")


@greeter.handler()
async def greet(ctx: restate.Context, name: str) -> str:
    return f"{GREETING}, {name}!"


GREETING = "Hello"
app = restate.app(services=[greeter])
"""


def eventually(condition: Callable[[], object], timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.1)
    return found


def test_the_dev_server_names_its_urls_deploys_a_changed_handler_and_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "greeter.py").write_text(GREETER)
    restate_server = find_restate_server(start=Path(__file__).parent)
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "restate_lambda.local", "serve", "greeter:app", "--restate-server"]
    server = subprocess.Popen(
        [*command, str(restate_server), "--ingress-port", "0", "--admin-port", "0"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert server.stdout is not None
    stdout = server.stdout
    threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True).start()
    try:
        eventually(lambda: any("Ctrl-C stops everything" in line for line in lines))
        output = "".join(lines)
        ingress = re.search(r"Ingress +(http://127\.0\.0\.1:\d+)", output)
        assert ingress is not None and re.search(r"Admin API \+ UI +http://127\.0\.0\.1:\d+", output)
        assert ":function:greeter:1" in output and "serving Greeter" in output
        greet = f"{ingress[1]}/Greeter/greet"
        assert httpx.post(greet, json="World", timeout=30).json() == "Hello, World!"

        (tmp_path / "greeter.py").write_text(GREETER.replace('GREETING = "Hello"', 'GREETING = "Howdy"'))
        eventually(lambda: any(":function:greeter:2" in line for line in lines))
        assert httpx.post(greet, json="World", timeout=30).json() == "Howdy, World!"

        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["greeter.py"]
