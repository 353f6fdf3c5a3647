"""Start the Mouthpiece studio: python app.py [--host H] [--port P] [--share] [--checkpoints DIR]."""
from __future__ import annotations

import argparse
import importlib.util
import os

if importlib.util.find_spec("spaces") is not None:  # Hugging Face ZeroGPU: spaces must patch torch before it loads
    import spaces  # noqa: F401


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Mouthpiece studio (Gradio web UI)")
    # Hugging Face Spaces set GRADIO_SERVER_NAME/PORT; honour them as defaults.
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="interface to listen on (0.0.0.0 for the whole network)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also open a public *.gradio.live link")
    parser.add_argument("--checkpoints", metavar="DIR", help="model weights folder (default: ./checkpoints)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from ui.app import build_app, launch_options

    demo = build_app(checkpoints=args.checkpoints)
    # One job at a time: every engine shares the single accelerator (core.jobs holds the GPU lock too).
    demo.queue(default_concurrency_limit=1).launch(
        server_name=args.host, server_port=args.port, share=args.share, prevent_thread_lock=True, **launch_options())
    serve_until_signalled(demo)


def serve_until_signalled(demo) -> None:
    """Serve until SIGINT/SIGTERM; then cancel running jobs (each stops within one batch and removes its partial
    output, its status.json saying "cancelled") and close the server."""
    import signal
    import threading
    import time

    from core import jobs

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    stop.wait()
    jobs.cancel_all()
    deadline = time.monotonic() + 60
    while jobs.active_jobs() and time.monotonic() < deadline:
        time.sleep(0.1)
    demo.close()


if __name__ == "__main__":
    main()
