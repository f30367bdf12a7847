"""A client for LLM judges behind any OpenAI-compatible chat-completions endpoint (vLLM,
llama.cpp server, Ollama, a hosted API).

* ``base_url`` and ``model`` come from the configuration; the API key only from the environment
  variable named by ``api_key_env`` (never from a file, never logged, hidden from ``repr``).
* Requests run concurrently (``concurrency`` threads), each with a ``timeout``; connection
  errors, timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with exponential backoff
  and jitter; other HTTP errors are not retried.
* Answers are cached on disk (SQLite) under a key that hashes the endpoint, the model, the
  sampling settings and the full prompt, so a re-run or a resumed training asks nothing twice.
* ``complete`` returns ``None`` for a request that finally failed; the caller decides between
  an error and its offline default (``radrl.judges.tasks``). Counters say what happened.

Nothing is sent anywhere but ``base_url``: reports may hold patient information.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from radrl.config.judge import JudgeConfig
from radrl.io import ConfigError

Messages = list[dict[str, str]]


class JudgeError(RuntimeError):
    """The judge could not answer, or answered something that cannot be parsed."""


class JudgeRedirectError(JudgeError):
    """The server answered with a redirect: never followed (the API key would go with it)."""


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise JudgeRedirectError(f"the judge at {req.full_url} answered {code}, a redirect to {newurl}; radrl never "
                                 "follows one (the API key would travel with it): set judge.base_url to the final "
                                 "address")


def _socket_of(response):
    """The socket under an ``http.client.HTTPResponse`` (to bound each read by the deadline)."""
    return getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)




class AnswerCache:
    """Thread-safe SQLite map from a request key to the answer text."""

    def __init__(self, path: str | Path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # answers can repeat what reports hold (names, dates): owner-only, like SQLite's -wal/-shm files
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
        self._db.commit()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, answer: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, answer))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class JudgeStats:
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    timeouts: int = 0
    failures: int = 0         # requests that failed after every retry
    fallbacks: int = 0        # answers replaced by the offline default (unparseable or failed)
    seconds: float = 0.0


class JudgeClient:
    """Batched, concurrent, cached chat completions."""

    def __init__(self, config: JudgeConfig):
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.cache = AnswerCache(config.cache) if config.cache else None
        self.stats = JudgeStats()
        self._stats_lock = threading.Lock()
        try:
            self._key = config.api_key()  # fail early when the variable is missing
        except ConfigError as err:
            raise JudgeError(str(err)) from None
        self._opener = urllib.request.build_opener(_RefuseRedirects)

    def __repr__(self) -> str:  # never shows the key
        return f"JudgeClient(url={self.url!r}, model={self.config.model!r})"

    def _count(self, **deltas) -> None:
        with self._stats_lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def request_key(self, messages: Messages) -> str:
        body = {"url": self.url, "model": self.config.model, "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens, "extra": self.config.extra_body, "messages": messages}
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _post(self, messages: Messages) -> str:
        body = {"model": self.config.model, "messages": messages, "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens, **self.config.extra_body}
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        deadline = time.monotonic() + self.config.timeout
        with self._opener.open(request, timeout=self.config.timeout) as response:
            payload = json.loads(self._read_bounded(response, deadline).decode("utf-8", errors="replace"))
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"not a chat-completions answer: {str(payload)[:200]}") from None
        if not isinstance(content, str):
            raise JudgeError("the answer's message content is not text")
        return content

    def _read_bounded(self, response, deadline: float) -> bytes:
        """The body, refused past ``max_response_bytes`` or past the request's deadline (a server
        trickling bytes cannot hold a request beyond ``timeout``)."""
        cap, size, chunks = self.config.max_response_bytes, 0, []
        sock = _socket_of(response)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the judge's answer took longer than timeout={self.config.timeout} s")
            if sock is not None:
                sock.settimeout(remaining)
            chunk = response.read1(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > cap:
                raise JudgeError(f"the judge's answer exceeds max_response_bytes={cap}")
            chunks.append(chunk)

    def complete_one(self, messages: Messages) -> str | None:
        """The answer text, or ``None`` after the retries are spent."""
        key = self.request_key(messages)
        if self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                self._count(cache_hits=1)
                return cached
        for attempt in range(self.config.max_retries + 1):
            self._count(requests=1)
            retry = True
            try:
                answer = self._post(messages)
                if self.cache is not None:
                    self.cache.put(key, answer)
                return answer
            except JudgeRedirectError:
                retry = False
            except urllib.error.HTTPError as err:
                retry = err.code == 429 or err.code >= 500
            except TimeoutError:
                self._count(timeouts=1)
            except (urllib.error.URLError, http.client.HTTPException, OSError, json.JSONDecodeError, JudgeError) as err:
                if isinstance(getattr(err, "reason", None), TimeoutError):
                    self._count(timeouts=1)
            if not retry or attempt == self.config.max_retries:
                break
            self._count(retries=1)
            time.sleep(self.config.backoff * (2 ** attempt) * (0.5 + random.random()))
        self._count(failures=1)
        return None

    def complete(self, batch: Sequence[Messages], progress: bool = False) -> list[str | None]:
        """Answers in input order; ``concurrency`` requests in flight at a time."""
        t0 = time.perf_counter()
        if not batch:
            return []
        from tqdm.auto import tqdm

        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(batch))) as pool:
            answers = list(tqdm(pool.map(self.complete_one, batch), total=len(batch), desc="judge",
                                unit="request", disable=not progress))
        self._count(seconds=time.perf_counter() - t0)
        return answers


def parse_json_answer(text: str | None, expect: type) -> object:
    """The JSON value in a judge's answer (a ```json fence or surrounding prose allowed), checked
    to be of type ``expect``; ``JudgeError`` with the start of the answer otherwise."""
    if text is None:
        raise JudgeError("no answer (the request failed)")
    body = text.strip()
    if "```" in body:
        parts = body.split("```")
        body = parts[1] if len(parts) > 2 else parts[-1]
        body = body.removeprefix("json").strip()
    opener, closer = ("[", "]") if expect is list else ("{", "}")
    start, end = body.find(opener), body.rfind(closer)
    if start < 0 or end < start:
        raise JudgeError(f"expected a JSON {expect.__name__} in the answer, got {text[:120]!r}")
    try:
        value = json.loads(body[start:end + 1])
    except json.JSONDecodeError as err:
        raise JudgeError(f"invalid JSON in the answer ({err.msg}): {text[:120]!r}") from None
    if not isinstance(value, expect):
        raise JudgeError(f"expected a JSON {expect.__name__}, got {type(value).__name__}: {text[:120]!r}")
    return value
