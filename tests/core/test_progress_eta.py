"""The time left that a job reports covers the whole job: the rest of the running phase at its measured rate, plus
the phases after it by their share of the bar (issue 16: "motion 4/4 chunks · 0 s left" before the long render)."""
from core import jobs


def test_time_left_covers_the_phases_still_to_come(tmp_path, monkeypatch):
    clock = iter(float(t) for t in range(100))
    monkeypatch.setattr(jobs.time, "perf_counter", lambda: next(clock))
    lines = []
    ctx = jobs.JobContext(tmp_path, progress=lambda fraction, message: lines.append((round(fraction, 4), message)))
    with ctx.span(0.0, 0.25):            # motion: a quarter of the job
        for done in range(1, 5):         # one chunk a second
            ctx.count(done, 4, "motion", "chunks")
    with ctx.span(0.25, 1.0):            # render: the other three quarters
        for done in (10, 20, 30):        # ten frames a second (the clock ticks once a report)
            ctx.count(done, 30, "rendering")
    assert lines == [
        (0.0625, "motion 1/4 chunks"),
        (0.125, "motion 2/4 chunks · 14 s left"),   # 2 chunks at 1 s, then 12 s of render (3 x the 4 s of motion)
        (0.1875, "motion 3/4 chunks · 13 s left"),
        (0.25, "motion 4/4 chunks · 12 s left"),    # not "0 s left": the render is still to come
        (0.5, "rendering 10/30 frames"),
        (0.75, "rendering 20/30 frames · 1 s left"),
        (1.0, "rendering 30/30 frames · 0 s left"),
    ]


def test_nested_spans_count_the_outer_remainder(tmp_path, monkeypatch):
    clock = iter(float(t) for t in range(100))
    monkeypatch.setattr(jobs.time, "perf_counter", lambda: next(clock))
    lines = []
    ctx = jobs.JobContext(tmp_path, progress=lambda fraction, message: lines.append(message))
    with ctx.span(0.5, 1.0), ctx.span(0.0, 0.5):   # the job's [0.5, 0.75]: a quarter of the job after it
        ctx.count(1, 2, "decoding")
        ctx.count(2, 2, "decoding")
    assert lines[-1] == "decoding 2/2 frames · 2 s left"  # 0.25 of the job at 2 s per 0.25
