"""Batch: a manifest (or a folder pair) in, a folder of results out; locally on this machine's GPU, or on Ray.

- ``manifest``: reading CSV / JSONL / YAML manifests and pairing folders by stem (rows as plain mappings);
- ``plan``: each row validated into its engine's request before any work, its job folder named from its name and
  request hash, resume decided from that folder's ``status.json``;
- ``runner``: ``run_row`` (one row as a ``core.jobs.run_job`` job), the local runner, ``run_batch`` (the driver);
- ``ray_runner``: one actor per GPU pulling rows, retries on a dead worker, cancel;
- ``summary``: the batch state, ``batch.json`` and the printed table;
- ``cli``: ``python -m core batch``.
"""
from .manifest import folder_rows, read_manifest
from .plan import Item, plan
from .runner import LocalRunner, run_batch, run_row

__all__ = ["Item", "LocalRunner", "folder_rows", "plan", "read_manifest", "run_batch", "run_row"]
