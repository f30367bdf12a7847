"""Settings of an LLM judge behind an OpenAI-compatible endpoint (a recipe's ``judge:``); the
client is :class:`radrl.judges.JudgeClient`. The API key is read only from the environment
variable ``api_key_env`` names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from radrl.io import ConfigError, FieldError


@dataclass
class JudgeConfig:
    base_url: str                               # e.g. http://127.0.0.1:8000/v1
    model: str
    api_key_env: str | None = None              # name of the environment variable holding the key
    timeout: float = 60.0                       # seconds per request, the whole request (not per read)
    max_response_bytes: int = 8_000_000         # a larger answer is refused
    max_retries: int = 3
    backoff: float = 1.0                        # first retry after ~backoff s, then doubling
    concurrency: int = 32
    temperature: float = 0.0
    max_tokens: int = 512
    cache: str | None = None                    # SQLite file; None: no cache
    on_error: str = "raise"                     # "raise" or "fallback" (to the offline default)
    extra_body: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.base_url.startswith(("http://", "https://")):
            raise FieldError("base_url", f"judge base_url must start with http:// or https://, got {self.base_url!r}")
        if self.on_error not in ("raise", "fallback"):
            raise FieldError("on_error", f"judge on_error must be 'raise' or 'fallback', got {self.on_error!r}")
        if self.concurrency < 1:
            raise FieldError("concurrency", "judge concurrency must be >= 1")
        if self.timeout <= 0:
            raise FieldError("timeout", "judge timeout must be > 0 seconds")
        if self.max_response_bytes < 1024:
            raise FieldError("max_response_bytes", "judge max_response_bytes must be >= 1024")

    def api_key(self) -> str | None:
        """The key from the environment variable ``api_key_env`` (``None`` without one); never
        stored in the config, never logged."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(f"the judge's API key variable {self.api_key_env} is not set in the environment")
        return key
