"""Library-global flags, set in one place (STYLE.md §5, §7)."""

from __future__ import annotations

import warnings

from pydicom import config as pydicom_config
from pynetdicom import _config as pynetdicom_config
from reportlab import rl_config

__all__ = ["apply"]


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
