"""Loaded models, kept across jobs, evicted least-recently-used past a memory budget, and placed on the accelerator
in one of three ways.

Placement of a module (``get(..., placement=..., device=...)``):

- ``"resident"``   moved to the device once and kept there (fastest; the default);
- ``"offload"``    kept in CPU memory and moved to the device only inside ``with cache.on_device(module):``; entering
                   it first moves any other offloaded module back to the CPU, so one offloaded model at a time holds
                   accelerator memory (model-level CPU offload, as diffusers' ``enable_model_cpu_offload``);
- ``"sequential"`` weights stay in CPU memory and stream to the device layer by layer at every forward call
                   (accelerate's ``cpu_offload`` hooks): the least accelerator memory, the slowest.

Factories run outside the cache's lock (one loader per key; others asking for the same key wait for it), so
listing what is loaded never waits for a load. ``report()`` says what is resident where.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from core.errors import BadInputError

T = TypeVar("T")
PLACEMENTS = ("resident", "offload", "sequential")


def object_bytes(obj: Any) -> int:
    """Bytes held by a module's parameters and buffers (0 for objects that are not modules)."""
    if isinstance(obj, torch.nn.Module):
        tensors = list(obj.parameters()) + list(obj.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    return 0


@dataclass
class _Entry:
    obj: Any
    size: int
    placement: str
    device: torch.device | None


class ModelCache:
    """Thread-safe LRU cache keyed by (component, device, dtype, ...).

    A factory runs at most once per key at a time; the budget counts module bytes, so one component larger
    than the budget is still kept (alone) rather than reloaded for every batch.
    """

    def __init__(self, budget_bytes: int | None = None):
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = {}
        self._lock = threading.RLock()
        self._device_lock = threading.Lock()
        self.loads = 0

    def get(self, key: Hashable, factory: Callable[[], T], placement: str = "resident",
            device: torch.device | str | None = None) -> T:
        """The cached object for ``key``, built by ``factory()`` on a miss and then placed (modules only)."""
        if placement not in PLACEMENTS:
            raise BadInputError(f"unknown placement {placement!r}: use {', '.join(PLACEMENTS)}")
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key].obj
            loader = self._loading.setdefault(key, threading.Lock())
        with loader:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key].obj
            try:
                obj = factory()
                target = torch.device(device) if device is not None else None
                if isinstance(obj, torch.nn.Module) and target is not None:
                    _place(obj, placement, target)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self.loads += 1
                self._items[key] = _Entry(obj, object_bytes(obj), placement, target)
                self._evict(keep=key)
            return obj

    @contextlib.contextmanager
    def on_device(self, module: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """Use an ``"offload"``-placed module on its device: other offloaded modules go back to the CPU first.
        For resident or sequential modules this does nothing."""
        entry = self._entry_of(module)
        if entry is None or entry.placement != "offload":
            yield module
            return
        with self._device_lock:
            with self._lock:
                others = [e for e in self._items.values() if e.placement == "offload" and e.obj is not module]
            for other in others:
                other.obj.to("cpu")
            module.to(entry.device)
            yield module

    def report(self) -> list[tuple[Hashable, str, int]]:
        """(key, where its weights are, bytes) for everything loaded; where = a device, "cpu", or
        "streamed to <device>" for sequential offload."""
        with self._lock:
            entries = list(self._items.items())
        rows = []
        for key, entry in entries:
            if entry.placement == "sequential":
                where = f"streamed to {entry.device}"
            else:
                where = str(_device_of(entry.obj)) if isinstance(entry.obj, torch.nn.Module) else "cpu"
            rows.append((key, where, entry.size))
        return rows

    def _entry_of(self, module: Any) -> _Entry | None:
        with self._lock:
            return next((e for e in self._items.values() if e.obj is module), None)

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
            return sum(entry.size for entry in self._items.values())

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


def _device_of(module: torch.nn.Module) -> torch.device:
    first = next(module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _place(module: torch.nn.Module, placement: str, device: torch.device) -> None:
    if placement == "resident":
        module.to(device)
    elif placement == "offload":
        module.to("cpu")
    else:
        from accelerate import cpu_offload

        module.to("cpu")
        cpu_offload(module, execution_device=device)


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
