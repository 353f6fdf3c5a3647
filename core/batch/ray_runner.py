"""The Ray runner: one long-lived actor per GPU (one per machine on a cluster without GPUs), each with its own model
cache, running rows through the same ``run_row`` as the local runner.

- Start: ``ray.init()`` (a local Ray with its dashboard) or ``ray.init(address)`` (join a cluster); an address that
  does not answer a TCP connect within ``connect_timeout`` seconds is refused in one line, before ``ray.init`` could
  wait on it. A Ray already initialised in this process (a test, a notebook) is used as it is and left running.
- Actors: ``num_gpus=gpus_per_job`` (Ray sets ``CUDA_VISIBLE_DEVICES``, so ``device=auto`` means that GPU) where the
  cluster has GPUs, else ``num_cpus=1``; ``max_concurrency=2`` so that ``progress()`` and ``cancel()`` answer while a
  row runs. Workers see this process's ``MOUTHPIECE_*`` variables and the repository on ``PYTHONPATH``: on a cluster
  Mouthpiece must be installed at the same path on every machine.
- Outputs: every actor writes a probe file into the out-dir before the batch starts, so an out-dir that is not shared
  storage (or not writable) on some machine stops the batch in one line, before any work.
- Faults: a row whose actor died (killed process, lost node: ``RayActorError``) runs again on a fresh actor, at most
  ``retries`` more times; the row's job folder is emptied first (``core.jobs.run_job(job_dir=...)``).
- Stop: Ctrl-C, SIGTERM or the cancel event call each busy actor's ``cancel()`` (the job's cancel event: the row ends
  at its next batch boundary, status cancelled); actors that do not answer within ``cancel_timeout`` are killed.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from core import paths
from core.errors import BadInputError, JobCancelled

from .runner import Notify, finish, run_row
from .summary import Batch

POLL_S = 0.5


class BatchWorker:
    """The actor body: runs one row at a time; reports progress and takes a cancel while it runs."""

    def __init__(self):
        self.cancel_event = threading.Event()
        self.state: dict[str, Any] = {}

    def probe(self, out_dir: str) -> str:
        """Write and remove a file in the out-dir; returns this worker's machine name. Raises if it cannot."""
        probe = Path(out_dir) / f".probe-{socket.gethostname()}-{os.getpid()}"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
        return socket.gethostname()

    def run(self, payload: dict[str, Any], job_dir: str) -> dict[str, Any]:
        self.cancel_event.clear()
        self.state = {"fraction": 0.0, "message": "starting"}

        def progress(fraction: float, message: str) -> None:
            self.state = {"fraction": fraction, "message": message}

        try:
            return run_row(payload, job_dir, progress, self.cancel_event)
        finally:
            self.state = {}

    def progress(self) -> dict[str, Any]:
        return {**self.state, "pid": os.getpid()}

    def cancel(self) -> None:
        self.cancel_event.set()


GCS_PROBE = "/ray.rpc.NodeInfoGcsService/GetClusterId"   # any GCS method: only the status of the answer matters


def check_reachable(address: str, timeout: float) -> None:
    """One line, within ``timeout`` seconds, unless a Ray head's GCS answers at ``host:port``.

    The probe is one gRPC call to a GCS method: a head answers it (or refuses it for a missing auth token,
    UNAUTHENTICATED, which proves it is there); nothing listening, a closed port, or a proxy answering for hosts that
    do not exist (UNAVAILABLE, UNIMPLEMENTED, DEADLINE_EXCEEDED) is refused. A TCP connect alone is not enough:
    firewalls and proxies accept connections for hosts that are not there."""
    import grpc

    if address.startswith("ray://"):
        raise BadInputError(f"Ray address {address}: the Ray Client (ray://) is not supported; run the batch on a "
                            "machine of the cluster with --ray HEAD:6379 (or --ray auto)")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BadInputError(f"Ray address {address!r}: use host:port (the head's `ray start --head` prints it) or auto")
    channel = grpc.insecure_channel(address)
    try:
        channel.unary_unary(GCS_PROBE)(b"", timeout=timeout)
        return
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            return
        reason = (exc.details() or exc.code().name).splitlines()[0][:80]
    finally:
        channel.close()
    raise BadInputError(f"no Ray head answers at {address} within {timeout:g} s ({reason}): start one there with "
                        "`ray start --head`, or give --ray alone for a local Ray")


