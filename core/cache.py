"""Loaded models, kept across jobs and evicted least-recently-used past a memory budget."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, TypeVar

import torch

T = TypeVar("T")


def object_bytes(obj: Any) -> int:
    """Bytes held by a module's parameters and buffers (0 for objects that are not modules)."""
    if isinstance(obj, torch.nn.Module):
        tensors = list(obj.parameters()) + list(obj.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    return 0


class ModelCache:
    """Thread-safe LRU cache keyed by (component, device, dtype, ...).

    A factory runs at most once per key at a time; the budget counts module bytes, so one component larger
    than the budget is still kept (alone) rather than reloaded for every batch.
    """

    def __init__(self, budget_bytes: int | None = None):
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.RLock()
        self.loads = 0

    def get(self, key: Hashable, factory: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            obj = factory()
            self.loads += 1
            self._items[key] = (obj, object_bytes(obj))
            self._evict(keep=key)
            return obj

    def _evict(self, keep: Hashable) -> None:
        if self.budget_bytes is None:
            return
        while self.total_bytes() > self.budget_bytes and len(self._items) > 1:
            oldest = next(iter(self._items))
            if oldest == keep:
                break
            del self._items[oldest]
        _release_gpu_memory()

    def set_budget(self, budget_bytes: int | None) -> None:
        with self._lock:
            self.budget_bytes = budget_bytes
            if self._items:
                self._evict(keep=next(reversed(self._items)))

    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._items.values())

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def unload_all(self) -> None:
        with self._lock:
            self._items.clear()
        _release_gpu_memory()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items


def _release_gpu_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


_default: ModelCache | None = None
_default_lock = threading.Lock()


def default_cache() -> ModelCache:
    """The process-wide cache the app and CLI share (budget from $MOUTHPIECE_CACHE_GB, unlimited if unset)."""
    global _default
    with _default_lock:
        if _default is None:
            gb = os.environ.get("MOUTHPIECE_CACHE_GB")
            _default = ModelCache(int(float(gb) * 2**30) if gb else None)
        return _default
