"""The local AWS endpoint: moto's server on 127.0.0.1, for what the functions call with boto3."""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class LocalAwsEndpoint:
    def __init__(self, port: int) -> None:
        self.port = port
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def function_environment(self) -> dict[str, str]:
        """What a function needs so that boto3 talks to this endpoint instead of AWS."""
        return {"AWS_ENDPOINT_URL": self.url, **LOCAL_CREDENTIALS}

    def start(self) -> LocalAwsEndpoint:
        # moto serves through werkzeug, which logs every request line to stderr.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
