"""Backends on another machine, for real: a real sshd and an execnet socket server, both on
127.0.0.1, each carrying a real backend's worker into its venv (nothing leaves loopback)."""
import os
import platform
import re
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

import pooling_xfw as px
from pooling_xfw import report
from pooling_xfw.cli import main
from pooling_xfw.errors import PoolingError
from pooling_xfw.runtime import envs
from pooling_xfw.runtime.client import WorkerPool

X16 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """Debian's sshd on 127.0.0.1 with a throwaway host key and user key; yields an ssh config
    file whose host ``pooling-xfw-test`` logs in with that key."""
    sshd_path = shutil.which("sshd") or "/usr/sbin/sshd"
    assert os.path.exists(sshd_path), "Debian's openssh-server is needed (make test installs it)"
    home = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / name)],
                       check=True)
    (home / "authorized_keys").write_text((home / "user_key.pub").read_text())
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    port = _free_port()
    (home / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPidFile {home / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n")
    daemon = subprocess.Popen([sshd_path, "-D", "-e", "-f", str(home / "sshd_config")],
                              stderr=open(home / "sshd.log", "wb"))
    try:
        _wait_for_port(port)
        config = home / "ssh_config"
        config.write_text(
            f"Host pooling-xfw-test\n  HostName 127.0.0.1\n  Port {port}\n"
            f"  User {os.environ.get('USER') or __import__('getpass').getuser()}\n"
            f"  IdentityFile {home / 'user_key'}\n  IdentitiesOnly yes\n  BatchMode yes\n"
            f"  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
        yield config
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def _ssh_spec(config, backend: str) -> str:
    return f"ssh=pooling-xfw-test//ssh_config={config}//python={envs.interpreter(backend)}"


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
    with WorkerPool(gateways={"mxnet": _ssh_spec(sshd, "mxnet")}) as pool:
        hello = pool.start(["mxnet"])["mxnet"]
        assert hello.where == "pooling-xfw-test" and not hello.local
        assert hello.host == platform.node() and hello.framework_version == "1.9.1"
        doc = report.build(px.cases.CHAPTER, ["mxnet", "pytorch"], pool=pool)
    assert doc["summary"]["agree"] == 2 * len(px.cases.CHAPTER), doc["summary"]
    assert doc["backends"]["mxnet"]["host"] == platform.node()
    header = report.render(doc, "text").splitlines()[2]
    assert f"mxnet 1.9.1 @ {platform.node()}" in header
    assert "pytorch 2.13.0+cpu" in header and "pytorch 2.13.0+cpu @" not in header


def test_a_large_input_crosses_an_ssh_gateway_in_chunks(sshd):
    x = np.random.default_rng(0).standard_normal((8, 64, 112, 112)).astype(np.float32)
    with WorkerPool(gateways={"tensorflow": _ssh_spec(sshd, "tensorflow")}) as pool:
        result = px.compare(x, 3, stride=2, padding=1, backends=["tensorflow"], pool=pool)
        assert not pool.worker("tensorflow").local
    assert result.ok, result.results["tensorflow"].detail


def test_envs_list_shows_a_remote_backend_with_its_host(sshd, capsys):
    assert main(["--gateway", f"mxnet={_ssh_spec(sshd, 'mxnet')}", "envs", "list",
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


def test_an_unreachable_host_is_an_error_for_that_backend_only(tmp_path):
    spec = (f"ssh=-p {_free_port()} -o BatchMode=yes -o ConnectTimeout=5 127.0.0.1"
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
    port = _free_port()
    with WorkerPool(start_timeout=30) as pool:
        outcome = px.compare(X16, 2, backends=["pytorch"], pool=pool,
                             gateways={"pytorch": f"socket=127.0.0.1:{port}"}).results["pytorch"]
    assert outcome.status == "error"
    assert outcome.detail.startswith(f"could not connect to 127.0.0.1:{port} (Connection"), \
        outcome.detail
