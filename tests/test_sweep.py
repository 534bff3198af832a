"""sweep: the plan (tasks, what is re-solved and what rebuilt), results equal to fresh designs,
identical results in this process, on a process pool and on a Dask cluster, atomic writing,
bad input and the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import gainshare
from gainshare.analysis.sweep import comparable, load_sweep, run_sweep, set_path, write_table
from gainshare.optimise import design
from gainshare.schema.io import InputError

EXAMPLE = "sweeps/example.sweep.yaml"


@pytest.fixture(scope="module")
def plan(cases_dir):
    return load_sweep(cases_dir / EXAMPLE)


@pytest.fixture(scope="module")
def sequential(plan):
    return run_sweep(plan, workers=1, write=False)


def test_plan_builds_once_per_case_figure(plan):
    # targeting changes the economics (3 builds); tolerance and objective are re-solves
    assert plan.runs == 18 and len(plan.tasks) == 3
    assert plan.tasks[0].resolve_axes == (
        "keep_whole.community.tolerance",
        "requirements.objective",
    )
    assert [len(t.runs) for t in plan.tasks] == [6, 6, 6]
    # runs are numbered in the grid's order, first axis slowest
    assert [r.index for r in plan.tasks[1].runs] == list(range(6, 12))
    assert plan.tasks[1].runs[3].values == {
        "schemes.rapid_response.targeting": 0.75,
        "keep_whole.community.tolerance": 25000,
        "requirements.objective": "worst_margin",
    }


def test_rows_match_fresh_designs(sequential, cases_dir):
    t = sequential.table
    assert list(t["run"]) == list(range(18))
    assert list(t["built"]) == [i % 6 == 0 for i in range(18)]
    assert (t["status"] == "optimal").all()
    base = gainshare.load_case(cases_dir / "core.yaml")
    for run in (8, 13, 16):  # re-solved rows: tolerance and objective changed after the build
        row = t.iloc[run]
        data = base.model_dump()
        data = set_path(data, "schemes.rapid_response.targeting",
                        row["grid.schemes.rapid_response.targeting"])  # fmt: skip
        data = set_path(data, "keep_whole.community.tolerance",
                        float(row["grid.keep_whole.community.tolerance"]))  # fmt: skip
        fresh = design(gainshare.Case.model_validate(data),
                       objective=row["grid.requirements.objective"])  # fmt: skip
        assert row["objective_value"] == pytest.approx(fresh.objective_value, abs=0.01)
        doc = fresh.check.document
        if row["objective"] == "commissioners":
            assert row["commissioners_retained"] == pytest.approx(doc["retained"]["expected"],
                                                                  abs=0.01)  # fmt: skip


def test_row_identities(sequential):
    t = sequential.table
    parties = ("ccg", "acute", "community")
    total = sum(t[f"{p}.expected_net"] for p in parties)
    # sum of parties' expected nets = expected system savings (rounded per party to pennies)
    assert (total - t["system_savings"]).abs().max() < 0.05
    com = t[t["objective"] == "commissioners"]
    assert (com["objective_value"] == com["commissioners_retained"]).all()
    # the community trust is kept whole to its tolerance in every scenario
    assert (t["community.worst_net"] >= -t["grid.keep_whole.community.tolerance"] - 0.01).all()
    assert (t["all_kept_whole"]).all()
    # each extra 25,000 a year of tolerance the community trust gives never costs the
    # commissioners anything, and here always buys them more
    for _, g in com.groupby("grid.schemes.rapid_response.targeting"):
        steps = g.sort_values("grid.keep_whole.community.tolerance")["objective_value"].diff()
        assert (steps.dropna() > 0).all()
    # shares of every gain tier sum to one
    share_cols = [c for c in t.columns if c.startswith("gain_tier1.")]
    assert (t[share_cols].sum(axis=1) - 1.0).abs().max() < 1e-9


def test_identical_sequential_pool_and_dask(plan, sequential):
    dask = pytest.importorskip("dask.distributed")
    pool = run_sweep(plan, workers=2, write=False)
    assert pool.scheduler == "processes" and pool.workers == 2
    expected = comparable(sequential.table)
    pd.testing.assert_frame_equal(comparable(pool.table), expected, check_exact=True)
    with dask.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                           dashboard_address=None) as cluster:  # fmt: skip
        on_dask = run_sweep(plan, scheduler=cluster.scheduler_address, write=False)
    assert on_dask.workers == 2
    pd.testing.assert_frame_equal(comparable(on_dask.table), expected, check_exact=True)


def test_write_is_atomic(sequential, tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    write_table(sequential.table, out)
    first = out.read_bytes()
    pd.testing.assert_frame_equal(pd.read_csv(out)[["run", "objective_value"]],
                                  sequential.table[["run", "objective_value"]])  # fmt: skip

    def broken(self, path, **kw):
        open(path, "w").write("run,half")  # noqa: SIM115 - a write cut short
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(InputError, match="r.csv: --out: cannot be written"):  # exit 2, one line
        write_table(sequential.table, out)
    assert out.read_bytes() == first  # the earlier file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]  # no temporary left


def test_parquet_round_trip(sequential, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "r.parquet"
    write_table(sequential.table, out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), sequential.table, check_exact=True)


def _sweep_file(tmp_path, cases_dir, body: str):
    p = tmp_path / "s.sweep.yaml"
    p.write_text(f"name: t\nbase_case: {cases_dir / 'core.yaml'}\n{body}")
    return p


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("grid:\n  keep_whole.community.tolerence: [0]\n", "tolerence"),
        ("grid:\n  schemes.rapid.targeting: [0.5]\n",
         "grid.schemes.rapid.targeting: schemes has no item 'rapid' (items: rapid_response): "
         "use one of them"),
        ("grid:\n  keep_whole.community.tolerance: [-5]\n", "keep_whole.community.tolerance"),
        ("grid:\n  requirements.objective: [cheapest]\n", "requirements.objective"),
        ("grid:\n  keep_whole.community.tolerance: []\n", "has no values"),
        ("cases: [x.yaml]\n", "either base_case"),
        ("colour: red\n", "colour"),
    ],
)  # fmt: skip
def test_bad_sweep_files(tmp_path, cases_dir, body, expected):
    p = _sweep_file(tmp_path, cases_dir, body)
    with pytest.raises(InputError) as e:
        load_sweep(p)
    assert all(line.startswith(str(p)) for line in e.value.problems)
    assert expected in "\n".join(e.value.problems)


def test_cli_json_and_bad_input(tmp_path, cases_dir):
    out = tmp_path / "ex.csv"
    cmd = [sys.executable, "-m", "gainshare.cli", "sweep", str(cases_dir / EXAMPLE),
           "--out", str(out), "--workers", "1", "--json"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["runs"] == 18 and doc["models_built"] == 3 and doc["status"] == {"optimal": 18}
    table = pd.read_csv(out)
    assert table["objective_value"].iloc[0] == pytest.approx(1265430.08, abs=0.01)
    bad = _sweep_file(tmp_path, cases_dir, "grid:\n  horizon.yeers: [3]\n")
    res = subprocess.run([sys.executable, "-m", "gainshare.cli", "sweep", str(bad)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"error: {bad}: ") and "yeers" in res.stderr
