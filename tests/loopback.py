"""A real sshd on 127.0.0.1 for the tests that reach a backend or a host over ssh: a throwaway
host key and user key, an ssh config naming it, nothing leaving loopback."""
import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from pooling_xfw.runtime import envs

#: the host name the config gives the loopback sshd
HOST = "pooling-xfw-test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def loopback_sshd(home: Path):
    """Debian's sshd on 127.0.0.1 with a throwaway host key and user key made in ``home``;
    yields an ssh config file whose host ``HOST`` logs in with that key."""
    sshd_path = shutil.which("sshd") or "/usr/sbin/sshd"
    assert os.path.exists(sshd_path), "Debian's openssh-server is needed (make test installs it)"
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / name)],
                       check=True)
    (home / "authorized_keys").write_text((home / "user_key.pub").read_text())
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    port = free_port()
    (home / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPidFile {home / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n")
    daemon = subprocess.Popen([sshd_path, "-D", "-e", "-f", str(home / "sshd_config")],
                              stderr=open(home / "sshd.log", "wb"))
    try:
        wait_for_port(port)
        config = home / "ssh_config"
        config.write_text(
            f"Host {HOST}\n  HostName 127.0.0.1\n  Port {port}\n"
            f"  User {os.environ.get('USER') or __import__('getpass').getuser()}\n"
            f"  IdentityFile {home / 'user_key'}\n  IdentitiesOnly yes\n  BatchMode yes\n"
            f"  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
        yield config
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def ssh_spec(config, backend: str) -> str:
    """The gateway spec running ``backend``'s worker over the loopback sshd, in its venv here."""
    return f"ssh={HOST}//ssh_config={config}//python={envs.interpreter(backend)}"