class RayRunner:
    def __init__(self, address: str | None = None, workers: int | None = None, gpus_per_job: float = 1.0,
                 retries: int = 2, connect_timeout: float = 10.0, cancel_timeout: float = 30.0):
        if gpus_per_job <= 0:
            raise BadInputError(f"--gpus-per-job must be more than 0, got {gpus_per_job:g}")
        if retries < 0:
            raise BadInputError(f"--retries must be 0 or more, got {retries}")
        if workers is not None and workers < 1:
            raise BadInputError(f"--workers must be 1 or more, got {workers}")
        self.address, self.requested, self.gpus_per_job = address, workers, gpus_per_job
        self.retries, self.connect_timeout, self.cancel_timeout = retries, connect_timeout, cancel_timeout
        self.workers = workers or 1
        self.label = f"ray {address}" if address else "ray"
        self._started_here = False

    def check_address(self) -> None:
        """Refuse, in one line within ``connect_timeout``, an address where nothing answers."""
        if self.address and self.address != "auto":
            check_reachable(self.address, self.connect_timeout)

    def connect(self) -> None:
        """Join (or start) Ray; refuses an address that does not answer."""
        import ray

        self.check_address()
        if ray.is_initialized():
            return
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM) if main_thread else None
        ray.init(address=self.address)
        if main_thread:  # ray.init makes SIGTERM exit at once; keep ours (core.cli.guarded: cancel the running rows)
            signal.signal(signal.SIGTERM, previous)
        self._started_here = True

    def _actor_options(self) -> tuple[dict[str, Any], int]:
        import ray

        gpus = ray.cluster_resources().get("GPU", 0)
        if gpus:
            return {"num_gpus": self.gpus_per_job, "num_cpus": 1}, max(1, int(gpus // self.gpus_per_job))
        return {"num_cpus": 1}, max(1, sum(1 for node in ray.nodes() if node.get("Alive")))

    def run(self, todo: list, batch: Batch, notify: Notify, cancel_event: threading.Event) -> None:
        import ray
        from ray.exceptions import RayActorError, WorkerCrashedError

        self.connect()
        actors: list = []
        try:
            options, count = self._actor_options()
            self.workers = min(self.requested or count, max(len(todo), 1))
            batch.workers = self.workers
            remote = ray.remote(max_concurrency=2, **options)(BatchWorker).options(
                runtime_env={"env_vars": worker_env()})
            actors += [remote.remote() for _ in range(self.workers)]
            self._probe(actors, batch.out_dir)
            self._loop(todo, batch, notify, cancel_event, remote, actors, (RayActorError, WorkerCrashedError))
        finally:
            for actor in actors:
                ray.kill(actor)
            if self._started_here:
                ray.shutdown()
                self._started_here = False

    def _probe(self, actors: list, out_dir: Path) -> None:
        import ray

        try:
            ray.get([a.probe.remote(str(out_dir)) for a in actors], timeout=120)
        except Exception as exc:  # noqa: BLE001 - any failure to write there means the same thing to the creator
            cause = getattr(exc, "cause", None) or exc
            raise BadInputError(f"a Ray worker cannot write to {out_dir} ({type(cause).__name__}: "
                                f"{str(cause).splitlines()[-1] if str(cause) else ''}): on a cluster of several "
                                "machines --out-dir must be shared storage mounted at the same path on each") from None

    def _loop(self, todo, batch, notify, cancel_event, remote, actors, died) -> None:
        import ray

        queue = deque(todo)
        busy: dict[Any, tuple[int, Any]] = {}   # task ref -> (actor slot, item)
        idle = list(range(len(actors)))
        try:
            while queue or busy:
                if cancel_event.is_set():
                    raise JobCancelled("batch cancelled")
                while queue and idle:
                    slot, item = idle.pop(0), queue.popleft()
                    row = batch.row(item.number)
                    row.status, row.attempts, row.fraction = "running", row.attempts + 1, 0.0
                    busy[actors[slot].run.remote(item.payload, str(item.job_dir))] = (slot, item)
                    notify(True)
                ready, _ = ray.wait(list(busy), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    slot, item = busy.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except died as exc:
                        actors[slot] = remote.remote()   # a fresh worker takes the dead one's place
                        outcome = self._retry(batch.row(item.number), item, queue, exc)
                    if outcome is not None:
                        finish(batch, item.number, outcome)
                    idle.append(slot)
                    notify(True)
                self._poll(busy, actors, batch, died)
                notify(False)
        except (KeyboardInterrupt, JobCancelled):
            self._cancel(busy, actors, batch)
            raise

    def _retry(self, row, item, queue, exc) -> dict[str, Any] | None:
        """Queue the row again after its worker died, or its failed outcome once the retries are spent."""
        if row.attempts <= self.retries:
            row.status, row.worker, row.fraction = "pending", None, 0.0
            row.message = f"worker died ({type(exc).__name__}); retry {row.attempts} of {self.retries}"
            queue.appendleft(item)
            return None
        return {"status": "failed", "seconds": None,
                "error": f"the worker running it died {row.attempts} times ({type(exc).__name__})"}

    def _poll(self, busy, actors, batch, died) -> None:
        """Each running row's progress and worker pid, asked of all busy actors at once (a dead or slow one is
        skipped until the next round)."""
        import ray

        asked = {actors[slot].progress.remote(): item for slot, item in busy.values()}
        ready, _ = ray.wait(list(asked), num_returns=len(asked), timeout=POLL_S)
        for ref in ready:
            try:
                state = ray.get(ref)
            except died:   # its run() reference reports the death
                continue
            row = batch.row(asked[ref].number)
            row.worker = state.get("pid")
            if "fraction" in state:
                row.fraction, row.message = state["fraction"], state["message"]

    def _cancel(self, busy, actors, batch) -> None:
        """Ask every busy actor to cancel its row; record what they answer within ``cancel_timeout``."""
        import ray

        for slot, _ in busy.values():
            actors[slot].cancel.remote()
        deadline = time.monotonic() + self.cancel_timeout
        while busy and time.monotonic() < deadline:
            ready, _ = ray.wait(list(busy), num_returns=len(busy), timeout=max(deadline - time.monotonic(), 0))
            for ref in ready:
                _, item = busy.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception:  # noqa: BLE001 - a worker that died while stopping: its row is simply not done
                    outcome = {"status": "cancelled", "error": "cancelled", "seconds": None}
                finish(batch, item.number, outcome)


def worker_env() -> dict[str, str]:
    """What a worker process needs of this one's environment: the repository on the path, Mouthpiece's folders."""
    env = {k: v for k, v in os.environ.items() if k.startswith("MOUTHPIECE_") or k in ("HF_HUB_OFFLINE", "HF_HOME")}
    path = [str(paths.REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    return env
