"""The --peers report's fastest-peer ratio and its summary of the rows a peer wins."""
from xentfast import _bench


def row(label, n, dtype, **seconds):
    return _bench.PeerRow(label, n, dtype, seconds, 0.0)


def test_fastest_peer_ignores_the_reference():
    r = row("sigmoid", 256, "float64", xentfast=1.0, reference=0.5, scipy=3.0, torch=2.0)
    assert _bench.fastest_peer(r) == ("torch", 2.0)
    assert _bench.fastest_peer(row("entropy", 256, "float64", xentfast=1.0, reference=2.0)) is None


def test_rows_lost_and_summary():
    rows = [row("sigmoid", 256, "float32", xentfast=1.0, scipy=0.8, torch=1.5),
            row("sigmoid", 10_000, "float32", xentfast=1.0, torch=1.2),
            row("entropy", 256, "float64", xentfast=1.0, reference=0.1)]
    assert _bench.rows_lost(rows) == [rows[0]]
    line = _bench.summary_line(rows)
    assert line.startswith("Rows where a peer is faster: 1 of 2 with a peer")
    assert "sigmoid 256 float32 (SciPy 0.80x)" in line
    assert "| 0.80x (SciPy) |" in _bench._peer_line(rows[0])


def test_speed_targets_report_the_lost_rows():
    rows = [row("sigmoid", 10_000, "float32", xentfast=1.0, torch=0.9)]
    lines = _bench.speed_targets(rows, {}, 10_000_000, 2)
    assert lines[0] == "- rows where a peer is faster: 1 (target 0) — MISSED"
    assert any("sigmoid vs PyTorch, n = 10,000 float32: 0.90x (target ≥ 1.5x) — MISSED" in line
               for line in lines)


def test_speed_targets_take_the_side_by_side_dtype_ratios():
    rows = [row("sigmoid", 1_000_000, "float64", xentfast=2.0),
            row("sigmoid", 1_000_000, "float32", xentfast=1.5)]
    from_rows = _bench.speed_targets(rows, {}, 10_000_000, 2)
    assert any("sigmoid: float32 throughput ÷ float64, n = 1,000,000: 1.33x (target ≥ 1.6x)"
               in line for line in from_rows)
    side_by_side = _bench.speed_targets(rows, {}, 10_000_000, 2,
                                        {("sigmoid", 1_000_000): 1.7})
    assert any("sigmoid: float32 throughput ÷ float64, n = 1,000,000 (timed side by side): "
               "1.70x (target ≥ 1.6x) — met" in line for line in side_by_side)


def test_dtype_ratios_time_both_dtypes_side_by_side(monkeypatch):
    # each ratio comes from one interleaved timing of the two dtypes' xentfast calls
    timed = []

    def fake_time_interleaved(calls, budget, rounds):
        timed.append(sorted(calls))
        for call in calls.values():
            call()   # the calls must run
        return {"float64": 3.0, "float32": 2.0}
    monkeypatch.setattr(_bench, "time_interleaved", fake_time_interleaved)
    ratios = _bench.dtype_ratios((256, 1_000_000), budget=0.01, rounds=1)
    assert set(ratios) == {(label, 1_000_000) for label, _ in _bench.PEER_CASES}
    assert timed == [["float32", "float64"]] * len(_bench.PEER_CASES)
    assert all(ratio == 1.5 for ratio in ratios.values())
