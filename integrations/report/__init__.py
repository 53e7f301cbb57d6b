"""The human-readable reports and their DICOM wrapper.

The clinician report (``report.pdf``) has one landscape A4 page per photo: the patient/study
header, the photo with its zones outlined and the binary feature maps filled (colours in a
legend; the same colours as the SEG segments), the continuous maps as small heat panels, a bar
per concern score, a zone table, the quality warnings, what was not assessed and why, the
limits of the method, and the statement that this is decision support, not a diagnosis. A
photo with earlier results gets "since last visit" pages after its own.

Modules, each one job:

- :mod:`~integrations.report.fonts`: Latin and Hangul/Hanja fonts.
- :mod:`~integrations.report.texts`: fixed wording, value and name formatting.
- :mod:`~integrations.report.overlays`: pictures over a photo (also used by the Secondary
  Capture encoder).
- :mod:`~integrations.report.canvas`: page geometry, text and image primitives, header, footer.
- :mod:`~integrations.report.photo_page`, :mod:`~integrations.report.progress_pages`: the pages.
- :mod:`~integrations.report.document`: :func:`render_report`, the whole PDF.
- :mod:`~integrations.report.encapsulated`: :func:`encapsulated_pdf`, Encapsulated PDF Storage.
- :mod:`~integrations.report.patient`: :func:`render_patient_report`, the plain-language
  patient report (Korean or English), with :mod:`~integrations.report.messages` (the gettext
  catalogues in ``locale/``) and :mod:`~integrations.report.charts` (matplotlib).

The PDF is written with reportlab's *invariant* mode (fixed creation date and document ID), so
the same result gives the same bytes. Binary image streams (instead of ASCII85) are a
process-wide reportlab flag, set with the others in :func:`dicom_node.setup.apply`.
"""

from __future__ import annotations

from integrations.report.document import render_report
from integrations.report.encapsulated import ENCAPSULATED_PDF, encapsulated_pdf
from integrations.report.overlays import overlay_image
from integrations.report.patient import render_patient_report
from integrations.report.texts import DISCLAIMER, MDC_NOTE, METHOD_LIMITS, format_person_name

__all__ = [
    "DISCLAIMER",
    "ENCAPSULATED_PDF",
    "MDC_NOTE",
    "METHOD_LIMITS",
    "encapsulated_pdf",
    "format_person_name",
    "overlay_image",
    "render_patient_report",
    "render_report",
]
