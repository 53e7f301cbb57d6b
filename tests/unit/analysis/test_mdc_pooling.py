"""The MDC table pools real-face recaptures (issue 13 item 5): every row is at least as wide
as its real-face row (``benchmarks/repeatability.py``: pool, merge, poolable)."""

from __future__ import annotations

import pytest

from analysis.mdc import MDC_FACTOR, SETTINGS, TABLE
from benchmarks.repeatability import Row, merge, pool, poolable, real_rows


def _row(key: str, scope: str, sem: float, rel: float | None = None, df: int = 29) -> Row:
    return Row(key, scope, rel is not None, sem, None, MDC_FACTOR * sem, rel, 1, 1.0, df)


def test_absolute_key_takes_the_wider_row_whole() -> None:
    sim = [_row("texture.roughness", "face", 0.1), _row("texture.roughness", "chin", 0.5)]
    real = [_row("texture.roughness", "face", 0.4, df=30), _row("texture.roughness", "chin", 0.2)]
    got = {(r.key, r.scope): r for r in merge(sim, real)}
    assert got[("texture.roughness", "face")].sem == 0.4  # real is wider: taken with its df
    assert got[("texture.roughness", "face")].df == 30
    assert got[("texture.roughness", "chin")].sem == 0.5  # simulated is wider: kept


def test_relative_key_takes_the_larger_relative_part_and_floor() -> None:
    sim = [_row("wrinkles.count", "face", 2.0, rel=0.4)]
    real = [_row("wrinkles.count", "face", 1.0, rel=0.55)]
    (r,) = merge(sim, real)
    assert r.mdc_rel == 0.55 and r.mdc_abs == pytest.approx(MDC_FACTOR * 2.0)


def test_rows_only_measured_on_real_faces_are_added_and_never_narrowed() -> None:
    sim = [_row("wrinkles.fine_lines.count", "face", 0.0)]  # SEM 0: no MDC from simulation
    real = [_row("wrinkles.fine_lines.count", "face", 0.7, rel=4.0)]
    (r,) = merge(sim, real)
    assert r.sem == 0.7 and r.mdc_rel == 4.0


def test_phone_series_colour_keys_are_not_pooled_but_reported() -> None:
    values = {
        ("lisa", "face", "pigmentation.melanin_index"): [-14.0, 3.0, 31.0, -4.0],
        ("lisa", "face", "wrinkles.count"): [10.0, 12.0, 9.0, 11.0],
        ("london-001_03", "face", "pigmentation.melanin_index"): [20.9, 21.0, 20.9, 21.0, 21.1],
        ("smile-001_03", "face", "pigmentation.melanin_index"): [20.9, 20.5],
    }
    kept = poolable(values)
    assert ("lisa", "face", "pigmentation.melanin_index") not in kept
    assert ("lisa", "face", "wrinkles.count") in kept
    rows = {(r.key, r.scope): r for r in pool(kept)}
    mel = rows[("pigmentation.melanin_index", "face")]
    assert mel.cells == 2 and mel.sem < 1.0  # London face + the smiling pair, not lisa
    rep = {(r.key, r.region): r for r in real_rows(values)}
    assert rep[("pigmentation.melanin_index", "face")].cv_lisa is not None
    assert rep[("pigmentation.melanin_index", "face")].smile_median == pytest.approx(0.4 / 20.9)


def test_the_shipped_table_pooled_the_real_recaptures() -> None:
    assert SETTINGS["real_faces"].startswith("6 London faces")
    assert "at least as wide" in SETTINGS["merge"]
    # fine lines never varied on the astronaut: their face row exists only from real faces
    assert ("wrinkles.fine_lines.count", "face") in TABLE
