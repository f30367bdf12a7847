"""One registry pattern for everything a recipe names by a string: reward types, labelers,
dataset kinds and selection methods (as verl's ``core_algos.py`` registers its estimators).

```python
from radrl.rewards import REWARDS, RewardFunction

@REWARDS.register("my_reward")
class MyReward(RewardFunction):
    needs_labeler = True       # build_rewards hands it the run's shared (cached) labeler
    ...
```

Entries say what they need through class attributes (``needs_labeler``, ``needs_judge``,
``needs_model``); the code that builds them reads those, never a list of names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from radrl.io import ConfigError, FieldError, did_you_mean

T = TypeVar("T")


__all__ = ["Registry", "did_you_mean"]


class Registry(Generic[T]):
    """Names -> objects (classes or factory functions) of one kind, e.g. ``Registry("reward type")``."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None):
        """``@REG.register("name")`` on a class or function, or ``REG.register("name", obj)``.
        Registering a name again replaces the entry (user code may override a built-in)."""
        def add(target: T) -> T:
            self._entries[name] = target
            return target

        return add(obj) if obj is not None else add

    def get(self, name: str, field: str | None = None) -> T:
        """The entry called ``name``; else a ``ConfigError`` (a ``FieldError`` naming ``field``
        when given) listing the valid names and the closest one."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            message = self.unknown(name)
            raise (FieldError(field, message) if field else ConfigError(message)) from None

    def unknown(self, name) -> str:
        """What to tell a user who named ``name``, which is not registered: the valid names and
        the closest one."""
        return f"unknown {self.what} {name!r}{did_you_mean(name, self._entries)}; choose one of {', '.join(self.names())}"

    def unregister(self, name: str) -> None:
        """Remove an entry (a test's or a notebook's own registration); unknown names are ignored."""
        self._entries.pop(name, None)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"
