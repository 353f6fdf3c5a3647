"""Progress on a terminal: a core progress callback (fraction, message) drawn as one tqdm bar. Used by every command
(``core.cli``, ``core.audio.cli``, ``core.weights.cli``), none of which imports another for it."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def tqdm_progress(desc: str) -> Iterator[Callable[[float, str], None]]:
    """A core progress callback (fraction, message) drawn as one tqdm bar on the terminal."""
    from tqdm import tqdm

    with tqdm(total=1000, desc=desc, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}") as bar:
        def report(fraction: float, message: str) -> None:
            bar.set_postfix_str(message[-60:])
            bar.update(max(int(fraction * 1000) - bar.n, 0))

        yield report
