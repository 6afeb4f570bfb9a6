"""One progress bar for every long loop of the library (tqdm, switchable with ``progress=``)."""

from __future__ import annotations

from tqdm import tqdm

# Show a bar on auto only when a loop does at least this much work (e.g. (state, action, step) updates).
_AUTO_PROGRESS_WORK = 2e8


def progress_bar(total: int, progress: bool | None, work: float, desc: str):
    """A tqdm bar over `total` steps; ``progress=None`` shows it only for large `work`."""
    disable = (not progress) if progress is not None else work < _AUTO_PROGRESS_WORK
    return tqdm(total=total, disable=disable, desc=desc, leave=False)
