"""The reward server's HTTP interface (Starlette on uvicorn, pydantic for the bodies).

=====================  ==========================================================================
``POST /v1/rewards``   ``{"predictions": [str], "references": [str]}`` (or ``reference_findings`` +
                       ``reference_impression``; all three may be given), optional ``labels``
                       (``[{observation: value} | null]``) and ``step`` -> ``{"rewards": [float |
                       null], "components": {name: [float | null]}}``
``POST /get_reward``   OpenRLHF's protocol: ``{"query", "prompts", "labels"}`` -> ``{"rewards",
                       "scores", "extra_logs"}`` (a failed component is NaN there)
``GET /health``        ``{"status": "ok"}`` (no token needed)
``GET /v1/info``       recipe, reward names, weights and schedules, labeler, radrl version, limits
=====================  ==========================================================================

Bad bodies get a 4xx JSON answer ``{"error", "field"}`` naming the field (malformed JSON 400, a
missing token 401, too large 413, wrong types or lengths 422) and the server keeps serving. No
log line holds report text at any level: requests are logged by size and timing only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
from concurrent.futures import BrokenExecutor
from contextlib import asynccontextmanager
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from radrl import __version__
from radrl.config.commands import ServeOptions
from radrl.data.sections import join_sections
from radrl.integrations.openrlhf import response_of
from radrl.integrations.rows import scoring_row
from radrl.integrations.serve.batcher import Batcher
from radrl.io import InputError, did_you_mean
from radrl.schema import normalize_labels

logger = logging.getLogger("radrl.serve")

Texts = list[StrictStr | None]


class RewardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    predictions: list[StrictStr]
    references: Texts | None = None
    reference_findings: Texts | None = None
    reference_impression: Texts | None = None
    labels: list[dict[StrictStr, StrictStr] | None] | None = None
    step: Annotated[StrictInt, Field(ge=0)] = 0


class OpenRLHFRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenRLHF may add fields; only these are read
    query: list[StrictStr]
    prompts: list[StrictStr] | None = None
    labels: list[StrictStr | dict | None] | None = None
    step: Annotated[StrictInt, Field(ge=0)] = 0


class BodyError(Exception):
    def __init__(self, status: int, field: str | None, message: str):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _error(status: int, field: str | None, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


def _field_of(loc) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


def _rows_of(req: RewardRequest, max_items: int) -> list[dict]:
    n = len(req.predictions)
    if n > max_items:
        raise BodyError(413, "predictions", f"{n} predictions; this server takes at most {max_items} per request")
    for name in ("references", "reference_findings", "reference_impression", "labels"):
        value = getattr(req, name)
        if value is not None and len(value) != n:
            raise BodyError(422, name, f"{name} has {len(value)} items, predictions {n}: give one per prediction")
    refs, fnd, imp = (getattr(req, k) or [None] * n for k in ("references", "reference_findings",
                                                              "reference_impression"))
    labels = req.labels or [None] * n
    rows = []
    if req.references is None and req.reference_findings is None and req.reference_impression is None:
        raise BodyError(422, "references", "give 'references', or 'reference_findings' and 'reference_impression'")
    for i in range(n):
        if not any(t and t.strip() for t in (refs[i], fnd[i], imp[i])):  # scored against nothing: a silent 0
            raise BodyError(422, f"references.{i}", f"prediction {i} has no reference (null or empty in "
                            "references, reference_findings and reference_impression): give its report")
        try:
            lab = normalize_labels(labels[i]) if labels[i] else None
        except ValueError as err:
            raise BodyError(422, f"labels.{i}", str(err)) from None
        rows.append({"prediction": req.predictions[i], "reference": refs[i] or join_sections(fnd[i], imp[i]),
                     "reference_findings": fnd[i] or None, "reference_impression": imp[i] or None, "labels": lab})
    return rows


class Guard:
    """ASGI middleware in front of the app: the bearer token (every path but ``/health``), then
    the body size (by Content-Length, or counted as it streams: 413 before it is read whole).
    Plain ASGI, not ``@app.middleware``: that one costs a task per request."""

    def __init__(self, app, max_bytes: int, token: str | None = None):
        self.app, self.max_bytes = app, max_bytes
        self.expected = token.encode() if token is not None else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if self.expected is not None and scope.get("path") != "/health":
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not secrets.compare_digest(given.strip(), self.expected):
                return await _error(401, "authorization", "missing or wrong bearer token")(scope, receive, send)
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await _error(413, "body", f"the body is over {self.max_bytes} bytes")(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyError(413, "body", f"the body is over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)


async def _json_body(request: Request, model: type[BaseModel]):
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BodyError(400, "body", f"not valid JSON ({type(err).__name__} at position {getattr(err, 'pos', 0)})") from None
    except RecursionError:
        raise BodyError(400, "body", "JSON nested too deeply to read") from None
    except ValueError as err:  # an integer over Python's 4,300-digit conversion limit
        raise BodyError(400, "body", f"not readable JSON ({str(err).split(';')[0]})") from None
    if not isinstance(data, dict):
        raise BodyError(422, "body", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_input=False, include_url=False)[0]
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = f"unknown field{did_you_mean(str(first['loc'][-1]), model.model_fields)}"
        raise BodyError(422, _field_of(first["loc"]), message) from None


class ClientGone(Exception):
    """The client hung up before its rewards were ready: nothing to answer."""


async def _scored(request: Request, batcher: Batcher, rows: list[dict]) -> list:
    """The batcher's scores for ``rows``; if the client hangs up first, its rows are taken out of
    the queue (a batch already being scored finishes) and nothing is answered. Engines time out
    and retry: the abandoned rows would otherwise delay every request after them."""
    future = batcher.enqueue(rows)
    gone = asyncio.ensure_future(_disconnected(request))
    gone.add_done_callback(lambda task: task.cancelled() or future.cancel())  # cheaper than asyncio.wait
    try:
        return await future
    except asyncio.CancelledError:
        if gone.done() and not gone.cancelled():
            raise ClientGone from None
        raise
    finally:
        gone.cancel()


async def _disconnected(request: Request) -> None:
    """Returns once the server sees the client's connection close (the body has been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def create_app(scorer, options: ServeOptions, token: str | None = None, recipe_name: str = "") -> Guard:
    """The app scoring with ``scorer`` (a :class:`~radrl.rewards.offline.RewardScorer`). With
    ``token``, every endpoint but ``/health`` needs ``Authorization: Bearer <token>``."""
    batcher = Batcher(scorer.components, options.max_batch, options.max_wait_ms / 1000,
                      executor=getattr(scorer, "executor", None))

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    async def health(request: Request):
        return JSONResponse({"status": "ok"})

    async def info(request: Request):
        rewards = scorer.rewards
        return JSONResponse({"recipe": recipe_name, "rewards": scorer.names, "weights": rewards.weights,
                             "schedules": rewards.schedules, "labeler": scorer.recipe.labeler.name,
                             "score_in": "process" if getattr(scorer, "executor", None) else "thread",
                             "radrl_version": __version__, "max_items": options.max_items,
                             "max_body_bytes": int(options.max_body_mb * 1e6), "batches": batcher.batches,
                             "rows": batcher.rows})

    async def rewards(request: Request):
        req = await _json_body(request, RewardRequest)
        rows = _rows_of(req, options.max_items)
        components = await _scored(request, batcher, rows) if rows else []
        names = scorer.names if not components else list(components[0])
        return JSONResponse({"rewards": scorer.totals(components, req.step),
                             "components": {n: [_finite(c.get(n)) for c in components] for n in names}})

    async def get_reward(request: Request):
        req = await _json_body(request, OpenRLHFRequest)
        n = len(req.query)
        if n > options.max_items:
            raise BodyError(413, "query", f"{n} queries; this server takes at most {options.max_items}")
        for name in ("prompts", "labels"):
            value = getattr(req, name)
            if value is not None and len(value) != n:
                raise BodyError(422, name, f"{name} has {len(value)} items, query {n}")
        if req.labels is None and n:
            raise BodyError(422, "labels", "no labels: each query is scored against its label (the reference "
                            "report, or radrl export's JSON ground truth); without them every reward would be 0. "
                            "Pass the dataset's label key to OpenRLHF")
        prompts = req.prompts or [""] * n
        rows = []
        for i, (q, p, lab) in enumerate(zip(req.query, prompts, req.labels or [])):
            try:
                rows.append(scoring_row(response_of(q, p), lab))
            except InputError as err:
                raise BodyError(422, f"labels.{i}", str(err)) from None
        components = await _scored(request, batcher, rows) if rows else []
        totals = scorer.totals(components, req.step)
        names = list(components[0]) if components else []
        extra = {name: [float("nan") if c[name] is None else c[name] for c in components] for name in names}
        body = json.dumps({"rewards": totals, "scores": totals, "extra_logs": extra})  # NaN allowed: OpenRLHF reads it
        return Response(body, media_type="application/json")

    async def body_error(request: Request, err: BodyError):
        return _error(err.status, err.field, err.message)

    async def input_error(request: Request, err: InputError):
        return _error(422, "labels", str(err))

    async def scorer_died(request: Request, err: BrokenExecutor):
        logger.error("the scoring process is gone (%s); restart radrl serve", type(err).__name__)
        return _error(503, None, "the scoring process is gone (out of memory, or killed): restart radrl serve")

    async def client_gone(request: Request, err: ClientGone):
        return Response(status_code=499)  # nobody reads it: the connection is closed

    app = Starlette(routes=[Route("/health", health, methods=["GET"]), Route("/v1/info", info, methods=["GET"]),
                            Route("/v1/rewards", rewards, methods=["POST"]),
                            Route("/get_reward", get_reward, methods=["POST"])],
                    exception_handlers={BodyError: body_error, InputError: input_error,
                                        ClientGone: client_gone, BrokenExecutor: scorer_died}, lifespan=lifespan)
    app.state.batcher = batcher
    return Guard(app, int(options.max_body_mb * 1e6), token)


def _finite(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
