"""What both fake APIs share: a real HTTP server on 127.0.0.1, request counting per endpoint,
and fault injection (scripted or at a seeded rate)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Fault:
    """How to spoil one answer: an error status (with Retry-After for 429), a delay, or a
    connection closed without any answer. With `after_effect` the request takes effect first
    (a write lands) and only its answer is spoiled."""

    status: int | None = None
    retry_after: float | None = None
    delay_s: float = 0.0
    drop: bool = False
    after_effect: bool = False


RATE_LIMITED = Fault(429, retry_after=1)
SERVER_ERROR = Fault(500)
UNAVAILABLE = Fault(503)
DROPPED = Fault(drop=True)


@dataclass
class FaultPlan:
    """Scripted faults first (per endpoint, in order), then a seeded share of random ones."""

    rate: float = 0.0
    seed: int = 0
    kinds: tuple[Fault, ...] = (RATE_LIMITED, SERVER_ERROR, UNAVAILABLE, DROPPED)
    applies_to: Callable[[str], bool] = lambda endpoint: True
    scripted: dict[str, deque[Fault]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def script(self, endpoint: str, *faults: Fault) -> FaultPlan:
        with self._lock:
            self.scripted.setdefault(endpoint, deque()).extend(faults)
        return self

    def next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queued = self.scripted.get(endpoint)
            if queued:
                return queued.popleft()
            if self.rate and self.applies_to(endpoint) and self._random.random() < self.rate:
                return self._random.choice(self.kinds)
            return None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)


class FakeHttpServer:
    """Subclasses name each request's endpoint and answer it; this class does the HTTP."""

    def __init__(self, faults: FaultPlan | None = None) -> None:
        self.faults = faults or FaultPlan()
        self.requests: Counter[str] = Counter()   # every request received, faulted or not
        self.answered: Counter[str] = Counter()   # requests answered 2xx
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- for subclasses ---------------------------------------------------------------------
    def endpoint(self, request: Request) -> str:
        raise NotImplementedError

    def answer(self, request: Request) -> Answer:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first (use it as a context manager)"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.answered.clear()

    # -- one request ---------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(method, parts.path.rstrip("/") or "/", dict(parse_qsl(parts.query)),
                          {k.lower(): v for k, v in handler.headers.items()}, handler.rfile.read(length))
        endpoint = self.endpoint(request)
        with self._lock:
            self.requests[endpoint] += 1
        fault = self.faults.next_fault(endpoint)
        if fault is not None and fault.after_effect:
            self.answer(request)
        if fault is not None:
            time.sleep(fault.delay_s)
            if fault.drop:
                handler.close_connection = True   # no answer at all: the client sees a dropped connection
                return
            if fault.status is not None:
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                _send(handler, Answer(fault.status, error_body(fault.status, "injected fault"), headers))
                return
        answer = self.answer(request)
        if answer.status < 300:
            with self._lock:
                self.answered[endpoint] += 1
        _send(handler, answer)


def error_body(status: int, message: str) -> dict:
    return {"error": {"status": status, "message": message}}


def _send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
    data = json.dumps(answer.body).encode()
    handler.send_response(answer.status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in answer.headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    try:
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True   # the client gave up waiting (a slow-answer fault)


def _handler_for(fake: FakeHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # keep-alive, as the real APIs; a drop then hits a live connection
        # Headers and body leave in two writes; with Nagle on, the second waits for a delayed ACK (~40 ms).
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            fake._serve(self, "GET")

        def do_POST(self) -> None:
            fake._serve(self, "POST")

        def do_PUT(self) -> None:
            fake._serve(self, "PUT")

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler
