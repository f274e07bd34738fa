"""``pooling-xfw fuzz``: seeded random cases, every result that is not ``agree`` classified by
its named cause and clustered, unexplained ones shrunk, a folder written; stopped and resumed
without repeating a case."""
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import ops, registry
from pooling_xfw.cli.fuzzing import progress_bar
from pooling_xfw.errors import PoolingError
from pooling_xfw.fuzz import campaign as fuzz
from pooling_xfw.fuzz.findings import classify
from pooling_xfw.fuzz.generate import GROUP, OPERATIONS, draw
from pooling_xfw.fuzz.outputs import FILES
from pooling_xfw.fuzz.shrink import shrink

from .test_cli import ROOT, cli


def _same(a: dict, b: dict) -> bool:
    return (a["op"] == b["op"] and a["kwargs"] == b["kwargs"] and a["X"].dtype == b["X"].dtype
            and np.array_equal(a["X"], b["X"], equal_nan=True))


def test_a_case_is_the_same_whatever_runs_before_it():
    """Case i of seed s comes from its own stream: drawn alone, or after others, or again."""
    late = draw(3, 57)
    for index in range(10):
        draw(3, index)
    assert _same(draw(3, 57), late) and not _same(draw(4, 57), late)


def test_every_draw_is_a_case_the_reference_computes_and_the_grid_is_wide():
    """100 groups of cases: each case resolves (the toolkit's own validation), a group's cases
    share their spec and shape, and together they hold every operation, rank, dtype and kind
    of special value the generator has."""
    cases = [draw(1, i) for i in range(100 * GROUP)]
    for first in range(0, len(cases), GROUP):
        group = cases[first:first + GROUP]
        assert len({(c["op"], repr(c["kwargs"]), c["X"].shape, c["X"].dtype) for c in group}) == 1
    for case in cases:
        ops.get(case["op"]).resolve_case(dict(case["kwargs"]), case["X"], False)
    assert {c["op"] for c in cases} == set(OPERATIONS.values())
    assert {c["X"].ndim for c in cases} == {3, 4, 5}
    assert {c["X"].dtype.name for c in cases} == {"float16", "float32", "float64", "int32"}
    floats = [c["X"] for c in cases if c["X"].dtype.kind == "f"]
    assert any(np.isnan(x).any() for x in floats) and any(np.isinf(x).any() for x in floats)
    assert any(((x != 0) & (np.abs(x) < np.finfo(x.dtype).tiny)).any() for x in floats)
    paddings = {str(c["kwargs"].get("padding")) for c in cases}
    assert {"same", "valid", "0"} <= paddings
    assert {c["kwargs"].get("ceil_mode") for c in cases if "ceil_mode" in c["kwargs"]} == {
        False, True, "keep"}


def test_an_unknown_operation_is_refused_naming_the_option():
    with pytest.raises(PoolingError, match="^--ops: got pool,median; allowed: .*pool, "
                                           "adaptive, global, indices, unpool, pool_unpool"):
        draw(0, 0, ("pool", "median"))


@pytest.mark.parametrize("status,detail,explained,signature", [
    ("agree", "", None, None),
    ("differ", "3 of 16 differ; first at (0, 0, 1, 2): -inf vs reference nan (NaN in the "
               "window ignored; the reference propagates NaN)", True,
     "NaN in the window ignored; the reference propagates NaN"),
    ("differ", "1 of 9 differ; first at (0, 0, 0, 0): 2.5 vs reference 2.0", False,
     "differs, no cause named"),
    ("error", "BackendError: jax: ValueError: bad shape (3, 4)", False,
     "BackendError: jax: ValueError: bad shape (#, #)"),
    ("error", "KnownCrash: paddle: not run: an index is -1 (a window of padding only), and "
              "...", True, "an index is # (a window of padding only), and ..."),
    ("error", "NotImplementedError: onnxruntime: its unpooling has no float64 kernel, and a "
              "cast to a narrower dtype would round the values", True,
     "onnxruntime: its unpooling has no float# kernel, and a cast to a narrower dtype would "
     "round the values"),
    ("error", "PoolingError: onnxruntime: its argmax here numbers the cells of an input it "
              "pads first", True,
     "onnxruntime: its argmax here numbers the cells of an input it pads first"),
    ("error", "BackendError: torch: NotImplementedError: \"max_pool1d\" not implemented for "
              "'Long'", False,
     "BackendError: torch: NotImplementedError: \"max_pool#d\" not implemented for 'Long'"),
], ids=["agree", "named-cause", "no-cause", "error", "known-crash", "declined-no-kernel",
        "declined-planner", "framework-not-implemented"])
def test_a_result_is_explained_only_where_a_cause_is_named(status, detail, explained,
                                                          signature):
    outcome = classify("jax", status, detail)
    if explained is None:
        assert outcome is None
    else:
        assert (outcome.explained, outcome.signature) == (explained, signature)


def test_shrinking_keeps_the_outcome_and_leaves_a_minimal_case():
    """A case showing "a NaN is in the input" (the outcome) shrinks to one sample, one
    channel, the fewest cells the spec takes, the NaN its only non-zero value, in float32."""
    case = next(c for c in (draw(2, i) for i in range(200)) if c["X"].dtype.kind == "f"
                and np.isnan(c["X"]).sum() > 1 and c["X"].size > 40 and c["op"] == "pool2d")
    small = shrink(case, lambda c: bool(np.isnan(c["X"]).any()), budget=400)
    x = small["X"]
    assert np.isnan(x).sum() == 1 and np.count_nonzero(x) == 1 and x.dtype == np.float32
    assert x.shape[0] == 1 and x.shape[small["kwargs"]["layout"].index("C")] == 1
    assert x.size < case["X"].size
    ops.get(small["op"]).resolve_case(dict(small["kwargs"]), x, False)


def test_a_float32_window_sum_that_overflows_is_named(pool):
    """The first fuzz campaign's unexplained finding, shrunk: two -3.4e38 cells averaged.
    The reference rescales a window sum that would overflow (-3.4e38); a framework whose
    float32 sum overflows gives -inf, and the diagnosis now names it (measured here: all six
    do).  Every backend agrees or differs with that cause."""
    x = np.full((1, 1, 2, 1), np.finfo(np.float32).min, np.float32)
    comparison = px.compare(x, (2, 1), stride=1, mode="avg", padding=0, pool=pool,
                            backends=registry.defaults())
    assert comparison.reference.ravel().tolist() == [np.finfo(np.float32).min]
    for name, result in comparison.results.items():
        assert result.status == "agree" or (
            result.status == "differ" and "an intermediate sum overflowed float32 to -inf"
            in result.detail), (name, result.detail)


@pytest.fixture(scope="module")
def campaign_folder(pool, tmp_path_factory):
    """A campaign of 40 cases on two backends, then resumed to 70."""
    folder = tmp_path_factory.mktemp("fuzz")
    lines = []
    said = lambda tick: lines.append(str(tick))  # noqa: E731 - each as its line
    first = fuzz.run(fuzz.start(5, ["pytorch", "tensorflow"], ("pool", "global")), folder,
                     cases=40, pool=pool, progress=said)
    done_first = set(first.done)
    resumed = fuzz.run(fuzz.Campaign.load(folder), folder, cases=70, pool=pool,
                       progress=said)
    return folder, done_first, resumed, lines


def test_a_campaign_writes_its_folder_and_resumes_without_repeating(campaign_folder):
    folder, done_first, resumed, lines = campaign_folder
    assert done_first == set(range(40)) and resumed.done == set(range(70))
    assert all((folder / name).is_file() for name in FILES + ("state.json",))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["cases"] == 70 and summary["clusters"] == len(summary["rows"])
    assert summary["unexplained"] == sum(not row["explained"] for row in summary["rows"])
    assert any(line.startswith("fuzz: 70/70 cases") for line in lines)
    for row in summary["rows"]:  # each cluster: its cause, or "unexplained"; its case
        assert row["cause"] == (row["signature"] if row["explained"] else "unexplained")
        assert row["count"] >= 1 and row["outputs"]["reference"]


def test_its_cases_replay_with_report(campaign_folder):
    """``cases.json`` is a ``report --cases`` file: each cluster's minimal case runs again."""
    folder, *_ = campaign_folder
    cases = json.loads((folder / "cases.json").read_text())
    assert cases, "seed 5 finds clusters on these backends (NaN ignored, flushed subnormals)"
    proc = cli("report", "--cases", str(folder / "cases.json"), "--backends",
               "pytorch,tensorflow", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    assert {c["name"] for c in json.loads(proc.stdout)["cases"]} == {c["name"] for c in cases}


def test_sigterm_stops_cleanly_and_keeps_what_ran(tmp_path):
    """A campaign killed with SIGTERM mid-run: its state and summary are written, the batch
    in flight is said lost, and --resume continues from the cases that ran."""
    folder = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pooling_xfw", "fuzz", "--cases", "100000",
                             "--ops", "pool", "--backends", "pytorch", "--out", str(folder)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    for line in proc.stderr:  # the first batch has run
        if line.startswith("fuzz: "):
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), err
    state = json.loads((folder / "state.json").read_text())
    assert state["done"] and "stopped after" in state["stopped"], state["stopped"]
    assert "was not run: --resume runs it" in (folder / "summary.txt").read_text()


TICK = fuzz.Tick(done=64, total=256, rate=100.0, clusters=3, unexplained=1, left=None)


def test_on_a_terminal_a_bar_shows_cases_rate_clusters_and_time_left():
    stream = io.StringIO()
    with progress_bar(stream, force=True) as progress:
        progress(TICK)
        progress("fuzz: stopped after 64 cases")
    shown = stream.getvalue()
    assert "\x1b[" in shown  # drawn, not printed line by line
    for part in ("64/256", "100 cases/s", "3 clusters (1 unexplained)", "2 s left",
                 "fuzz: stopped after 64 cases"):
        assert part in shown, (part, shown)


def test_elsewhere_the_progress_is_one_line_per_batch():
    stream = io.StringIO()
    with progress_bar(stream) as progress:
        progress(TICK)
        progress(dataclasses.replace(TICK, total=None, left=30.4))
    assert stream.getvalue().splitlines() == [
        "fuzz: 64/256 cases, 100 cases/s, 3 clusters (1 unexplained)",
        "fuzz: 64 cases, 100 cases/s, 3 clusters (1 unexplained), 30 s left"]


def test_the_command_lines_errors_name_the_option(tmp_path):
    for args, says in ((["--cases", "0"], "--cases 0: 0 is below 1"),
                       (["--cases", "5", "--minutes", "1"], "not with --cases"),
                       (["--ops", "pool,fractional"], "--ops: got pool,fractional"),
                       (["--shard", "1"], "not without --shards"),
                       (["--shards", "2", "--shard", "2"], "--shard"),
                       (["merge"], "fuzz merge DIR [DIR ...] --out DIR"),
                       (["--resume", str(tmp_path)], "--resume: cannot read")):
        proc = cli("fuzz", *args, "--out", str(tmp_path / "x")) if "--resume" not in args \
            else cli("fuzz", *args)
        assert proc.returncode == 2 and says in proc.stderr, (args, proc.stderr)


def test_tensorflows_3d_average_skips_the_lowest_value_as_padding(pool):
    """A fuzz finding, shrunk and re-measured: TensorFlow's float32 ``avg_pool3d`` leaves out
    the cells holding -3.4028235e+38 (Eigen's average reducer takes that value for padding):
    ``[-3.4e38, 2]`` averages to 2, a window of only such cells to NaN.  Named; the other
    frameworks agree or overflow their float32 sum (named too)."""
    m = np.finfo(np.float32).max
    x = np.array([-m, 2.0, 5.0, -m, -m, -m], np.float32).reshape(1, 1, 1, 1, 6)
    comparison = px.compare(x, (1, 1, 2), mode="avg", stride=(1, 1, 2), layout="NCDHW",
                            backends=registry.defaults(), pool=pool)
    skipped = "the dtype's lowest value, skipped as padding"
    for name, result in comparison.results.items():
        assert result.status == "agree" or any(cause in result.detail for cause in (
            skipped, "an intermediate sum overflowed float32")), (name, result.detail)
    tf = comparison.results["tensorflow"]
    assert tf.status == "differ" and skipped in tf.detail, tf.detail
    assert tf.output.ravel()[0] == 2.0 and np.isnan(tf.output.ravel()[2])


def test_a_backward_campaign_draws_what_has_a_gradient():
    """``--grad``: the operations with a gradient, float inputs, each case asking for it;
    indices alone are refused, naming the option."""
    cases = [draw(6, i, tuple(OPERATIONS), grad=True) for i in range(40 * GROUP)]
    assert {c["op"] for c in cases} == {"pool2d", "adaptive", "global"}
    assert all(c["X"].dtype.kind == "f" and c["kwargs"]["grad"] for c in cases)
    with pytest.raises(PoolingError, match="^--ops: got indices with --grad; allowed: pool, "
                                           "adaptive, global"):
        fuzz.start(0, ["pytorch"], ("indices",), grad=True)


def test_a_backward_campaign_clusters_the_gradients_apart(pool, tmp_path):
    """A backward finding is its own cluster ("backward differ"), its case replayable (the
    gradient flag left to report --grad), its outputs side by side the gradients."""
    done = fuzz.run(fuzz.start(4, ["pytorch", "tensorflow"], ("pool",), grad=True), tmp_path,
                    cases=48, pool=pool, progress=[].append)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["grad"] and summary["cases"] == 48 == len(done.done)
    backward = [row for row in summary["rows"] if row["status"].startswith("backward")]
    assert backward, summary["rows"]  # TensorFlow's tie policy, at least
    assert all("reference gradient" in row["outputs"] for row in backward)
    assert all("grad" not in case["kwargs"] for case in json.loads(
        (tmp_path / "cases.json").read_text()))
