"""The reading-room simulation behind ``hms bench imaging-triage``."""
from __future__ import annotations

import math

import numpy as np

from deploy.bench_imaging import ReadingRoom, Study, make_day, metrics_score_sampler, run, simulate

ROOM = ReadingRoom()
SCORES = metrics_score_sampler(0.95, 0.76)


def test_every_study_is_reported_once_and_never_before_it_is_read() -> None:
    studies = make_day(np.random.default_rng(1), ROOM, SCORES)
    for ai in (False, True):
        ttr = simulate(studies, ROOM, ai)
        assert len(ttr) == len(studies) and not any(math.isnan(t) for t in ttr)
        assert all(t >= s.read - 1e-9 for t, s in zip(ttr, studies, strict=True))


def test_same_seed_same_figures_and_a_different_seed_differs() -> None:
    assert run(5, seed=3) == run(5, seed=3)
    assert run(5, seed=3)["fifo_abnormal_min"] != run(5, seed=4)["fifo_abnormal_min"]


def test_ai_priority_shortens_abnormal_waits_at_the_cost_of_normal_ones() -> None:
    r = run(10, seed=7, room=ROOM, scores=SCORES)
    assert r["ai_abnormal_min"] < r["fifo_abnormal_min"] and r["reduction_pct"] > 0
    assert r["ai_normal_min"] > r["fifo_normal_min"]
    assert 0.85 < r["sensitivity"] <= 1.0 and 0.1 < r["false_flag_rate"] < 0.4


def test_a_useless_model_gives_no_reduction() -> None:
    never = metrics_score_sampler(0.0, 1.0)  # flags nothing: AI order is score order among equals
    flat = run(5, seed=2, scores=lambda rng, abnormal: (0.5, False))
    assert abs(flat["reduction_pct"]) < 1e-9
    assert run(5, seed=2, scores=never)["reduction_pct"] < 10


def test_readers_off_shift_do_not_read() -> None:
    room = ReadingRoom(shifts=((8, 9),))
    ttr = simulate([Study(arrival=0.0, abnormal=True, score=0.9, flagged=True, read=5.0)], room, True)
    assert ttr == [8 * 60 + 5.0]


def test_heavier_load_gives_a_larger_reduction() -> None:
    light = run(10, seed=5, room=ReadingRoom(studies_per_day=100), scores=SCORES)
    heavy = run(10, seed=5, room=ReadingRoom(studies_per_day=180), scores=SCORES)
    assert heavy["reduction_pct"] > light["reduction_pct"]
