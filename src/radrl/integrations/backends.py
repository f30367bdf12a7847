"""Where an adapter's rewards are computed: in this process, or by ``radrl serve``.

``RADRL_REWARD_URL`` set (``http://127.0.0.1:8000``): every adapter POSTs to that server's
``/v1/rewards``, with ``Authorization: Bearer $RADRL_REWARD_TOKEN`` when that is set. Otherwise
the rewards run in this process, built once from ``RADRL_RECIPE`` (a recipe name or YAML path,
with ``RADRL_RECIPE_OVERRIDES="key=value ..."``). An adapter's own keyword arguments (``recipe=``,
``url=``: verl's ``reward_kwargs``, EasyR1's ``reward_function_kwargs``) win over the environment.

Both backends return what ``radrl reward`` writes: ``{"reward", "components"}`` per row, a failed
reward ``None`` in ``components`` and left out of ``reward``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence

from radrl.io import ConfigError, InputError

URL_ENV, RECIPE_ENV, OVERRIDES_ENV, TOKEN_ENV = ("RADRL_REWARD_URL", "RADRL_RECIPE", "RADRL_RECIPE_OVERRIDES",
                                                 "RADRL_REWARD_TOKEN")
TIMEOUT_S = 300.0


def _row_key(row: dict) -> tuple:
    labels = row.get("labels")
    return (row["prediction"], row["reference"], row.get("reference_findings"), row.get("reference_impression"),
            tuple(sorted(labels.items())) if labels else None)


class LocalBackend:
    """A recipe's rewards in this process (one :class:`RewardScorer`, one labeler cache).

    The last batch's components are kept: ms-swift calls one ORM per reward on the same batch,
    and the second call costs nothing. Calls are serialised (the labeler cache is not
    thread-safe); the async form runs the scoring in a worker thread.
    """

    def __init__(self, recipe: str, overrides: Sequence[str] = ()):
        from radrl.recipe import load_rl_recipe
        from radrl.rewards.offline import RewardScorer

        self.recipe_name = recipe
        self.scorer = RewardScorer(load_rl_recipe(recipe, overrides=list(overrides), purpose="RADRL_RECIPE needs"))
        self._lock = threading.Lock()
        self._last: tuple[list, list] | None = None

    def components(self, rows: Sequence[dict]) -> list[dict]:
        keys = [_row_key(r) for r in rows]
        with self._lock:
            if self._last is not None and self._last[0] == keys:
                return [dict(c) for c in self._last[1]]
            components = self.scorer.components(rows)
            self._last = (keys, components)
            return [dict(c) for c in components]

    def score(self, rows: Sequence[dict], step: int = 0) -> list[dict]:
        components = self.components(rows)
        return [{"reward": r, "components": c} for c, r in zip(components, self.scorer.totals(components, step))]

    async def ascore(self, rows: Sequence[dict], step: int = 0) -> list[dict]:
        return await asyncio.to_thread(self.score, rows, step)


def request_body(rows: Sequence[dict], step: int = 0) -> dict:
    """The ``POST /v1/rewards`` body of ``rows``."""
    body = {"predictions": [r["prediction"] for r in rows], "references": [r["reference"] for r in rows],
            "step": int(step)}
    for key in ("reference_findings", "reference_impression"):
        if any(r.get(key) for r in rows):
            body[key] = [r.get(key) for r in rows]
    if any(r.get("labels") for r in rows):
        body["labels"] = [r.get("labels") for r in rows]
    return body


class RemoteBackend:
    """``radrl serve`` at ``url``: ``POST {url}/v1/rewards`` (httpx: one pooled client for the sync
    calls, a client per async call)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = TIMEOUT_S):
        import httpx

        self.url = url.rstrip("/")
        if self.url.endswith("/v1/rewards"):
            self.url = self.url[: -len("/v1/rewards")]
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._client = httpx.Client(base_url=self.url, headers=self._headers, timeout=timeout)

    def info(self) -> dict:
        return self._checked(self._client.get("/v1/info"))

    def _checked(self, response) -> dict:
        if response.status_code == 401:
            raise InputError(f"{self.url}: 401 unauthorised; set {TOKEN_ENV} to the server's token")
        if response.status_code >= 400:
            try:
                detail = response.json().get("error", response.text)
            except ValueError:
                detail = response.text
            raise InputError(f"{self.url}: HTTP {response.status_code}: {detail}")
        return response.json()

    @staticmethod
    def _rows(answer: dict) -> list[dict]:
        names = list(answer["components"])
        return [{"reward": r, "components": {n: answer["components"][n][i] for n in names}}
                for i, r in enumerate(answer["rewards"])]

    def score(self, rows: Sequence[dict], step: int = 0) -> list[dict]:
        if not rows:
            return []
        return self._rows(self._checked(self._client.post("/v1/rewards", json=request_body(rows, step))))

    async def ascore(self, rows: Sequence[dict], step: int = 0) -> list[dict]:
        import httpx

        if not rows:
            return []
        # one client per call, closed when it returns: an AsyncClient belongs to one event loop, and
        # ms-swift runs each step's rewards in a new one (asyncio.run); a client kept per loop was never
        # closed and left one open socket a step ("Too many open files" after a few hundred steps).
        # A call scores a whole batch, so the connection it opens costs little beside the scoring.
        async with httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=self._timeout) as client:
            response = await client.post("/v1/rewards", json=request_body(rows, step))
        return self._rows(self._checked(response))


_BACKENDS: dict[tuple, LocalBackend | RemoteBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def get_backend(recipe: str | None = None, url: str | None = None) -> LocalBackend | RemoteBackend:
    """The backend the arguments or the environment name (built once per process and setting)."""
    url = url or os.environ.get(URL_ENV) or None
    if url:
        key: tuple = ("remote", url)
    else:
        recipe = recipe or os.environ.get(RECIPE_ENV)
        if not recipe:
            raise ConfigError(f"radrl's reward adapters need {RECIPE_ENV} (a recipe, for rewards in this process) "
                              f"or {URL_ENV} (a `radrl serve` address); neither is set")
        key = ("local", recipe, os.environ.get(OVERRIDES_ENV, ""))
    with _BACKENDS_LOCK:
        if key not in _BACKENDS:
            _BACKENDS[key] = (RemoteBackend(url, os.environ.get(TOKEN_ENV)) if url
                              else LocalBackend(recipe, os.environ.get(OVERRIDES_ENV, "").split()))
        return _BACKENDS[key]


def clear_backends() -> None:
    """Forget the built backends (tests; a changed environment)."""
    with _BACKENDS_LOCK:
        _BACKENDS.clear()
