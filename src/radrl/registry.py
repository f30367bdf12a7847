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

A recipe can also name an object of the user's own, with no fork of radrl:

- by dotted path, ``type: my_pkg.losses:MyLoss`` (module, a colon, then the attribute): the module
  is imported when the recipe is checked, and the object is registered under that string;
- by entry point: an installed package that declares ``[project.entry-points."radrl.plugins"]
  my_pkg = "my_pkg.radrl_plugin"`` has that module imported the first time a name is not found,
  so the ``@REG.register`` calls in it run and its short names work in recipes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Generic, TypeVar

from radrl.io import ConfigError, FieldError, did_you_mean

T = TypeVar("T")
PLUGIN_GROUP = "radrl.plugins"
"""The entry-point group whose modules are imported before a name is reported unknown."""
_plugins_loaded = False
_plugin_errors: list[str] = []


def load_plugins() -> list[str]:
    """Import every module that installed packages declare in the ``radrl.plugins`` entry-point
    group (once per process); returns the ones that failed, as "name (module): error"."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        from importlib.metadata import entry_points

        for entry in entry_points(group=PLUGIN_GROUP):
            try:
                entry.load()
            except Exception as err:  # a broken plugin must not hide the built-ins
                _plugin_errors.append(f"{entry.name} ({entry.value}): {type(err).__name__}: {err}")
    return list(_plugin_errors)


__all__ = ["Registry", "did_you_mean"]


class Registry(Generic[T]):
    """Names -> objects (classes or factory functions) of one kind, e.g. ``Registry("reward type")``."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, T] = {}
        self._import_errors: dict[str, str] = {}

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
        if name in self:
            return self._entries[name]
        message = self.unknown(name)
        raise (FieldError(field, message) if field else ConfigError(message))

    def _resolve(self, name: str) -> bool:
        """Try to make ``name`` known: import a dotted path ``module:attribute``, or the installed
        plugins; True when it then is."""
        if ":" in name:
            module, _, attribute = name.partition(":")
            try:
                target = getattr(importlib.import_module(module), attribute)
            except Exception as err:  # ImportError, AttributeError, or the module's own error
                self._import_errors[name] = f"{type(err).__name__}: {err}"
                return False
            self._entries[name] = target
            return True
        load_plugins()
        return name in self._entries

    def unknown(self, name) -> str:
        """What to tell a user who named ``name``, which is not registered: the valid names and
        the closest one, or why a dotted path did not import."""
        if isinstance(name, str) and name in self._import_errors:
            module = name.partition(":")[0]
            return (f"{self.what} {name!r} could not be imported from module {module!r} ({self._import_errors[name]}); "
                    "a dotted path is module.path:Name, with the module importable (on PYTHONPATH or installed)")
        message = f"unknown {self.what} {name!r}{did_you_mean(name, self._entries)}; choose one of {', '.join(self.names())}"
        if _plugin_errors:
            message += "; these radrl.plugins entry points failed to load: " + "; ".join(_plugin_errors)
        return message

    def unregister(self, name: str) -> None:
        """Remove an entry (a test's or a notebook's own registration); unknown names are ignored."""
        self._entries.pop(name, None)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._entries or self._resolve(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"
