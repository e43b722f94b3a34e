"""A per-data-dir lock so two ingests never write the same store at once."""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import IngestError

log = logging.getLogger(__name__)


@contextmanager
def ingest_lock(data_dir: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on `data_dir/ingest.lock`; wait up to `timeout` seconds.

    The kernel drops the lock when the holder dies (even by SIGKILL), so a crash never
    leaves the store locked.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "ingest.lock", "a+") as handle:
        deadline = time.monotonic() + timeout
        warned = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IngestError(
                        f"another ingest holds {data_dir / 'ingest.lock'}; wait for it to finish or raise RAGQA_LOCK_TIMEOUT"
                    ) from None
                if not warned:
                    log.warning("another ingest is running on %s; waiting", data_dir)
                    warned = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
