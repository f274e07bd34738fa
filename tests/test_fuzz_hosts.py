"""A fuzz campaign across machines: shards run on two "hosts" (a real sshd on 127.0.0.1, two
host names, throwaway keys) merge into the campaign one machine runs; a host killed mid-batch
loses that batch only, and the merge says which cases; one framework in two columns (this
machine and another) records each column's machine and clusters what differs between them."""
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pooling_xfw.errors import PoolingError
from pooling_xfw.fuzz import campaign as fuzz
from pooling_xfw.fuzz.findings import twin_outcomes
from pooling_xfw.judge import BackendResult
from pooling_xfw.runtime.client import WorkerPool

from .loopback import HOST, ssh_spec
from .test_cli import ROOT

HOSTS = (HOST, f"{HOST}-b")
QUIET = [].append


@pytest.fixture(scope="module")
def two_hosts(sshd):
    """An ssh config with two host names, each logging in to the loopback sshd."""
    text = sshd.read_text()
    config = sshd.parent / "two_hosts_config"
    config.write_text(text + text.replace(f"Host {HOSTS[0]}", f"Host {HOSTS[1]}"))
    return config


def _fuzz_on(config, host: str, *args: str) -> subprocess.Popen:
    """``pooling-xfw fuzz ARGS`` run on ``host`` over ssh, in this checkout, with this process's
    toolkit settings; its first line of output is the remote process's id."""
    settings = " ".join(f"{k}={shlex.quote(v)}" for k, v in os.environ.items()
                        if k.startswith("POOLING_XFW_"))
    command = (f"cd {shlex.quote(str(ROOT))} && echo $$ && exec env {settings} "
               f"{shlex.quote(sys.executable)} -m pooling_xfw fuzz "
               + " ".join(shlex.quote(a) for a in args))
    return subprocess.Popen(["ssh", "-F", str(config), host, command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


CAMPAIGN = ("--seed", "9", "--ops", "pool,indices", "--backends", "pytorch,jax")


def test_two_hosts_run_two_shards_whose_merge_is_the_one_machine_run(two_hosts, pool,
                                                                      tmp_path):
    """``--shards 2`` on two hosts at once: each part runs every other group of cases; merged,
    the cases run and the clusters (each with the cases showing it) are those of one run of
    the same seed here."""
    parts = [tmp_path / "part0", tmp_path / "part1"]
    runs = [_fuzz_on(two_hosts, host, *CAMPAIGN, "--cases", "60", "--shards", "2", "--shard",
                     str(shard), "--out", str(part)) for shard, (host, part) in
            enumerate(zip(HOSTS, parts))]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode in (0, 1), err
    whole = fuzz.run(fuzz.start(9, ["pytorch", "jax"], ("pool", "indices")), tmp_path / "whole",
                     cases=60, pool=pool, progress=QUIET)
    merged = fuzz.merge(parts, tmp_path / "merged")
    assert merged.done == whole.done == set(range(60)) and not merged.stopped
    assert {k: c.cases for k, c in merged.clusters.items()} == {
        k: c.cases for k, c in whole.clusters.items()}
    assert set(merged.machines) == {"pytorch", "jax"}
    with pytest.raises(PoolingError, match="ran cases another part ran too"):
        fuzz.merge([parts[0], tmp_path / "whole"], tmp_path / "again")


def test_a_host_killed_mid_campaign_loses_only_its_in_flight_batch(two_hosts, pool, tmp_path):
    """The campaign process of one host killed (SIGKILL: nothing cleans up) while a batch
    runs: its folder keeps every batch before, says the batch in flight, the merge names those
    cases as lost, and ``--resume`` runs them."""
    part0, part1 = tmp_path / "part0", tmp_path / "part1"
    run = _fuzz_on(two_hosts, HOSTS[1], "--seed", "9", "--ops", "pool", "--backends", "pytorch",
                   "--cases", "100000", "--shards", "2", "--shard", "1", "--out", str(part1))
    pid = int(run.stdout.readline())
    try:
        for line in run.stderr:  # a first batch has run and been saved
            if line.startswith("fuzz: "):
                break
        state = {}
        for _ in range(600):  # the next batch is said in flight before it runs
            state = json.loads((part1 / "state.json").read_text())
            if state["in_flight"]:
                break
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    finally:
        try:
            run.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
    state = json.loads((part1 / "state.json").read_text())
    lost = state["in_flight"]
    assert state["done"] and lost and not set(lost) & set(state["done"]), state
    kept = fuzz.run(fuzz.start(9, ["pytorch"], ("pool",), shards=2, shard=0), part0,
                    cases=max(lost) + 1, pool=pool, progress=QUIET)
    merged = fuzz.merge([part0, part1], tmp_path / "merged")
    assert merged.done == kept.done | set(state["done"])
    said = (f"its process ended mid-batch (its host killed or lost): the {len(lost)} cases in "
            f"flight, {lost[0]} to {lost[-1]}, were lost")
    assert said in merged.stopped and said in (tmp_path / "merged" / "summary.txt").read_text()
    resumed = fuzz.run(fuzz.Campaign.load(part1), part1, cases=max(lost) + 1, pool=pool,
                       progress=QUIET)
    assert set(lost) <= resumed.done and not resumed.in_flight


def test_one_framework_on_two_machines_records_each_columns_machine(sshd, tmp_path):
    """``pytorch`` here and ``pytorch:loopback`` over ssh: one campaign, two columns, each
    with its machine line; the same machine gives the same outputs, so no cluster between them."""
    column = "pytorch:loopback"
    with WorkerPool(gateways={column: ssh_spec(sshd, "pytorch")}) as pool:
        done = fuzz.run(fuzz.start(3, ["pytorch", column], ("pool", "global")), tmp_path,
                        cases=48, pool=pool, progress=QUIET)
    assert set(done.machines) == {"pytorch", column} and not done.unrun
    assert done.machines["pytorch"] == done.machines[column]
    assert not [c for c in done.clusters.values() if "between machines" in c.status]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["machines"]) == {"pytorch", column}
    text = (tmp_path / "summary.txt").read_text()
    assert f"{column} runs on {summary['machines'][column]}" in text


def _result(name: str, output) -> BackendResult:
    return BackendResult(name, "agree", output=np.asarray(output, dtype=np.float32))


@pytest.mark.parametrize("outputs,found", [
    ({"pytorch": [1.0, np.nan], "pytorch:gpu-box": [1.0, np.nan]}, []),
    ({"pytorch": [1.0, 2.0], "pytorch:gpu-box": [1.0, np.nextafter(np.float32(2), 3)]},
     ["pytorch:gpu-box"]),
    ({"pytorch": [1.0], "jax": [1.5], "jax:arm-box": [1.5]}, []),
    ({"onnxruntime@1.22.1": [0.0], "onnxruntime@1.22.1:arm-box": [1.0],
      "onnxruntime": [1.0]}, ["onnxruntime@1.22.1:arm-box"]),
], ids=["nan-equals-nan", "one-ulp-apart", "another-framework-is-no-twin",
        "a-version-is-its-own-twin"])
def test_columns_of_one_framework_and_version_that_differ_form_their_own_cluster(outputs,
                                                                                 found):
    results = {name: _result(name, value) for name, value in outputs.items()}
    outcomes = twin_outcomes(results)
    assert [o.backend for o, _ in outcomes] == found
    for outcome, detail in outcomes:
        assert outcome.status == "differs between machines" and outcome.explained
        assert "1 of " in detail and "differs from" in outcome.signature
