"""``radrl serve``: a recipe's rewards over HTTP, for any RL engine (``pip install radrl[serve]``).

``app.py`` holds the endpoints, ``batcher.py`` gathers concurrent requests into labeler batches.
:func:`check_bind` is the safety rule: loopback by default, anything else only with a token.
"""

from __future__ import annotations

import ipaddress
import os

from radrl.io import InputError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token_env: str | None) -> str | None:
    """The token the server requires (``None``: none), or an ``InputError`` when binding
    ``host`` would expose reports without one."""
    token = os.environ.get(token_env) if token_env else None
    if token_env and not (token and token.strip()):
        raise InputError(f"--token-env {token_env}: that environment variable is not set, or empty or blank; "
                         f"export {token_env}=<a long random secret> first")
    if token is not None and (token != token.strip() or " " in token):
        raise InputError(f"--token-env {token_env}: the token holds white space, which an Authorization header "
                         "cannot carry intact; use a token without spaces")
    if not is_loopback(host) and not token:
        raise InputError(f"--host {host} is not loopback: reports may hold patient information, so the server "
                         "refuses to listen there without a bearer token. Set one with --token-env VAR "
                         "(export VAR=<a long random secret>), or keep the default 127.0.0.1")
    return token


def serve(scorer, options, token: str | None, recipe_name: str = "") -> None:
    """Run the server in the foreground until interrupted (``token``: what :func:`check_bind`
    returned for ``options``)."""
    import uvicorn

    from radrl.integrations.serve.app import create_app

    app = create_app(scorer, options, token=token, recipe_name=recipe_name)
    uvicorn.run(app, host=options.host, port=options.port, log_level=options.log_level,
                access_log=options.log_level == "debug")
