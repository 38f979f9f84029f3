"""Progress bars of long training steps: shown on a terminal by default, on or off when asked."""
from __future__ import annotations


def no_bar(progress: bool | None) -> bool | None:
    """tqdm's `disable` for a `progress` argument; None lets tqdm show bars only on a terminal."""
    return None if progress is None else not progress
