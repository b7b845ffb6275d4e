import signal
import threading

from django.core.management.base import BaseCommand

from traffic.receiver import make_server


class Command(BaseCommand):
    help = (
        "A stand-in FlowTrack for tests and demos: accepts POSTed batches (each Idempotency-Key "
        "stored once; a re-post answers 200 'duplicate'), lists them at GET /."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--token", default="", help="require 'Authorization: Bearer TOKEN'")
        parser.add_argument("--store", default="", help="a JSON-lines file kept across restarts")

    def handle(self, *args, port, host, token, store, **options):
        server = make_server(host, port, token=token, store=store or None)
        server.log = lambda line: self.stdout.write(line)
        self.stdout.write(
            f"FlowTrack stand-in on http://{host}:{server.server_port}/ "
            f"({server.inbox.listing()['count']} batches held); Ctrl+C or SIGTERM to stop"
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            # shutdown() waits for serve_forever(), which runs in this thread: ask from another.
            signal.signal(signum, lambda *_: threading.Thread(target=server.shutdown).start())
        try:
            server.serve_forever()
        finally:
            server.server_close()
