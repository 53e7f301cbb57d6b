"""Bounded resources: descriptors, threads and memory stay flat over 1000 associations.

Each association stores a photo by C-STORE on a running service (real SCP, job store and
status server); every tenth round also reads /metrics. Before the job store pooled its
connections, each association left a SQLite connection (2 descriptors) open for good.
"""

from __future__ import annotations

import pytest

from benchmarks.soak import soak

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.serial]


def test_descriptors_threads_and_memory_stay_flat_over_1000_associations() -> None:
    r = soak(1000)
    before, after = r.before, r.after
    print(f"\nsoak: before {before}, after {after}")
    assert r.error is None and r.completed == 1000
    assert after.fds - before.fds <= 4  # was +2000 (2 per association)
    assert after.threads <= before.threads + 1
    assert after.rss_mib - before.rss_mib < 40
