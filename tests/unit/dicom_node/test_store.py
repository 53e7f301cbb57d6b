"""The job store: instances, studies and the outbox state machine (SQLite, WAL)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from config.settings import DeliverySettings
from dicom_node.store import (
    SCHEMA_VERSION,
    InstanceRecord,
    JobStore,
    OutboxKind,
    OutboxState,
    StudyState,
    backoff_delay_s,
)
from dicom_node.store.db import POOL_SIZE

# transient failures are retried for 100 s (max_age_h in hours)
POLICY = DeliverySettings(max_age_h=100 / 3600, backoff_initial_s=5, backoff_max_s=30)


@pytest.fixture
def store(tmp_path: Path):
    with JobStore(tmp_path / "db.sqlite3", POLICY) as s:
        yield s


def rec(sop: str, study: str = "1.2.3", t: float = 100.0, **kw) -> InstanceRecord:
    return InstanceRecord(
        sop_instance_uid=sop,
        study_instance_uid=study,
        series_instance_uid=study + ".1",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.7",
        transfer_syntax_uid="1.2.840.10008.1.2.1",
        path=f"/x/{sop}.dcm",
        size=10,
        received_at=t,
        calling_ae="PACS",
        **kw,
    )


def test_wal_and_instances_are_unique(store: JobStore) -> None:
    assert store.journal_mode == "wal"
    assert store.add_instance(rec("1.1", patient_id="김민지-7")) is True
    assert store.add_instance(rec("1.1")) is False
    assert store.count_instances() == 1
    got = store.get_instance("1.1")
    assert got is not None and got.patient_id == "김민지-7"
    study = store.get_study("1.2.3")
    assert study is not None and study.state is StudyState.RECEIVED and study.instance_count == 1
    assert store.get_study(study.id) == study


def test_new_instance_reopens_a_study_and_bumps_its_version(store: JobStore) -> None:
    store.add_instance(rec("1.1", t=100))
    s = store.get_study("1.2.3")
    assert s is not None
    assert store.received_before(99) == []
    assert [x.id for x in store.received_before(100)] == [s.id]
    assert store.transition(s.id, "ready", from_states=["received"], expected_version=s.version)
    assert not store.transition(s.id, "analysing", from_states=["received"])  # wrong state
    s2 = store.get_study(s.id)
    assert s2 is not None and s2.state is StudyState.READY and s2.version == s.version + 1
    store.add_instance(rec("1.2", t=150))
    s3 = store.get_study(s.id)
    assert s3 is not None and s3.state is StudyState.RECEIVED and s3.version == s2.version + 1
    assert s3.last_instance_at == 150 and s3.instance_count == 2
    # A worker holding the old version cannot finish over the new instance.
    assert not store.transition(s.id, "analysing", expected_version=s2.version)


def test_backoff_is_exponential_with_a_cap() -> None:
    assert [backoff_delay_s(n, POLICY) for n in range(1, 6)] == [5, 10, 20, 30, 30]
    with pytest.raises(ValueError, match="attempts"):
        backoff_delay_s(0, POLICY)


def test_outbox_retries_with_backoff_then_dies_then_can_be_requeued(store: JobStore) -> None:
    i = store.enqueue("dicom", "pacs", payload_path="/r/sr.dcm", now=1000)
    assert [x.id for x in store.due_deliveries(now=1000)] == [i]
    assert (
        store.mark_failed(i, retryable=True, error="timeout", status="-", now=1000)
        is OutboxState.PENDING
    )
    assert store.due_deliveries(now=1004.9) == []
    assert [x.id for x in store.due_deliveries(now=1005)] == [i]  # 5 s after the 1st failure
    assert store.mark_failed(i, retryable=True, error="timeout", now=1005) is OutboxState.PENDING
    item = store.get_outbox(i)
    assert item is not None and item.next_attempt_at == 1015 and item.attempts == 2
    store.mark_failed(i, retryable=True, error="timeout", now=1015)
    # failing since 1000: still pending at 1099.9, dead once it has failed for 100 s
    assert store.mark_failed(i, retryable=True, error="x", now=1099.9) is OutboxState.PENDING
    assert store.get_outbox(i).first_failed_at == 1000  # type: ignore[union-attr]
    assert (
        store.mark_failed(i, retryable=True, error="0xA700", status="A700", now=1100)
        is OutboxState.DEAD
    )
    assert store.due_deliveries(now=10**9) == []
    dead = store.get_outbox(i)
    assert dead is not None and dead.attempts == 5 and dead.last_status == "A700"
    with pytest.raises(KeyError):
        store.mark_failed(i, retryable=True, error="x")
    store.retry(i, now=2000)
    again = store.get_outbox(i)
    assert again is not None and again.state is OutboxState.PENDING and again.attempts == 0
    assert again.first_failed_at is None  # a re-queued row gets its full age again
    store.mark_delivered(i, status="0000", now=2001)
    done = store.get_outbox(i)
    assert done is not None and done.state is OutboxState.DELIVERED and done.delivered_at == 2001
    with pytest.raises(KeyError):
        store.retry(i)  # only dead rows can be re-queued
    with pytest.raises(KeyError):
        store.mark_delivered(i)


def test_not_retryable_is_dead_at_once_and_per_destination_limit(store: JobStore) -> None:
    a = store.enqueue("hl7", "emr", now=0)
    assert store.mark_failed(a, retryable=False, error="AR", now=0) is OutboxState.DEAD
    b = store.enqueue("dicom", "pacs", now=0)
    assert store.mark_failed(b, retryable=True, error="x", max_age_s=10, now=0) is (
        OutboxState.PENDING
    )
    assert store.mark_failed(b, retryable=True, error="x", max_age_s=10, now=10) is (
        OutboxState.DEAD
    )


def test_a_long_outage_pauses_deliveries_and_the_first_success_wakes_the_rest(
    store: JobStore,
) -> None:
    """Hundreds of attempts over a day: still pending (the count does not matter), at most
    backoff_max_s apart; once the PACS answers, the waiting rows are due at once."""
    policy = DeliverySettings(max_age_h=48, backoff_initial_s=5, backoff_max_s=600)
    store.delivery = policy
    rows = [store.enqueue("dicom", "pacs", dedup_key=str(n), now=0) for n in range(3)]
    other = store.enqueue("dicom", "elsewhere", now=0)
    t = 0.0
    for _ in range(200):  # 200 attempts (the old default died after 10)
        for r in rows:
            assert store.mark_failed(r, retryable=True, error="refused", now=t) is (
                OutboxState.PENDING
            )
        nxt = store.get_outbox(rows[0]).next_attempt_at  # type: ignore[union-attr]
        assert nxt - t <= 600
        t = nxt
    assert t > 24 * 3600  # more than a day of outage, nothing dead
    store.mark_failed(other, retryable=True, error="refused", now=t)
    for r in rows[1:]:  # these failed once more and back off another 600 s
        store.mark_failed(r, retryable=True, error="refused", now=t)
    assert [i.id for i in store.due_deliveries(now=t + 1)] == [rows[0]]  # the probe
    store.mark_delivered(rows[0], now=t + 1)  # the PACS is back
    assert store.wake(OutboxKind.DICOM, "pacs", now=t + 1) == 2
    assert {i.id for i in store.due_deliveries(now=t + 1)} == set(rows[1:])  # not "elsewhere"


def test_enqueue_dedup_and_retry_job(store: JobStore) -> None:
    store.add_instance(rec("1.1"))
    job = store.get_study("1.2.3")
    assert job is not None
    a = store.enqueue("dicom", "pacs", study_id=job.id, dedup_key="2.25.1", now=0)
    assert store.enqueue("dicom", "pacs", study_id=job.id, dedup_key="2.25.1", now=0) == a
    b = store.enqueue("dicom", "other", study_id=job.id, dedup_key="2.25.1", now=0)
    assert b != a
    store.mark_failed(a, retryable=False, error="x", now=0)
    assert store.transition(job.id, StudyState.FAILED, error="analysis failed")
    assert store.outbox_counts(job.id) == {"dead": 1, "pending": 1}
    assert store.retry_job(job.id, now=5) == (1, True)
    s = store.get_study(job.id)
    assert s is not None and s.state is StudyState.READY and s.error is None
    assert store.outbox_counts(job.id) == {"pending": 2}
    with pytest.raises(KeyError):
        store.retry_job(999)
    with pytest.raises(ValueError):
        store.enqueue("fax", "x")


def test_state_counts_agree_with_the_rows(store: JobStore) -> None:
    """The /metrics counts (SQL GROUP BY) equal a count of the listed rows, zeros included."""
    for n in range(7):
        store.add_instance(rec(f"1.{n}", study=f"1.2.{n}"))
    studies = store.list_studies()
    for s in studies[:3]:
        assert store.transition(s.id, StudyState.READY)
    assert store.transition(studies[0].id, StudyState.ANALYSING)
    for n, s in enumerate(studies[:4]):
        store.enqueue("dicom", "pacs", study_id=s.id, dedup_key=f"2.25.{n}", now=0)
    item = store.enqueue("hl7", "emr", study_id=studies[0].id, dedup_key="d", now=0)
    store.mark_failed(item, retryable=False, error="AR", now=0)

    by_state = store.study_state_counts()
    assert set(by_state) == set(StudyState)
    for state in StudyState:
        assert by_state[state] == sum(1 for s in store.list_studies() if s.state is state)
    assert (by_state[StudyState.RECEIVED], by_state[StudyState.READY]) == (4, 2)
    assert by_state[StudyState.ANALYSING] == 1 and by_state[StudyState.NOTIFIED] == 0

    outbox = store.outbox_state_counts()
    assert len(outbox) == len(OutboxKind) * len(OutboxState)
    rows = store.list_outbox()
    for (kind, state), n in outbox.items():
        assert n == sum(1 for r in rows if (r.kind, r.state) == (kind, state))
    assert outbox[(OutboxKind.DICOM, OutboxState.PENDING)] == 4
    assert outbox[(OutboxKind.HL7, OutboxState.DEAD)] == 1


def test_spool_expired_selects_every_old_finished_study_once_marked(store: JobStore) -> None:
    """Retention's selection: SQL over all studies (no newest-1000 window), final states,
    finished before the cutoff, and nothing already removed."""
    for n in range(1005):
        store.add_instance(rec(f"1.{n}", study=f"2.{n}"))
    studies = sorted(store.list_studies(limit=5000), key=lambda s: s.id)
    for s in studies[:1003]:
        assert store.transition(s.id, StudyState.NOTIFIED)
    assert store.transition(studies[1003].id, StudyState.DELIVERED)
    assert store.transition(studies[1004].id, StudyState.FAILED)  # kept for `jobs retry`
    final = (StudyState.DELIVERED, StudyState.NOTIFIED)
    assert store.spool_expired(0.0, final) == []  # nothing finished before the cutoff
    expired = store.spool_expired(10**12, final)
    assert len(expired) == 1004 and expired[0].sop_instance_uid == "1.0"  # oldest first
    assert "1.1004" not in {i.sop_instance_uid for i in expired}
    assert len(store.spool_expired(10**12, final, limit=10)) == 10
    store.mark_spool_removed([i.sop_instance_uid for i in expired[:1000]], now=5.0)
    rest = store.spool_expired(10**12, final)
    assert [i.sop_instance_uid for i in rest] == ["1.1000", "1.1001", "1.1002", "1.1003"]
    got = store.get_instance("1.0")
    assert got is not None and got.spool_removed_at == 5.0


V2_INSTANCES = """CREATE TABLE instances (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sop_instance_uid TEXT NOT NULL UNIQUE,
    study_instance_uid TEXT NOT NULL REFERENCES studies (study_instance_uid),
    series_instance_uid TEXT NOT NULL, sop_class_uid TEXT NOT NULL,
    transfer_syntax_uid TEXT NOT NULL, calling_ae TEXT, called_ae TEXT, peer_host TEXT,
    received_at REAL NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, modality TEXT,
    series_number INTEGER, instance_number INTEGER, patient_id TEXT,
    issuer_of_patient_id TEXT, patient_name TEXT, patient_birth_date TEXT, patient_sex TEXT,
    accession_number TEXT, study_date TEXT, specific_character_set TEXT%s)"""


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_job_store_is_upgraded_in_place(tmp_path: Path, version: int) -> None:
    """A store of version 1 (no spool_removed_at) or 2 (patient columns, no crash counter)
    opens, keeps its rows, drops the patient columns nothing reads and gains the new ones."""
    import sqlite3

    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE studies (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " study_instance_uid TEXT NOT NULL UNIQUE, state TEXT NOT NULL DEFAULT 'received',"
        " version INTEGER NOT NULL DEFAULT 1, calling_ae TEXT, called_ae TEXT,"
        " created_at REAL NOT NULL, updated_at REAL NOT NULL, last_instance_at REAL NOT NULL,"
        " result_path TEXT, error TEXT);"
        + V2_INSTANCES % (", spool_removed_at REAL" if version == 2 else "")
        + ";"
    )
    conn.execute(
        "INSERT INTO studies VALUES (1, '1.2.3', 'failed', 4, 'PACS', NULL, 1, 2, 3, NULL, 'x')"
    )
    conn.execute(
        "INSERT INTO instances (sop_instance_uid, study_instance_uid, series_instance_uid,"
        " sop_class_uid, transfer_syntax_uid, calling_ae, received_at, path, size, patient_id,"
        " patient_name, patient_birth_date, patient_sex, accession_number) VALUES"
        " ('1.1', '1.2.3', '1.2.3.1', '1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.1.2.1',"
        " 'PACS', 100, '/x/1.1.dcm', 10, 'ID7', 'PHI^SENTINEL', '19700523', 'F', 'ACC9')"
    )
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    with JobStore(db) as s:
        assert s.schema_version == SCHEMA_VERSION == 4
        got = s.get_instance("1.1")
        assert got is not None and got.spool_removed_at is None and got.calling_ae == "PACS"
        assert got.patient_id == "ID7"
        s.mark_spool_removed(["1.1"], now=7.0)
        assert s.get_instance("1.1").spool_removed_at == 7.0  # type: ignore[union-attr]
        study = s.get_study("1.2.3")
        assert study is not None and study.state is StudyState.FAILED
        assert study.interrupted_runs == 0 and study.failure_kind is None
    conn = sqlite3.connect(db)
    cols = {r[1] for r in conn.execute("PRAGMA table_info(instances)")}
    conn.execute("VACUUM")
    conn.close()
    assert not cols & {"patient_name", "patient_birth_date", "patient_sex", "accession_number"}
    assert b"PHI^SENTINEL" not in db.read_bytes()  # gone from the file too, after VACUUM


def test_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "db.sqlite3"
    with JobStore(db) as s:
        s.add_instance(rec("1.1"))
        assert db.stat().st_mode & 0o777 == 0o600
        assert db.parent.stat().st_mode & 0o777 == 0o700
        wal = db.parent / (db.name + "-wal")
        assert wal.exists() and wal.stat().st_mode & 0o777 == 0o600


def test_connections_stay_bounded_however_many_threads_use_the_store(store: JobStore) -> None:
    """Each C-STORE association is a new thread: none may leave a connection behind."""

    def one(k: int) -> None:
        store.add_instance(rec(f"8.{k}"))
        assert store.has_instance(f"8.{k}")

    for k in range(50):
        t = threading.Thread(target=one, args=(k,))
        t.start()
        t.join()
    assert store.count_instances() == 50
    assert 1 <= store.open_connections <= POOL_SIZE


def test_recovery_counts_a_crash_only_against_the_study_being_analysed(store: JobStore) -> None:
    for n, study in enumerate(("1.2.3", "1.2.4", "1.2.5")):
        store.add_instance(rec(f"7.{n}", study=study))
    a, b, c = (store.get_study(u).id for u in ("1.2.3", "1.2.4", "1.2.5"))  # type: ignore[union-attr]
    assert store.transition(a, "analysing")  # being analysed when the process died
    assert store.transition(b, "ready")  # queued behind it
    assert store.transition(c, "encoded")  # its deliveries were running
    for expected in (1, 2):
        ready, failed = store.recover_interrupted(3, "interrupted")
        assert (ready, failed) == ([a], [])
        assert [store.get_study(j).interrupted_runs for j in (a, b, c)] == [expected, 0, 0]  # type: ignore[union-attr]
        assert store.transition(a, "analysing", from_states=["ready"])
    assert store.recover_interrupted(3, "interrupted (3)") == ([], [a])
    study = store.get_study(a)
    assert (
        study is not None and study.state is StudyState.FAILED and study.error == "interrupted (3)"
    )
    # a hand-off resets the count: later crashes start again from zero
    assert store.retry_job(a) == (0, True)
    assert store.get_study(a).interrupted_runs == 0  # type: ignore[union-attr]


def test_concurrent_writers_from_many_threads(store: JobStore) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(20):
                store.add_instance(rec(f"9.{k}.{j}", study=f"5.{k % 3}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_instances() == 120
    assert sum(s.instance_count for s in store.list_studies()) == 120


def test_instance_record_validates() -> None:
    with pytest.raises(ValueError, match="sop_instance_uid"):
        rec("")


class _LateInstanceStore(JobStore):
    """A store where an instance arrives between the grouper's read and its compare-and-set."""

    late: InstanceRecord | None = None

    def received_before(self, cutoff: float):  # type: ignore[no-untyped-def]
        found = super().received_before(cutoff)
        if self.late is not None:
            self.add_instance(self.late)
            self.late = None
        return found


def test_an_instance_arriving_during_the_stable_check_keeps_the_study_open(
    tmp_path: Path,
) -> None:
    from config.settings import Settings
    from dicom_node.grouping import StudyGrouper

    cfg = Settings(
        node={"storage_dir": str(tmp_path / "var"), "stable_after_s": 5},
        sources=[{"ae_title": "PACS"}],
    )
    queued: list[int] = []
    with _LateInstanceStore(tmp_path / "db.sqlite3", POLICY) as store:
        store.add_instance(rec("1.1", t=100))
        store.late = rec("1.2", t=106)  # arrives after the read, before the ready
        grouper = StudyGrouper(store, cfg, queued.append)
        assert grouper.check_stable(now=106) == 0
        s = store.get_study("1.2.3")
        assert s is not None and s.state is StudyState.RECEIVED and s.instance_count == 2
        assert queued == []
        assert grouper.check_stable(now=110) == 0  # quiet for 4 s of 5 only
        assert grouper.check_stable(now=111) == 1
        assert queued == [s.id]
