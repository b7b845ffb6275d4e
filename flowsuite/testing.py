"""Real services for tests: start Mosquitto or Redis on a free loopback port, stop them after.

Used by the pytest fixtures in conftest.py; the binaries come from Debian's packages, which the
test command (scripts/test.sh) installs when they are missing.
"""

import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _binary(name: str, *candidates: str) -> str:
    for path in (shutil.which(name), *candidates):
        if path and Path(path).exists():
            return path
    raise FileNotFoundError(f"{name} is not installed: run the test command (make test)")


class Service:
    """A server process on a free loopback port; `stop()` ends it (and it can start again)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"flowsuite-{self.name}-"))
        self.process: subprocess.Popen | None = None

    name = "service"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "Service":
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Mosquitto(Service):
    name = "mosquitto"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self):
        config = self.dir / "mosquitto.conf"
        # `user root`: started as root, Mosquitto would otherwise drop to its own user and
        # fail to read a config in a root-owned folder.
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n"
        )
        return [_binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(config)]


class TlsMosquitto(Mosquitto):
    """Mosquitto on TLS only, with a certificate for 127.0.0.1 signed by a CA of its own
    (`ca_file`), made with openssl when it starts."""

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self.dir / "ca.crt")

    def command(self):
        self._make_certificates()
        command = super().command()
        with open(self.dir / "mosquitto.conf", "a") as config:
            for option, name in (("cafile", "ca.crt"), ("certfile", "server.crt")):
                config.write(f"{option} {self.dir / name}\n")
            config.write(f"keyfile {self.dir / 'server.key'}\n")
        return command

    def _make_certificates(self) -> None:
        (self.dir / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl = _binary("openssl")
        for args in (
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key"]
            + ["-out", "ca.crt", "-days", "2", "-subj", "/CN=FlowSuite test CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key"]
            + ["-out", "server.csr", "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"]
            + ["-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"],
        ):
            subprocess.run([openssl, *args], cwd=self.dir, check=True, capture_output=True)


class Redis(Service):
    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self):
        return [
            _binary("redis-server"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
        ]


def daphne_command(port: int) -> list[str]:
    """The command that serves FlowSuite with daphne on 127.0.0.1:`port` (from the top folder)."""
    return [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "flowsuite.asgi:application",
    ]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (not empty), as the benchmarks report them."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def redis_channel_layers(url: str) -> dict:
    """CHANNEL_LAYERS on the Redis at `url`, with the site's connection options: redis-py's
    default 5 s socket timeout would end the layer's blocking reads of an idle channel."""
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": None}]},
        }
    }
