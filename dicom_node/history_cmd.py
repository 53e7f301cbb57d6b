"""``dermnode history PATIENT_ID``: one patient's trend table, from the results index.

For an administrator or a clinician's assistant: only the requested patient's delivered
results are read (the query is by Patient ID and Issuer), and nothing else about the patient
is printed (no name, no birth date). The latest visit of each view is compared with the
earlier ones by :func:`analysis.progress.compare` (labels against the key's MDC).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from analysis.progress import ChangeLabel, VisitValues, compare
from config.settings import load_settings
from dicom_node.node import storage_dir_for
from dicom_node.progress_link import visits_from_rows
from dicom_node.store import DB_FILENAME, JobStore

__all__ = ["format_history", "history_command"]

_REGIONS = ("face", "skin")


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3g}"


def format_history(visits: list[VisitValues]) -> str:
    """The trend tables (one per view) of one patient's visits."""
    by_view: dict[str, list[VisitValues]] = defaultdict(list)
    for v in visits:
        by_view[v.view].append(v)
    out: list[str] = []
    for view, vs in sorted(by_view.items()):
        vs.sort(key=lambda v: (v.study_date, v.study_uid))
        versions = sorted({v.algorithm_version for v in vs})
        out.append(f"view {view}: {len(vs)} visit(s), algorithm version(s) {', '.join(versions)}")
        labels: dict[tuple[str, str], str] = {}
        if len(vs) > 1:
            cmp = compare(vs[-1], vs[:-1])
            if not cmp.comparable:
                out.append(f"  latest visit not compared: {cmp.reason}")
            for ch in cmp.changes:
                labels[(ch.region, ch.key)] = (
                    ch.label.value if ch.label is not ChangeLabel.NO_MDC else "no MDC"
                )
        dates = [v.study_date.isoformat() for v in vs]
        out.append(
            "  "
            + f"{'key':<32}{'region':<8}"
            + "".join(f"{d:>12}" for d in dates)
            + f"{'since last':>14}"
        )
        keys = sorted({k for v in vs for k in v.values if k[0] in _REGIONS}, key=lambda k: k[1])
        for region, key in keys:
            cells = "".join(f"{_num(v.values.get((region, key))):>12}" for v in vs)
            label = labels.get((region, key), "-")
            out.append(f"  {key:<32}{region:<8}{cells}{label:>14}")
        out.append("")
    return "\n".join(out)


def history_command(patient_id: str, issuer: str, config_path: str | None) -> int:
    """Print the patient's trend table; 1 when the index has no result for the patient."""
    settings = load_settings(config_path)
    db = storage_dir_for(settings, config_path) / DB_FILENAME
    if not db.exists():
        print(f"no job store at {db}", file=sys.stderr)
        return 1
    with JobStore(db, settings.delivery) as store:
        visits = visits_from_rows(store.patient_results(patient_id, issuer))
    if not visits:
        print("no delivered results for this patient", file=sys.stderr)
        return 1
    print(format_history(visits), end="")
    return 0
