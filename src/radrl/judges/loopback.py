"""A chat-completions server on 127.0.0.1 for tests and benchmarks of the judge client.

It speaks the OpenAI protocol (``POST /v1/chat/completions`` -> ``{"choices": [{"message":
{"role": "assistant", "content": ...}}]}``) over real HTTP, and answers with a scripted
``responder(messages) -> str``. The default responder plays a tiny, deterministic judge from the
rule labeler, so radrl's judge tasks get sensible answers. ``mode`` makes it misbehave on purpose:

* ``ok``: answer after ``latency`` seconds;
* ``stall``: never answer within any sane timeout (sleeps ``stall_seconds``);
* ``garbage``: a 200 response whose content is not what was asked (or whose body is not JSON);
* ``flaky``: HTTP 503 for the first ``fail_first`` requests, then ``ok``.

Nothing leaves the machine: the server binds the loopback interface only.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@functools.lru_cache(maxsize=1)
def _labeler():
    from radrl.labelers import get_labeler

    return get_labeler("rule")


def rule_responder(messages: list[dict]) -> str:
    """Answers radrl's three prompts the way the offline defaults would."""
    prompt = messages[-1]["content"]
    labeler = _labeler()
    if "atomic clinical facts" in prompt:
        report = prompt.split("Report:", 1)[1].rsplit("Answer with", 1)[0].strip()
        facts = [s.strip() for s in re.split(r"(?<=[.;])\s+", report) if s.strip()]
        return json.dumps(facts)
    if "IMPRESSION follow from the FINDINGS" in prompt:
        findings = prompt.split("FINDINGS:", 1)[1].split("IMPRESSION:", 1)[0]
        impression = prompt.split("IMPRESSION:", 1)[1].rsplit("Answer with", 1)[0]
        f, i = labeler.label_batch([findings, impression])
        ok = all(f[k] == "positive" for k, v in i.items() if v == "positive" and k != "No Finding")
        return json.dumps({"consistent": ok})
    if "triage" in prompt:
        report = prompt.split("Report:", 1)[1].rsplit("Answer with", 1)[0]
        labels = labeler.label(report)
        return json.dumps({"critical": any(v == "positive" for k, v in labels.items()
                                           if k not in ("No Finding", "Support Devices"))})
    return "I do not know this prompt."


class LoopbackJudge:
    """``with LoopbackJudge(mode="ok") as server: server.base_url`` (a context manager)."""

    def __init__(self, responder=rule_responder, mode: str = "ok", latency: float = 0.0,
                 stall_seconds: float = 30.0, fail_first: int = 0, redirect_to: str | None = None,
                 huge_bytes: int = 500_000_000, trickle_interval: float = 0.1):
        """Modes: ``ok``; ``stall`` (no answer for ``stall_seconds``); ``garbage``; ``flaky``
        (503 for the first ``fail_first`` requests); and the hostile ones: ``redirect`` (302 to
        ``redirect_to``), ``huge`` (a ``huge_bytes`` body, streamed), ``trickle`` (one byte every
        ``trickle_interval`` seconds, for ever)."""
        if mode not in ("ok", "stall", "garbage", "flaky", "redirect", "huge", "trickle"):
            raise ValueError(f"unknown mode {mode!r}")
        self.redirect_to, self.huge_bytes, self.trickle_interval = redirect_to, huge_bytes, trickle_interval
        self.bytes_sent = 0
        self.responder, self.mode, self.latency = responder, mode, latency
        self.stall_seconds, self.fail_first = stall_seconds, fail_first
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.authorization: list[str | None] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _handler(self):
        return type("Handler", (_LoopbackHandler,), {"judge": self})

    def __enter__(self) -> LoopbackJudge:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


class _LoopbackHandler(BaseHTTPRequestHandler):
    """The loopback judge's HTTP handler; ``judge`` (the :class:`LoopbackJudge`) is set per server."""

    judge: LoopbackJudge
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: bytes, content_type: str = "application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    def do_POST(self):
        with self.judge._lock:
            self.judge.in_flight += 1
            self.judge.max_in_flight = max(self.judge.max_in_flight, self.judge.in_flight)
        try:
            self._answer()
        finally:
            with self.judge._lock:
                self.judge.in_flight -= 1

    def _answer(self):
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length) or b"{}")
        with self.judge._lock:
            self.judge.requests += 1
            n = self.judge.requests
            self.judge.authorization.append(self.headers.get("Authorization"))
        if not self.path.endswith("/chat/completions"):
            return self._send(404, b'{"error": "not found"}')
        if self.judge.mode == "stall":
            self.judge._stop.wait(self.judge.stall_seconds)
            return self._send(200, b"{}")
        if self.judge.mode == "redirect":
            self.send_response(302)
            self.send_header("Location", self.judge.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if self.judge.mode in ("huge", "trickle"):
            return self._stream()
        if self.judge.mode == "flaky" and n <= self.judge.fail_first:
            return self._send(503, b'{"error": "overloaded"}')
        if self.judge.latency:
            time.sleep(self.judge.latency)
        if self.judge.mode == "garbage":
            if n % 2:
                return self._send(200, b"<html>502 bad gateway</html>", "text/html")
            content = "Sure! Here is my analysis: the report looks fine."
        else:
            content = self.judge.responder(request.get("messages", []))
        answer = {"id": f"loopback-{n}", "object": "chat.completion", "model": request.get("model"),
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": content}}]}
        return self._send(200, json.dumps(answer).encode())

    def _stream(self):
        total = self.judge.huge_bytes if self.judge.mode == "huge" else 10**9
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        block = b" " * (1 << 20) if self.judge.mode == "huge" else b" "
        try:
            while self.judge.bytes_sent < total and not self.judge._stop.is_set():
                self.wfile.write(block)
                self.wfile.flush()
                with self.judge._lock:
                    self.judge.bytes_sent += len(block)
                if self.judge.mode == "trickle":
                    self.judge._stop.wait(self.judge.trickle_interval)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up
            pass
