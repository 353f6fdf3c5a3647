"""`python -m core ...` entry point.

The SIGTERM handler is installed first, before anything slow (torch, transformers, the engines) is imported, so a
signal at any instant — even during the imports — cancels: exit 130, "cancelled", nothing written.
"""
import sys

from core.cli import cancel_on_sigterm, main, report_cancelled
from core.errors import JobCancelled

cancel_on_sigterm()
try:
    code = main()
except (JobCancelled, KeyboardInterrupt) as exc:  # a signal during the imports in main(), before guarded() runs
    code = report_cancelled(exc)
sys.exit(code)
