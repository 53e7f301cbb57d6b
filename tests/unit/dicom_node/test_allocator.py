"""The allocator setting of the service (``analysis.retain_freed_memory``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from config.settings import Settings

_PROBE = textwrap.dedent(
    """
    import json, os, resource, sys
    import numpy as np
    if sys.argv[1] == "on":
        from dicom_node.setup import retain_freed_memory
        assert retain_freed_memory()
    page = os.sysconf("SC_PAGE_SIZE")
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page
    base = rss()
    kept, faults = [], []
    for _ in range(3):  # 48 MB maps of a 12 MP photo, freed, and the next photo's
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = [np.ones((3000, 4000), np.float32) for _ in range(2)]
        del a
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        kept.append(rss() - base)
    print(json.dumps({"kept": kept, "faults": faults}))
    """
)


def _probe(mode: str) -> dict[str, list[int]]:
    r = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    out: dict[str, list[int]] = json.loads(r.stdout)
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_arrays_are_kept_for_the_next_photo() -> None:
    arrays = 2 * 3000 * 4000 * 4  # bytes: within TRIM_THRESHOLD
    default, kept = _probe("off"), _probe("on")
    # glibc's default: each 48 MB array goes back to the kernel when freed
    assert max(default["kept"]) < 0.1 * arrays
    # kept: the freed arrays stay in the heap (bounded by TRIM_THRESHOLD) ...
    assert min(kept["kept"]) > 0.9 * arrays
    # ... and the next photo's arrays reuse them without touching a fresh page
    assert max(kept["faults"][1:]) < 0.02 * arrays / 4096
    assert Settings().analysis.retain_freed_memory is True  # the service's default
