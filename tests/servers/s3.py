"""moto's S3-compatible server, run as a real HTTP process on a free loopback port.

It lives in its own virtualenv (.venv-s3, see tests/servers/requirements-s3.txt) so the engine under
test keeps Debian's boto3. Tests can stop and restart it to simulate an endpoint that dies.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MOTO_SERVER = os.environ.get("MUTUAPIX_MOTO_SERVER", os.path.join(REPO_ROOT, ".venv-s3", "bin", "moto_server"))

# moto accepts any credentials; these fixed test values never leave loopback.
ACCESS_KEY_ID = "mutuapix-test-key-id"
SECRET_ACCESS_KEY = "mutuapix-test-secret-key-0123456789"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """One moto_server process; ``endpoint_url`` stays the same across stop()/start()."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        if not os.path.exists(MOTO_SERVER):
            raise RuntimeError(f"{MOTO_SERVER} is missing: run tools/bootstrap.sh (make venv)")
        self.process = subprocess.Popen(
            [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(self.endpoint_url + "/moto-api/", timeout=1).close()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto_server did not answer on {self.endpoint_url}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def reset(self) -> None:
        """Forget every bucket and object (moto's own reset endpoint)."""
        request = urllib.request.Request(self.endpoint_url + "/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=5).close()
