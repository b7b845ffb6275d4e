"""A stand-in for FlowTrack, for tests and demos (`manage.py flowtrack_receiver`): a small
HTTP server (standard library only) that accepts POSTed batches.

- `POST /` (any path): a JSON batch with an `Idempotency-Key` header (and `Authorization:
  Bearer <token>` when started with a token: else 401). A new key → 201 `{"stored": true}`;
  a key it already holds → 200 `{"duplicate": true}` (stored once).
- `GET /`: what it received, oldest first: `{"count": n, "batches": [{"key", "received_at",
  "payload"}]}`.

With a store file (JSON lines) it keeps the batches across restarts.
"""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_BODY = 20 * 1024 * 1024


class Inbox:
    """The batches received, by idempotency key (and the optional JSON-lines file)."""

    def __init__(self, store: str | Path | None = None):
        self.lock = threading.Lock()
        self.batches: dict[str, dict] = {}
        self.store = Path(store) if store else None
        if self.store and self.store.exists():
            for line in self.store.read_text().splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self.batches[entry["key"]] = entry

    def add(self, key: str, payload) -> bool:
        """Keep a batch under its key; False if the key is known (nothing stored)."""
        with self.lock:
            if key in self.batches:
                return False
            entry = {"key": key, "received_at": datetime.now(UTC).isoformat(), "payload": payload}
            self.batches[key] = entry
            if self.store:
                with self.store.open("a") as file:
                    file.write(json.dumps(entry) + "\n")
            return True

    def listing(self) -> dict:
        with self.lock:
            return {"count": len(self.batches), "batches": list(self.batches.values())}


def make_server(
    host: str = "127.0.0.1", port: int = 8765, *, token: str = "", store=None
) -> ThreadingHTTPServer:
    """The receiver, bound but not yet serving (call `serve_forever()`); `server.inbox` holds
    what it received."""
    inbox = Inbox(store)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self._answer(200, inbox.listing())

        def do_POST(self):
            if token and self.headers.get("Authorization") != f"Bearer {token}":
                return self._answer(401, {"error": "bad or missing token"})
            key = (self.headers.get("Idempotency-Key") or "").strip()
            if not key:
                return self._answer(400, {"error": "Idempotency-Key header missing"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(413, {"error": "too large"})
            try:
                payload = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return self._answer(400, {"error": "not JSON"})
            if inbox.add(key, payload):
                self._answer(201, {"stored": True, "key": key})
            else:
                self._answer(200, {"duplicate": True, "key": key})

        def _answer(self, code: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            server.log(f"{self.command} {self.path} {args[1] if len(args) > 1 else ''}")

    server = ThreadingHTTPServer((host, port), Handler)
    server.inbox = inbox
    server.log = lambda line: None
    return server
