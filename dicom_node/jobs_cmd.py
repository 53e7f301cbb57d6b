"""``dermnode jobs list | show ID | retry ID``: the administrator's view of the job store.

Nothing printed here is patient data: job ids, states, AE titles, counts, times, SOP Class
names and delivery errors. ``show`` prints the Study Instance UID (to find the study in the
PACS) but no names, IDs, birth dates or accession numbers.
"""

from __future__ import annotations

import sys
import time

from config.settings import load_settings
from dicom_node.node import storage_dir_for
from dicom_node.store import DB_FILENAME, JobStore, StudyRecord

__all__ = ["jobs_command"]


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _parse_id(value: str | None) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ValueError(f"id must be a job number, got {value!r}") from None


def _line(s: StudyRecord, counts: dict[str, int]) -> str:
    out = ",".join(f"{k}={v}" for k, v in sorted(counts.items())) or "-"
    return (
        f"{s.id:>6}  {s.state.value:<10} {s.instance_count:>5}  "
        f"{(s.calling_ae or '-'):<16} {_when(s.last_instance_at)}  {out}"
    )


def jobs_command(sub: str, id: str | None, config_path: str | None) -> int:  # noqa: A002
    """Run a ``jobs`` sub-command; returns the exit status (0 ok, 1 not found, 2 usage)."""
    settings = load_settings(config_path)
    db = storage_dir_for(settings, config_path) / DB_FILENAME
    if not db.exists():
        print(f"no job store at {db}", file=sys.stderr)
        return 1
    with JobStore(db, settings.delivery) as store:
        if sub == "list":
            studies = store.list_studies()
            print(
                f"{'job':>6}  {'state':<10} {'inst':>5}  {'calling AE':<16} "
                f"{'last instance':<19}  outbox"
            )
            for s in studies:
                print(_line(s, store.outbox_counts(s.id)))
            return 0
        try:
            job_id = _parse_id(id)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        study = store.get_study(job_id)
        if study is None:
            print(f"no job {job_id}", file=sys.stderr)
            return 1
        if sub == "show":
            print(f"job {study.id}: {study.state.value} (version {study.version})")
            print(f"  study instance uid: {study.study_instance_uid}")
            print(f"  instances:          {study.instance_count}")
            print(f"  calling AE:         {study.calling_ae or '-'}")
            print(f"  called AE:          {study.called_ae or '-'}")
            print(f"  first received:     {_when(study.created_at)}")
            print(f"  last instance:      {_when(study.last_instance_at)}")
            print(f"  updated:            {_when(study.updated_at)}")
            if study.error:
                print(f"  error:              {study.error}")
            if study.failure_kind is not None:
                print(f"  waiting for:        {study.failure_kind.value} (re-queued by itself)")
            if study.interrupted_runs:
                print(f"  interrupted runs:   {study.interrupted_runs}")
            for o in store.list_outbox(study_id=study.id):
                print(
                    f"  outbox {o.id}: {o.kind.value} -> {o.destination}: {o.state.value}, "
                    f"{o.attempts} attempt(s), next {_when(o.next_attempt_at)}"
                    + (f", last error: {o.last_error}" if o.last_error else "")
                )
            return 0
        if sub == "retry":
            n, requeued = store.retry_job(job_id)
            print(
                f"job {job_id}: {n} delivery(ies) re-queued"
                + ("; analysis re-queued" if requeued else "")
            )
            return 0
    print(f"unknown jobs sub-command {sub!r}", file=sys.stderr)
    return 2
