"""Loaded models, kept across jobs, evicted least-recently-used past a memory budget, and placed on the accelerator
in one of three ways.

Placement of a module (``get(..., placement=..., device=...)``), one per memory profile (``PROFILE_PLACEMENTS``):

- ``"resident"``   (profile full) moved to the device once and kept there (fastest; the default);
- ``"offload"``    (profile offload) kept in CPU memory and moved to the device when it runs: a forward pre-hook on
                   the module and each of its submodules brings the whole module to the device and sends the other
                   offloaded modules back to the CPU first, so one offloaded model at a time holds accelerator memory
                   and no call site changes (model-level CPU offload, as diffusers' ``enable_model_cpu_offload``).
                   ``with cache.on_device(module):`` does the same explicitly (for code that reads parameters
                   without calling the module);
- ``"sequential"`` (profile low) weights stay in CPU memory and stream to the device layer by layer at every
                   forward call (accelerate's ``cpu_offload`` hooks): the least accelerator memory, the slowest.

A cached object that is not a module but wraps one (``obj.module``, e.g. MoDA's motion generator) is placed through
it. Asking for a cached key with another placement re-places it (resident <-> offload by moving it; to or from
sequential by loading it again). Factories run outside the cache's lock (one loader per key; others asking for the
same key wait for it), so listing what is loaded never waits for a load. ``report()`` says where the weights are,
``placements()`` how each model is placed.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from core.errors import BadInputError

T = TypeVar("T")
PLACEMENTS = ("resident", "offload", "sequential")
PROFILE_PLACEMENTS = {"full": "resident", "offload": "offload", "low": "sequential"}


def module_of(obj: Any) -> torch.nn.Module | None:
    """The module the cache places for ``obj``: itself, or the module a wrapper exposes as ``obj.module``."""
    if isinstance(obj, torch.nn.Module):
        return obj
    inner = getattr(obj, "module", None)
    return inner if isinstance(inner, torch.nn.Module) else None


def object_bytes(obj: Any) -> int:
    """Bytes held by a module's parameters and buffers (a wrapper's module; 0 for other objects)."""
    obj = module_of(obj) or obj
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
    on_device: bool = False      # offload: the module is on its device now
    moves: int = 0               # offload: times it was brought to the device
    hooks: list = field(default_factory=list)


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
        """The cached object for ``key``, built by ``factory()`` on a miss, and placed (modules and wrappers of one)
        as ``placement`` says on ``device``."""
        if placement not in PLACEMENTS:
            raise BadInputError(f"unknown placement {placement!r}: use {', '.join(PLACEMENTS)}")
        target = torch.device(device) if device is not None else None
        with self._lock:
            hit = self._hit(key, placement, target)
            if hit is not None:
                return hit.obj
            loader = self._loading.setdefault(key, threading.Lock())
        with loader:
            with self._lock:
                hit = self._hit(key, placement, target)
                if hit is not None:
                    return hit.obj
            try:
                obj = factory()
                module = module_of(obj)
                if module is not None and target is not None:
                    _place(module, placement, target)
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self.loads += 1
                self._add(key, _Entry(obj, object_bytes(obj), placement, target))
                self._evict(keep=key)
            return obj

    def _add(self, key: Hashable, entry: _Entry) -> None:
        """Store ``entry`` (most recently used); an offloaded module gets its forward pre-hooks. Lock held."""
        module = module_of(entry.obj)
        if entry.placement == "offload" and module is not None and entry.device is not None:
            entry.hooks = [m.register_forward_pre_hook(lambda *_, e=entry: self._bring(e)) for m in module.modules()]
        self._items[key] = entry

    def _hit(self, key: Hashable, placement: str, target: torch.device | None) -> _Entry | None:
        """The entry for ``key`` (now the most recently used), placed as asked: resident <-> offload move in
        place; a change to or from sequential drops the entry, so that it is loaded again. Lock held."""
        entry = self._items.pop(key, None)
        if entry is None:
            return None
        module = module_of(entry.obj)
        if entry.placement != placement and module is not None and target is not None:
            _unhook(entry)
            if "sequential" in (entry.placement, placement):
                return None
            _place(module, placement, target)
            entry = _Entry(entry.obj, entry.size, placement, target)
        self._add(key, entry)
        return entry

    def _bring(self, entry: _Entry) -> None:
        """Move an offloaded module to its device, the other offloaded ones that are there back to the CPU first."""
        if entry.on_device:
            return
        with self._device_lock:
            if entry.on_device:
                return
            with self._lock:
                others = [e for e in self._items.values() if e.on_device and e is not entry]
            for other in others:
                module_of(other.obj).to("cpu")
                other.on_device = False
            module_of(entry.obj).to(entry.device)
            entry.on_device = True
            entry.moves += 1

    @contextlib.contextmanager
    def on_device(self, module: Any) -> Iterator[Any]:
        """Use an ``"offload"``-placed module (or wrapper) on its device, as its forward pre-hook would: for code
        that reads its parameters without calling it. For resident or sequential modules this does nothing."""
        entry = self._entry_of(module)
        if entry is not None and entry.placement == "offload":
            self._bring(entry)
        yield module

    def report(self) -> list[tuple[Hashable, str, int]]:
        """(key, where its weights are, bytes) for everything loaded; where = a device, "cpu", or
        "streamed to <device>" for sequential offload."""
        with self._lock:
            entries = list(self._items.items())
        rows = []
        for key, entry in entries:
            module = module_of(entry.obj)
            if entry.placement == "sequential":
                where = f"streamed to {entry.device}"
            else:
                where = str(_device_of(module)) if module is not None else "cpu"
            rows.append((key, where, entry.size))
        return rows

    def placements(self) -> dict[Hashable, str]:
        """How each loaded model (a module, or a wrapper of one) is placed: resident, offload or sequential, as
        ``get`` was last asked. Other cached objects (tokenizers, ONNX sessions) have no placement."""
        with self._lock:
            return {key: e.placement for key, e in self._items.items() if module_of(e.obj) is not None}

    def offload_moves(self, key: Hashable) -> tuple[bool, int]:
        """(on its device now, times brought there) for an offloaded model: the forward pre-hook's bookkeeping."""
        with self._lock:
            entry = self._items[key]
            return entry.on_device, entry.moves

    def bytes_on(self, device: torch.device | str) -> int:
        """Bytes of the loaded models whose weights are on the accelerator ``device`` now (a job may reuse or
        evict them); 0 for the CPU."""
        device = torch.device(device)
        if device.type == "cpu":
            return 0
        with self._lock:
            modules = [(module_of(e.obj), e.size) for e in self._items.values() if e.placement != "sequential"]
        return sum(size for module, size in modules if module is not None and _same_device(_device_of(module), device))

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
            _unhook(self._items.pop(oldest))
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
            for entry in self._items.values():
                _unhook(entry)
            self._items.clear()
        _release_gpu_memory()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items


def _device_of(module: torch.nn.Module) -> torch.device:
    first = next(module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _same_device(a: torch.device, b: torch.device) -> bool:
    """cuda and cuda:0 are the same device (an index-less CUDA device means the first)."""
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def _unhook(entry: _Entry) -> None:
    for hook in entry.hooks:
        hook.remove()
    entry.hooks = []


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
