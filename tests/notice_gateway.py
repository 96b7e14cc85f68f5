"""A stand-in SMS gateway for notice tests: a real HTTP server on 127.0.0.1 (port 0) in a thread
that checks each request's HMAC signature, records what it saw, drops a repeated dedupe key as a
real gateway would, and answers as the test scripts it: 200, a status (500, 400 …), or a sleep
longer than the client's timeout (the request still arrives: the gateway takes it late)."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from benefits.notices.channels import SIGNATURE_HEADER


@dataclass(frozen=True)
class Seen:
    key: str
    body: dict
    signed: bool          # the signature verified against the body's bytes
    outcome: str          # "accepted", "duplicate", "timeout" (taken late), or the status sent ("500")


class Gateway:
    def __init__(self, secret: str, script: Callable[[str, int], object] | None = None,
                 barrier: threading.Barrier | None = None, delay: float = 0.0):
        """`script(dedupe_key, n)` for the n-th request (from 1) with that key: None or 200 to
        accept, an int status to answer with, or ("sleep", seconds) to answer 200 that late.
        `barrier`: the first requests wait on it (proves parallel senders)."""
        self.secret = secret.encode()
        self.script = script or (lambda key, n: None)
        self.barrier = barrier
        self.delay = delay
        self.seen: list[Seen] = []
        self.accepted: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):   # quiet: the test reads `seen`
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = gateway.handle(body, self.headers.get(SIGNATURE_HEADER, ""),
                                        self.headers.get("Idempotency-Key", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, body: bytes, signature: str, key: str) -> int:
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(expected, signature)
        data = json.loads(body)
        with self.lock:
            self.counts[key] = n = self.counts.get(key, 0) + 1
            first = self.barrier is not None and sum(self.counts.values()) <= self.barrier.parties
        if first:
            self.barrier.wait()         # BrokenBarrierError (its timeout) fails the request: 500
        if self.delay:
            time.sleep(self.delay)
        action = self.script(key, n)
        late = isinstance(action, tuple) and action[0] == "sleep"
        if isinstance(action, int) and action != 200:
            with self.lock:
                self.seen.append(Seen(key, data, signed, str(action)))
            return action
        with self.lock:     # taken on arrival, as a gateway does; a late one answers after its sleep
            duplicate = key in self.accepted
            if not duplicate and signed:
                self.accepted[key] = data
            self.seen.append(Seen(key, data, signed, "duplicate" if duplicate else ("timeout" if late else "accepted")))
        if late:
            time.sleep(action[1])
        return 200

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
