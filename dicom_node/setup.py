"""Library-global flags, set in one place (STYLE.md §5, §7)."""

from __future__ import annotations

import ctypes
import logging
import sys
import warnings

from pydicom import config as pydicom_config
from pynetdicom import _config as pynetdicom_config
from reportlab import rl_config

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "apply", "retain_freed_memory"]

logger = logging.getLogger(__name__)


def apply() -> None:
    """Set the library flags that keep patient data out of logs.

    - pynetdicom: no logging of C-FIND/C-MOVE identifiers and no handler-level dumps.
    - pydicom: reading validation off; it logs and warns with element *values* (patient
      names) when it meets an invalid value, and DermNode reads untrusted data sets.
      ``pydicom.config.debugging`` must never be switched on for the same reason.
    - reportlab: image streams in the PDF reports stay binary (Flate/JPEG) instead of ASCII85
      text; the encoder is pure Python and cost ~0.7 s per drawn photo; a PDF carries binary
      streams by design (ISO 32000).
    """
    pynetdicom_config.LOG_REQUEST_IDENTIFIERS = False
    pynetdicom_config.LOG_RESPONSE_IDENTIFIERS = False
    pynetdicom_config.LOG_HANDLER_LEVEL = "none"
    pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
    # pydicom also *warns* about odd data sets (a mismatched Photometric Interpretation, an
    # odd length); the same text goes to its logger, so the warnings are only noise, and
    # Python would print them to stderr with their text.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
    rl_config.useA85 = 0


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap, where freed memory is reused, not from fresh
#: pages of the kernel (glibc's default: 128 KiB, adapting up to 32 MiB).
MMAP_THRESHOLD = 64 * 2**20
#: Free memory at the top of the heap that is kept for the next photo rather than returned.
TRIM_THRESHOLD = 128 * 2**20


def retain_freed_memory() -> bool:
    """Let the C allocator keep freed memory for the next photo (glibc only).

    An analysis allocates and frees a few hundred megabytes of arrays (the working frame's
    maps, the camera-detail tiles, the maps at source size). By default glibc gives blocks
    over 32 MiB, and the free top of its heaps, back to the kernel, so the next photo takes
    every page again as a fresh, zeroed page fault (on the 2-core development VM 56 000-87 000
    faults per close-up photo). With this, arrays up to :data:`MMAP_THRESHOLD` come from the
    heap and up to :data:`TRIM_THRESHOLD` of freed heap is kept: about half the faults, with
    no more resident memory (``benchmarks/analysis.py --sequence``, docs/performance.md;
    256 / 512 MiB saved nearly all the faults but kept ~370 MB more resident, near the 2 GB
    budget). Returns whether it was applied (not on other C libraries).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    )
    logger.debug("allocator keeps freed memory: %s", ok)
    return ok
