"""Backends on another machine, for real: a real sshd and an execnet socket server, both on
127.0.0.1, each carrying a real backend's worker into its venv (nothing leaves loopback)."""
import os
import platform
import re

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import report
from pooling_xfw.cli import main
from pooling_xfw.errors import PoolingError
from pooling_xfw.runtime import envs
from pooling_xfw.runtime.client import WorkerPool

from .loopback import HOST, free_port, ssh_spec

X16 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)


@pytest.fixture
def socket_server():
    """An execnet socket server on 127.0.0.1, running in the paddle venv (started through a
    local gateway, as ``execnet.gateway_socket.start_via`` does); yields its ``host:port``."""
    import execnet
    from execnet.script import socketserver

    group = execnet.Group()
    try:
        starter = group.makegateway(f"popen//python={envs.interpreter('paddle')}")
        channel = starter.remote_exec(socketserver)
        channel.send(("127.0.0.1", 0))
        host, port = channel.receive(30)
        yield f"{host}:{port}"
    finally:
        group.terminate(timeout=5)


def test_a_backend_over_ssh_agrees_on_the_chapter_and_shows_its_host(sshd):
    with WorkerPool(gateways={"mxnet": ssh_spec(sshd, "mxnet")}) as pool:
        hello = pool.start(["mxnet"])["mxnet"]
        assert hello.where == HOST and not hello.local
        assert hello.host == platform.node() and hello.framework_version == "1.9.1"
        doc = report.build(px.cases.CHAPTER, ["mxnet", "pytorch"], pool=pool)
    assert doc["summary"]["agree"] == 2 * len(px.cases.CHAPTER), doc["summary"]
    assert doc["backends"]["mxnet"]["host"] == platform.node()
    header = report.render(doc, "text").splitlines()[2]
    assert f"mxnet 1.9.1 @ {platform.node()}" in header
    assert "pytorch 2.13.0+cpu" in header and "pytorch 2.13.0+cpu @" not in header


def test_a_large_input_crosses_an_ssh_gateway_in_chunks(sshd):
    x = np.random.default_rng(0).standard_normal((8, 64, 112, 112)).astype(np.float32)
    with WorkerPool(gateways={"tensorflow": ssh_spec(sshd, "tensorflow")}) as pool:
        result = px.compare(x, 3, stride=2, padding=1, backends=["tensorflow"], pool=pool)
        assert not pool.worker("tensorflow").local
    assert result.ok, result.results["tensorflow"].detail


def test_an_ssh_gateway_runs_ssh_without_compression(sshd):
    """execnet starts ``ssh -C``; the worker's ssh runs without it (zlib held a 25.7 MB input
    to about 23 MB/s over loopback), so the ssh config decides, as it does for ``ssh``."""
    from pooling_xfw.runtime.gateways import uncompressed

    command = ["ssh", "-C", "-F", "config", "host", "python -c ..."]
    assert uncompressed(command) == ["ssh", "-F", "config", "host", "python -c ..."]
    assert uncompressed(["/usr/bin/python3", "-C"]) == ["/usr/bin/python3", "-C"]  # not ssh
    with WorkerPool(gateways={"pytorch": ssh_spec(sshd, "pytorch")}) as remote:
        assert not isinstance(remote.start(["pytorch"])["pytorch"], Exception)
        started = remote.worker("pytorch")._launcher.processes[0].args
    assert started[0] == "ssh" and "-C" not in started, started


def test_envs_list_shows_a_remote_backend_with_its_host(sshd, capsys):
    assert main(["--gateway", f"mxnet={ssh_spec(sshd, 'mxnet')}", "envs", "list",
                 "--backends", "mxnet"]) == 0
    line = [l for l in capsys.readouterr().out.splitlines() if l.strip().startswith("mxnet")][0]
    assert "ready" in line and "1.9.1" in line and platform.node() in line and "ssh=" in line


def test_a_backend_through_a_socket_gateway_agrees_with_its_host_shown(socket_server):
    x = np.random.default_rng(1).standard_normal((2, 16, 64, 64)).astype(np.float32)  # chunks
    with WorkerPool() as pool:
        chapter = px.compare(px.cases.CHAPTER[0].input, 2, pool=pool, backends=["paddle"],
                             gateways={"paddle": f"socket={socket_server}"})
        hello = pool.start(["paddle"])["paddle"]
        large = px.compare(x, 3, "avg", stride=2, padding=1, backends=["paddle"], pool=pool)
    assert hello.where == socket_server and hello.host == platform.node()
    assert chapter.ok and large.ok, (chapter.results, large.results)


