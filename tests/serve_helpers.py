"""A real `radrl serve` app on a loopback port, in a thread (uvicorn), for the server tests."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(recipe: str = "deer_tfidf", token: str | None = None, overrides=(), wrap=None, **options):
    """``(url, scorer)`` of a server on 127.0.0.1 scoring with ``recipe`` (through ``wrap(scorer)``
    when given: a slower one, say)."""
    import uvicorn

    from radrl.config.commands import ServeOptions
    from radrl.integrations.serve.app import create_app
    from radrl.recipe import load_recipe
    from radrl.rewards.offline import RewardScorer

    scorer = RewardScorer(load_recipe(recipe, overrides=list(overrides)))
    if wrap is not None:
        scorer = wrap(scorer)
    opts = ServeOptions(port=free_port(), **options)
    app = create_app(scorer, opts, token=token, recipe_name=recipe)
    # log_config=None: uvicorn's loggers propagate, so caplog sees every line it writes
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=opts.port, log_level="debug",
                                           log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{opts.port}", scorer
    finally:
        server.should_exit = True
        thread.join(10)
