"""What every labeler offers: batched labelling with a cache keyed by the report text."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence

from radrl.schema import Labels


class CachedLabeler(ABC):
    """Base class: subclasses implement ``_label_uncached``; this adds an LRU cache by text.

    A GRPO group of 8 rollouts often repeats the same report, and the references are scored
    every step, so the cache saves most of the labelling work during RL.
    """

    name: str = "labeler"

    def __init__(self, cache_size: int = 200_000):
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Labels] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0

    @abstractmethod
    def _label_uncached(self, texts: Sequence[str]) -> list[Labels]:
        """Label distinct texts that are not in the cache."""

    def label(self, text: str) -> Labels:
        """Labels of one report."""
        return self.label_batch([text])[0]

    def label_batch(self, texts: Sequence[str]) -> list[Labels]:
        """Labels of each report, in order. Returns fresh dicts (safe to modify)."""
        texts = ["" if t is None else str(t) for t in texts]
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        self.cache_misses += len(todo)
        self.cache_hits += len(texts) - len(todo)
        if todo:
            for text, labels in zip(todo, self._label_uncached(todo)):
                self._cache[text] = labels
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        out = []
        for t in texts:
            labels = self._cache.get(t)
            if labels is None:  # evicted within this batch (tiny cache): label again
                labels = self._label_uncached([t])[0]
            out.append(dict(labels))
        return out

    def clear_cache(self) -> None:
        self._cache.clear()
        self.cache_hits = self.cache_misses = 0


def labels_or_labelled(gold: Sequence[Labels | None], texts: Sequence[str], labeler: CachedLabeler) -> list[Labels]:
    """Each item's gold labels, or, where it has none, ``labeler``'s labels of its text (one
    batched call for all of those)."""
    missing = [t for g, t in zip(gold, texts) if not g]
    labelled = iter(labeler.label_batch(missing)) if missing else iter(())
    return [g if g else next(labelled) for g in gold]