def test_one_framework_in_two_columns_here_and_on_another_machine(sshd):
    """``pytorch`` here and ``pytorch:loopback`` through an ssh gateway: two columns of one
    framework and version, each judged on its own, each labelled, each with its machine."""
    column = "pytorch:loopback"
    with WorkerPool(gateways={column: ssh_spec(sshd, "pytorch")}) as pool:
        doc = report.build(px.cases.CHAPTER, ["pytorch", column], pool=pool)
        assert not pool.worker(column).local and pool.worker("pytorch").local
    assert doc["summary"]["agree"] == 2 * len(px.cases.CHAPTER), doc["summary"]
    here, there = doc["backends"]["pytorch"], doc["backends"][column]
    assert (here["where"], there["where"]) == ("this machine", HOST)
    assert there["framework_version"] == here["framework_version"] == "2.13.0+cpu"
    text = report.render(doc, "text")
    header = text.splitlines()[2]
    assert f"pytorch:loopback 2.13.0+cpu @ {platform.node()}" in header
    assert "pytorch 2.13.0+cpu" in header
    for name in ("pytorch", column):  # one machine line per column, from its worker
        machine = doc["backends"][name]["machine"]
        assert machine["cores"] == os.cpu_count() and machine["arch"] == platform.machine()
        assert f"{name} runs on {machine['cpu']}" in text


def test_a_column_on_another_machine_needs_its_gateway():
    result = px.compare(X16, 2, backends=["pytorch", "pytorch:gpu-box"]).results
    assert result["pytorch"].status == "agree"
    assert result["pytorch:gpu-box"].status == "unavailable"
    assert "--gateway pytorch:gpu-box=ssh=" in result["pytorch:gpu-box"].detail


@pytest.mark.parametrize("name,problem", [
    ("pytorch:", "no machine after ':'"),
    ("pytorch:a/b", "is not a machine's name"),
    ("torch:gpu-box", "unknown backend"),
])
def test_a_column_name_that_is_not_one_is_refused(name, problem):
    with pytest.raises(PoolingError, match=re.escape(problem)):
        px.compare(X16, 2, backends=[name])


def test_envs_list_says_what_a_machines_column_without_its_gateway_needs(capsys):
    main(["envs", "list", "--backends", "pytorch:gpu-box"])
    out = capsys.readouterr().out
    assert "pytorch:gpu-box missing" in out and "gpu-box" in out
    assert "fix: --gateway pytorch:gpu-box=ssh=HOST//python=PATH" in out


def test_an_environment_is_not_made_for_another_machines_column():
    with pytest.raises(PoolingError, match="a column on another machine"):
        envs.create(["pytorch:gpu-box"])


def test_an_unreachable_host_is_an_error_for_that_backend_only(tmp_path):
    spec = (f"ssh=-p {free_port()} -o BatchMode=yes -o ConnectTimeout=5 127.0.0.1"
            f"//python=/usr/bin/python3")
    with WorkerPool(start_timeout=30) as pool:
        outcome = px.compare(X16, 2, backends=["pytorch", "paddle"], pool=pool,
                             gateways={"pytorch": spec}).results
    assert outcome["pytorch"].status in ("error", "unavailable")
    assert "log: " in outcome["pytorch"].detail
    assert outcome["paddle"].status == "agree"


@pytest.mark.parametrize("text,flag", [
    ("pytorch=ftp=somewhere", "--gateway pytorch"),
    ("pytorch", "--gateway"),
    ("torch=popen", "backend"),
])
def test_a_bad_gateway_is_a_usage_error(capsys, text, flag):
    assert main(["--gateway", text, "envs", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and "allowed" in err


@pytest.mark.parametrize("spec,problem", [
    ("socket=127.0.0.1:notaport", "'notaport' is not a port (1 to 65535)"),
    ("socket=127.0.0.1:0", "'0' is not a port (1 to 65535)"),
    ("socket=127.0.0.1:70000", "'70000' is not a port (1 to 65535)"),
    ("socket=127.0.0.1:\uff18\uff18", "'\uff18\uff18' is not a port (1 to 65535)"),
    ("socket=:8888", "no host before the port"),
    ("socket=[::1]:8888", "the host '[::1]' holds a ':'"),
    ("socket=127.0.0.1:8888:9", "the host '127.0.0.1:8888' holds a ':'"),
], ids=["a-word", "zero", "past-65535", "full-width-digits", "no-host", "ipv6-literal",
        "two-ports"])
def test_a_socket_gateway_without_a_port_is_refused_when_given(capsys, spec, problem):
    """Said when the option is read, before any worker starts, from the CLI and the API."""
    assert main(["--gateway", f"pytorch={spec}", "envs", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pooling-xfw: error: --gateway pytorch: got {spec!r}: {problem}")
    with pytest.raises(PoolingError, match=re.escape(problem)):
        WorkerPool(gateways={"pytorch": spec})


def test_a_socket_nothing_listens_on_is_said_so(tmp_path):
    """No worker ever connected: 'could not connect', not a worker that broke a connection."""
    port = free_port()
    with WorkerPool(start_timeout=30) as pool:
        outcome = px.compare(X16, 2, backends=["pytorch"], pool=pool,
                             gateways={"pytorch": f"socket=127.0.0.1:{port}"}).results["pytorch"]
    assert outcome.status == "error"
    assert outcome.detail.startswith(f"could not connect to 127.0.0.1:{port} (Connection"), \
        outcome.detail
