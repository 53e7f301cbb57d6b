"""Secondary Capture images with the maps burned in (optional, per destination).

For viewers that cannot show a Segmentation on a colour photo: the photo with its zone
outlines and binary features painted in (the PDF's overlay), as an RGB Secondary Capture
Image (PS3.3 A.8.1) in its own series of the source study. Burned In Annotation is YES.
"""

from __future__ import annotations

import logging

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from analysis.types import ImageResult
from integrations.dicom_common import (
    SERIES_NUMBERS,
    Equipment,
    apply_character_set,
    copy_patient_study,
    set_series_date_time,
)
from integrations.errors import EncodingError
from integrations.report.overlays import overlay_image
from integrations.uids import OutputUids

__all__ = ["build_secondary_capture"]

logger = logging.getLogger(__name__)


def build_secondary_capture(
    image: ImageResult,
    source: Dataset,
    photo: npt.NDArray[np.uint8] | None,
    uids: OutputUids,
    equipment: Equipment,
    *,
    instance_number: int,
) -> hd.sc.SCImage:
    """Build the Secondary Capture of one photo with its maps burned in.

    Parameters
    ----------
    image
        The photo's result (zones and maps).
    source
        The source photo (patient and study are copied from it).
    photo
        Its RGB pixels (H, W, 3) uint8; None draws the maps on grey.
    uids, equipment, instance_number
        UIDs, producing software and Instance Number.

    Raises
    ------
    EncodingError
        When highdicom refuses the input.
    """
    pixels = np.asarray(overlay_image(image, photo), dtype=np.uint8)
    try:
        sc = hd.sc.SCImage(
            pixel_array=pixels,
            photometric_interpretation="RGB",
            bits_allocated=8,
            # highdicom needs a coordinate system; the orientation is replaced below by the
            # source's own Patient Orientation (usually empty for photos).
            coordinate_system="PATIENT",
            patient_orientation=("L", "F"),
            study_instance_uid=str(source.StudyInstanceUID),
            series_instance_uid=uids.series("sc"),
            series_number=SERIES_NUMBERS["sc"],
            sop_instance_uid=uids.instance("sc", str(source.SOPInstanceUID)),
            instance_number=instance_number,
            manufacturer=equipment.manufacturer,
            manufacturer_model_name=equipment.model_name,
            software_versions=equipment.software_version,
            device_serial_number=equipment.device_serial_number,
            series_description="DermNode maps (burned in)",
        )
    except (ValueError, TypeError) as exc:
        raise EncodingError(f"secondary capture could not be built: {exc}") from exc
    copy_patient_study(sc, source)
    apply_character_set(sc, source)
    sc.BurnedInAnnotation = "YES"
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.DerivationDescription = "Zones and feature maps of DermNode burned into the photo"
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.SOPClassUID
    ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
    sc.SourceImageSequence = [ref]
    sc.PatientOrientation = source.get("PatientOrientation", "")
    # General Series Laterality is Type 2C (paired body parts): a face photo is unpaired or
    # both sides, which the empty value states.
    sc.Laterality = source.get("Laterality", "")
    set_series_date_time(sc)
    return sc
