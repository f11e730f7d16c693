"""A real S3 API server for tests and benchmarks: moto's standalone server in a subprocess on 127.0.0.1.

It needs ``moto[server]`` (a development dependency, not one of this plugin's)::

    with S3TestServer() as server:
        config = server.repository_config("my-bucket")
        repository = S3RepositoryBackend.from_config(config)

The server keeps its buckets in memory: stopping it loses them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

__all__ = ["S3TestServer", "free_port"]

ACCESS_KEY_ID = "provstore-test-key"
SECRET_ACCESS_KEY = "provstore-test-secret-8f3a"  # noqa: S105 (moto accepts any credentials)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3TestServer:
    """moto's S3 server (``python -m moto.server``) as a child process listening on 127.0.0.1 only."""

    def __init__(self, port: int | None = None, startup_timeout: float = 30.0) -> None:
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        """Return the endpoint URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3TestServer:
        """Start the server and wait until it answers.

        :raises RuntimeError: moto's server is not installed or did not come up in time.
        """
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self._log = tempfile.TemporaryFile()  # the server logs every request: a pipe nobody reads would fill up
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=env,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                self._process = None
                raise RuntimeError(f"moto's S3 server exited at start (is moto[server] installed?): {error[-500:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):  # noqa: S310 (a local URL)
                    pass
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto's S3 server did not answer on {self.url} within {self.startup_timeout} s")

    def stop(self) -> None:
        """Stop the server (its buckets are lost)."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
            self._log.close()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
            self._log.close()

    def repository_config(self, bucket: str, endpoint_url: str | None = None, **settings: Any) -> dict[str, Any]:
        """Return a ``core.s3`` configuration for ``bucket`` on this server (or on ``endpoint_url`` in front of it)."""
        return {
            "endpoint_url": endpoint_url or self.url,
            "bucket": bucket,
            "region": "us-east-1",
            "access_key_id": ACCESS_KEY_ID,
            "secret_access_key": SECRET_ACCESS_KEY,
            "addressing_style": "path",
            **settings,
        }

    def add_user(self, name: str, actions: list[str]) -> tuple[str, str]:
        """Create IAM user ``name`` allowed the S3 ``actions`` (none: allowed nothing); return its key and secret.

        Credentials matter only once :meth:`require_credentials` was called.
        """
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        iam.create_user(UserName=name)
        if actions:
            statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
            document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
            iam.put_user_policy(UserName=name, PolicyName=f"{name}-s3", PolicyDocument=document)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def require_credentials(self) -> None:
        """From now on, check every request's credentials and permissions against the server's IAM users."""
        request = urllib.request.Request(  # noqa: S310 (a local URL)
            f"{self.url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (a local URL)
            pass

    def client(self) -> Any:
        """Return a boto3 S3 client talking to the server directly (to inspect what a test left there)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def __enter__(self) -> S3TestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
