"""make bench's table: the steady hour's ratio at 10x the history, per engine, from the two sizes' rows."""

import importlib.util
import sys
from datetime import timedelta
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _bench():
    sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location("bench_under_test", SCRIPTS / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_the_ratio_rows_divide_the_larger_history_by_the_smaller_per_engine():
    bench = _bench()
    row = bench.Row
    rows = [
        row("  chains + policy", 100_000, "duckdb", seconds=[4.0, 5.0, 6.0]),
        row("  chains + policy", 1_000_000, "duckdb", seconds=[6.0, 7.0, 8.0]),
        row("  chains + policy, CPU s", 100_000, "duckdb", seconds=[2.0, 2.0, 2.0]),
        row("  chains + policy, CPU s", 1_000_000, "duckdb", seconds=[5.0, 5.0, 5.0]),
        row("    entry queries, one per chain", 100_000, "duckdb", seconds=[1.0, 1.0, 1.0]),
        row("    entry queries, one per chain", 1_000_000, "duckdb", seconds=[1.2, 1.2, 1.2]),
        # Only one size on PostgreSQL: no ratio for it.
        row("  chains + policy", 100_000, "postgres", seconds=[3.0, 3.0, 3.0]),
    ]

    found = {(r.stage, r.engine): r for r in bench.history_ratios(rows)}

    assert sorted(found) == [
        ("entry queries ratio 10x history", "duckdb"),
        ("steady hour CPU ratio 10x history", "duckdb"),
        ("steady hour ratio 10x history (chains + policy)", "duckdb"),
    ]
    wall = found["steady hour ratio 10x history (chains + policy)", "duckdb"]
    assert (wall.extra["ratio"], wall.passed, wall.size) == (1.4, True, 1_000_000)
    assert wall.target == "1.40x of 100,000 (<= 1.5x)"
    cpu = found["steady hour CPU ratio 10x history", "duckdb"]
    assert (cpu.extra["ratio"], cpu.passed) == (2.5, False)
    idle = found["entry queries ratio 10x history", "duckdb"]
    assert (idle.extra["ratio"], idle.passed) == (1.2, True)
    assert "steady hour ratio" in bench.table(rows + list(found.values()), "header")


def test_the_work_per_due_step_is_shown_beside_the_ratio_and_not_judged():
    """The advance and the policy grow with the hour's due steps, which follow the customers active in it:
    the table shows their cost per due step at both sizes, so a ratio that merely follows the due steps is
    told apart from one that follows the history."""
    bench = _bench()
    row = bench.Row
    rows = [
        row(
            "    advanced together (progress, entries, exits, due)",
            100_000,
            "duckdb",
            [1.5, 1.5],
            rows=20_000,
        ),
        row("  contact policy", 100_000, "duckdb", seconds=[1.0, 1.0], rows=20_000),
        row(
            "    advanced together (progress, entries, exits, due)",
            1_000_000,
            "duckdb",
            [2.4, 2.4],
            rows=32_000,
        ),
        row("  contact policy", 1_000_000, "duckdb", seconds=[1.6, 1.6], rows=32_000),
        row("    advanced together (progress, entries, exits, due)", 100_000, "postgres", [1.0], rows=10),
    ]

    (step,) = bench.history_ratios(rows)

    assert (step.engine, step.size, step.passed, step.seconds) == ("duckdb", 1_000_000, None, [4.0])
    assert step.extra == {"ratio": 1.0, "due_steps_ratio": 1.6, "of_size": 100_000}
    assert step.target == "0.125 ms vs 0.125 ms: 1.00x, over 1.60x the due steps (not judged)"


def test_sizes_are_read_with_suffixes_and_bad_ones_named():
    import pytest

    bench = _bench()
    assert [bench.parse_size(s) for s in ("100000", "100_000", "100k", "1M", "10m", " 2.5M ")] == [
        100_000, 100_000, 100_000, 1_000_000, 10_000_000, 2_500_000,
    ]  # fmt: skip
    for bad in ("ten", "", "0", "-1k"):
        with pytest.raises(SystemExit, match="bench: size"):
            bench.parse_size(bad)


def test_memory_target_is_8_gb_above_1_m_and_a_left_out_row_prints():
    bench = _bench()
    row = bench.Row("daily scoring", 10_000_000, "duckdb", seconds=[100.0], rss_mb=[6000.0])
    row.judge()
    assert (row.target, row.passed) == ("< 8 GB", True)
    small = bench.Row("daily scoring", 1_000_000, "duckdb", seconds=[10.0], rss_mb=[6000.0])
    small.judge()
    assert (small.target, small.passed) == ("< 4 GB", False)
    skipped = bench.Row("cart audience: pandas way", 10_000_000, "duckdb", target="left out (> 1,000,000)")
    text = bench.table([row, small, skipped], "header")
    assert "cart audience: pandas way | 10,000,000 | duckdb | -" in text


def test_above_1_m_the_targets_are_the_large_shops_and_duckdb_gets_7_gb_unless_told(monkeypatch):
    bench = _bench()
    assert (bench.hour_target_s(1_000_000), bench.scoring_target_s(1_000_000)) == (60.0, 60.0)
    assert (bench.hour_target_s(10_000_000), bench.scoring_target_s(10_000_000)) == (120.0, 300.0)
    monkeypatch.delenv("LIFECYCLE_DUCKDB_MEMORY_LIMIT", raising=False)
    assert bench.stage_environment("duckdb", 1_000_000) == {}
    assert bench.stage_environment("postgres", 10_000_000) == {}
    assert bench.stage_environment("duckdb", 10_000_000) == {"LIFECYCLE_DUCKDB_MEMORY_LIMIT": "7GB"}
    monkeypatch.setenv("LIFECYCLE_DUCKDB_MEMORY_LIMIT", "5GB")
    assert bench.stage_environment("duckdb", 10_000_000) == {}


def test_the_warm_up_run_looks_back_the_late_grace_and_an_hour_unless_told(monkeypatch):
    from datetime import timedelta

    from lifecycle.chains.config import load_chains

    bench = _bench()
    own = {chain_id: chain.entry.first_run_lookback for chain_id, chain in load_chains().items()}
    assert set(own.values()) >= {timedelta(days=2), timedelta(days=3)}
    monkeypatch.delenv("BENCH_WARMUP_LOOKBACK", raising=False)
    warm = bench.warmup_chains()
    assert warm.keys() == own.keys()
    assert {c.entry.first_run_lookback for c in warm.values()} == {timedelta(hours=4)}
    monkeypatch.setenv("BENCH_WARMUP_LOOKBACK", "chain")
    assert {i: c.entry.first_run_lookback for i, c in bench.warmup_chains().items()} == own
    monkeypatch.setenv("BENCH_WARMUP_LOOKBACK", "90m")
    assert {c.entry.first_run_lookback for c in bench.warmup_chains().values()} == {timedelta(minutes=90)}


def test_each_streamed_hour_gets_its_own_block_of_recent_events_in_their_order(duckdb_migrated, monkeypatch):
    """The steady hour is one of several with as many new events: each hour copies a block of distinct
    recent events (a customer's visit keeps its order), with new ids, loaded as they happen."""
    import pandas as pd
    import pytest

    bench = _bench()
    end = bench.END
    old = pd.DataFrame(
        {
            "event_id": range(1, 13),
            "customer_id": [1, 2, 3] * 4,
            "event_type": ["view", "add_to_cart", "view"] * 4,
            "ts": [end - pd.Timedelta(hours=30) + pd.Timedelta(minutes=10 * n) for n in range(12)],
        }
    )
    old["loaded_at"] = old["ts"]
    with duckdb_migrated.begin() as conn:
        duckdb_migrated.insert_df(conn, "shop.events", old)

    frames = bench.new_event_hours(duckdb_migrated, 4, 3)

    assert [len(f) for f in frames] == [4, 4, 4]
    assert [list(f["customer_id"]) for f in frames] == [[1, 2, 3, 1], [2, 3, 1, 2], [3, 1, 2, 3]]
    ids = [i for f in frames for i in f["event_id"]]
    assert ids == list(range(13, 25))
    for hour, frame in enumerate(frames):
        start = pd.Timestamp(end - (3 - hour) * bench.HOUR)
        assert frame["ts"].is_monotonic_increasing
        assert (frame["ts"].min(), frame["ts"].max()) == (start, start + pd.Timedelta(seconds=3599))
        assert (frame["loaded_at"] - frame["ts"] == pd.Timedelta(seconds=0.5)).all()
    # a shop with fewer events than the stream needs is copied again from its oldest
    frames = bench.new_event_hours(duckdb_migrated, 4, 4)
    assert [list(f["customer_id"]) for f in frames][-1] == [1, 2, 3, 1]
    assert [len(f) for f in frames] == [4, 4, 4, 4]
    assert sorted(i for f in frames for i in f["event_id"]) == list(range(13, 29))
    monkeypatch.setenv("BENCH_STREAM_HOURS", "0")
    with pytest.raises(SystemExit, match="BENCH_STREAM_HOURS='0'"):
        bench.stream_hours()
    monkeypatch.setenv("BENCH_STREAM_HOURS", "4")
    assert bench.stream_hours() == 4
    monkeypatch.delenv("BENCH_STREAM_HOURS")
    # by default every window an entry query reads: abandoned_cart's 3 days, its 2 idle hours and the hour
    assert bench.stream_hours() == bench.longest_entry_hours() == 75


def test_a_larger_shop_streams_the_events_of_an_evenly_spread_sample_of_as_many_customers(
    migrated, monkeypatch
):
    """The same new events at 10x the history come from as many people: a shop with more customers than
    BENCH_STREAM_CUSTOMERS streams the events of every n-th customer id only; one with no more streams all.
    On both engines: the sample is part of the query text."""
    import pandas as pd
    import pytest

    bench = _bench()
    end = bench.END
    with migrated.begin() as conn:
        migrated.insert_df(conn, "shop.customers", pd.DataFrame({"customer_id": range(1, 7)}))
        events = pd.DataFrame(
            {
                "event_id": range(1, 25),
                "customer_id": list(range(1, 7)) * 4,
                "event_type": ["view"] * 24,
                "ts": [end - pd.Timedelta(hours=30) + pd.Timedelta(minutes=n) for n in range(24)],
            }
        )
        events["loaded_at"] = events["ts"]
        migrated.insert_df(conn, "shop.events", events)

    monkeypatch.setenv("BENCH_STREAM_CUSTOMERS", "2")  # 6 customers: every third id
    frames = bench.new_event_hours(migrated, 4, 2)
    assert [list(f["customer_id"]) for f in frames] == [[3, 6, 3, 6], [3, 6, 3, 6]]
    assert sorted(i for f in frames for i in f["event_id"]) == list(range(25, 33))
    monkeypatch.setenv("BENCH_STREAM_CUSTOMERS", "4")  # 6 // 4: every id
    frames = bench.new_event_hours(migrated, 6, 2)
    assert {c for f in frames for c in f["customer_id"]} == set(range(1, 7))
    monkeypatch.delenv("BENCH_STREAM_CUSTOMERS")
    assert bench.stream_customers() == 100_000
    monkeypatch.setenv("BENCH_STREAM_CUSTOMERS", "1M")
    assert bench.stream_customers() == 1_000_000
    monkeypatch.setenv("BENCH_STREAM_CUSTOMERS", "some")
    with pytest.raises(SystemExit, match="BENCH_STREAM_CUSTOMERS='some'"):
        bench.stream_customers()


def test_a_copy_that_does_not_fit_is_refused_and_the_last_hour_run_needs_none(tmp_path, monkeypatch):
    """A 1 M-customer PostgreSQL shop is ~33 GB: a copy the disk cannot hold must stop the bench with the
    reason, not fill the disk under PostgreSQL; the steady hour's last run works on the saved state itself."""
    import pytest

    bench = _bench()
    monkeypatch.setattr(bench, "DATA_DIR", tmp_path)
    store = bench.Store("duckdb", 1000)
    folder = store.folder
    (folder / "hour.duckdb").write_bytes(b"x" * 1000)
    (folder / "generated.duckdb").write_bytes(b"x" * 10)
    monkeypatch.setattr(store, "free_bytes", lambda: 2**30)  # 1 GB: less than the 2 GB margin
    monkeypatch.delenv("BENCH_KEEP", raising=False)

    with pytest.raises(SystemExit, match=r"the saved 'hour' state of duckdb 1,000 needs .* 1\.0 GB"):
        bench.hour_state(store, last=False)
    assert not (folder / "generated.duckdb").exists()  # the spare state was dropped first, in vain
    assert bench.hour_state(store, last=True) == store.url("after")
    assert sorted(p.name for p in folder.iterdir()) == ["after.duckdb"]

    (folder / "hour.duckdb").write_bytes(b"x" * 1000)
    monkeypatch.setenv("BENCH_KEEP", "1")  # the saved hour must stay: even the last run copies it
    with pytest.raises(SystemExit, match="needs"):
        bench.hour_state(store, last=True)
    assert (folder / "hour.duckdb").exists()


def test_a_stage_that_would_fill_the_disk_is_refused_before_it_writes(tmp_path, monkeypatch):
    """The initial ingest grows a copy of the generated shop several times over, and the streamed hours add
    their events: the bench makes room for that growth (dropping the spare shop when no later run needs it)
    or stops and says how much is missing, before it fills the disk under PostgreSQL."""
    import pytest

    bench = _bench()
    monkeypatch.setattr(bench, "DATA_DIR", tmp_path)
    store = bench.Store("duckdb", 1000)
    (store.folder / "generated.duckdb").write_bytes(b"x" * 10)
    (store.folder / "ingested.duckdb").write_bytes(b"x" * 10)
    free = {"bytes": 3 * 2**30}
    monkeypatch.setattr(store, "free_bytes", lambda: free["bytes"])

    store.make_room(2**29, "the initial ingest's growth", keep=("ingested",))  # 0.5 GB + margin: fits
    assert store.exists("generated")
    with pytest.raises(SystemExit, match=r"needs 1\.0 GB"):  # 1 GB + 2 GB margin: short by a little
        store.make_room(2**30, "the initial ingest's growth", keep=("ingested", "generated"))
    assert store.exists("generated")  # a later run copies it again: it is kept
    free["bytes"] = 2**30
    refused = r"the initial ingest's growth of duckdb 1,000 needs 4\.0 GB .* 1\.0 GB"
    with pytest.raises(SystemExit, match=refused):
        store.make_room(4 * 2**30, "the initial ingest's growth", keep=("ingested",))
    assert not store.exists("generated")  # dropped first, in vain
    assert store.exists("ingested")

    assert bench.ingest_growth_bytes("postgres", 11 * 10**9) == int(3.5 * 11 * 10**9)
    monkeypatch.setenv("BENCH_STREAM_HOURS", "75")
    assert bench.stream_bytes("postgres", 100_000) == 550 * 100_000 * 75


def test_a_run_too_large_for_the_disk_is_refused_before_the_generator_writes(tmp_path, monkeypatch):
    """The whole run's room is checked before anything is written: a 1 M-customer PostgreSQL shop needs
    about 50 GB at its initial ingest, and finding that out after a 20-minute generator wastes it. What the
    store's own saved states take counts as free (the run replaces or reuses them); with BENCH_KEEP=1 what an
    earlier size keeps does not."""
    import pytest

    bench = _bench()
    monkeypatch.setattr(bench, "DATA_DIR", tmp_path)
    for name in ("BENCH_REUSE", "BENCH_KEEP", "BENCH_HOUR_ONLY", "BENCH_INGEST_STEP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BENCH_STREAM_HOURS", "75")
    gb = 2**30
    free = {"bytes": 60 * gb}
    small, large = bench.Store("postgres", 100_000), bench.Store("postgres", 1_000_000)
    for store in (small, large):
        monkeypatch.setattr(store, "free_bytes", lambda: free["bytes"])
        monkeypatch.setattr(store, "footprint_bytes", lambda: 0)
        monkeypatch.setattr(store, "exists", lambda name: False)

    # 1 M, three runs: the prepared hour (37.4 GB ingested, 4.1 GB streamed) and a copy of it beside it
    hour = int(3.4 * 11 * 10**9) + 550 * 100_000 * 75
    copied = (2 * hour, "the prepared hour and its copies")
    assert bench.planned_peak(large, runs=3, new_events=100_000) == copied
    refused = r"postgres 1,000,000 would need about 77\.3 GB .* its copies; 60\.0 GB are free"
    with pytest.raises(SystemExit, match=refused):
        bench.check_room([small, large], runs=3, new_events=100_000)
    # the initial ingest: an 11 GB shop, its copy and 38.5 GB of growth
    monkeypatch.setenv("BENCH_HOUR_ONLY", "1")
    needed, stage = bench.planned_peak(large, runs=1, new_events=100_000)
    assert stage == "the initial ingest"
    assert needed == 11 * 10**9 + int(3.5 * 11 * 10**9)
    # one run, the hour alone: the shop gives way to the growth and no copy of the hour is made
    bench.check_room([small, large], runs=1, new_events=100_000)
    # one run of every stage copies nothing either: its scoring works on the state the hour left
    monkeypatch.delenv("BENCH_HOUR_ONLY")
    assert bench.planned_peak(large, runs=1, new_events=100_000) == (needed, stage)
    assert bench.planned_peak(large, runs=2, new_events=100_000) == copied
    monkeypatch.setenv("BENCH_HOUR_ONLY", "1")
    # its own saved states are replaced: they count as room
    free["bytes"] = 40 * gb
    with pytest.raises(SystemExit, match="would need"):
        bench.check_room([large], runs=1, new_events=100_000)
    monkeypatch.setattr(large, "footprint_bytes", lambda: 20 * gb)
    bench.check_room([large], runs=1, new_events=100_000)
    # DuckDB's ingest in one window spills several times the shop beyond its memory limit; in steps, nothing
    duck = bench.Store("duckdb", 10_000_000)
    monkeypatch.setattr(duck, "exists", lambda name: False)
    assert bench.planned_peak(duck, runs=1, new_events=100_000)[0] == int(3.0 * 1_700 * 10**7)
    monkeypatch.setenv("BENCH_INGEST_STEP", "0")
    assert bench.planned_peak(duck, runs=1, new_events=100_000)[0] == int(10.0 * 1_700 * 10**7)
    monkeypatch.setenv("BENCH_INGEST_STEP", "7d")
    assert bench.ingest_step() == timedelta(days=7)
    assert bench.planned_peak(duck, runs=1, new_events=100_000)[0] == int(3.0 * 1_700 * 10**7)
    monkeypatch.setenv("BENCH_INGEST_STEP", "monthly")
    with pytest.raises(SystemExit, match=r"BENCH_INGEST_STEP='monthly': give a duration such as 30d, or 0"):
        bench.ingest_step()
    monkeypatch.delenv("BENCH_INGEST_STEP")
    # kept: the 100 k hour and its copy (15.7 GB) stay while the 1 M shop is built
    monkeypatch.setenv("BENCH_KEEP", "1")
    free["bytes"] = 100 * gb
    monkeypatch.setattr(large, "footprint_bytes", lambda: 0)
    bench.check_room([large], runs=1, new_events=100_000)
    with pytest.raises(SystemExit, match="would need"):
        bench.check_room([small, large], runs=1, new_events=100_000)


def test_a_saved_hour_keeps_how_it_was_prepared_through_copies_and_renames(tmp_path, monkeypatch):
    """BENCH_REUSE=1 reports the new events and streamed hours the saved hour was built with, not those of
    the environment that reuses it; the facts follow the state and go with it."""
    bench = _bench()
    monkeypatch.setattr(bench, "DATA_DIR", tmp_path)
    store = bench.Store("duckdb", 1000)
    (store.folder / "ingested.duckdb").write_bytes(b"x")
    store.rename("ingested", "hour")
    assert store.noted("hour") is None  # an older bench's state says nothing
    store.note("hour", {"injected": 5000, "stream_hours": 2})
    monkeypatch.setattr(store, "free_bytes", lambda: None)
    store.copy("hour", "after")
    assert store.noted("after") == store.noted("hour") == {"injected": 5000, "stream_hours": 2}
    store.drop("after")
    assert store.noted("after") is None
    store.rename("hour", "after")
    assert store.noted("hour") is None
    assert store.noted("after") == {"injected": 5000, "stream_hours": 2}


def test_a_cold_hour_empties_the_page_cache_or_says_why_it_cannot(monkeypatch):
    """BENCH_COLD=1 empties the page cache before each timed hour; where that is refused, the bench stops
    and says so rather than timing a warm hour as a cold one."""
    import pytest

    bench = _bench()
    written = []

    class Proc:
        def __init__(self, path):
            self.path = path

        def write_text(self, text):
            if not allowed:
                raise PermissionError(13, "Permission denied", self.path)
            written.append((self.path, text))

    monkeypatch.setattr(bench, "Path", Proc)
    monkeypatch.setattr(bench.os, "sync", lambda: None)
    allowed = True
    monkeypatch.delenv("BENCH_COLD", raising=False)
    bench.drop_page_cache()
    assert written == []
    monkeypatch.setenv("BENCH_COLD", "1")
    bench.drop_page_cache()
    assert written == [("/proc/sys/vm/drop_caches", "3\n")]
    allowed = False
    with pytest.raises(SystemExit, match="BENCH_COLD=1 needs to write /proc/sys/vm/drop_caches"):
        bench.drop_page_cache()
