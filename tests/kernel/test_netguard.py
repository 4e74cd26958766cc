"""The rehearsal's network barriers actually block: the Python guard, and the network namespace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prodmatch.kernel.netguard import GUARD_LOG_ENV, isolation_command, write_guard

# 203.0.113.0/24 is TEST-NET-3 (documentation only): never a real host, so nothing leaves even if a guard failed.
PROBE = r"""
import errno, socket
results = []
try:
    socket.create_connection(("203.0.113.7", 443), timeout=3)
    results.append("connect-ok")
except OSError as exc:
    results.append(f"connect-{exc.errno}")
try:
    socket.getaddrinfo("pypi.org", 443)
    results.append("dns-ok")
except OSError as exc:
    results.append("dns-blocked")
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
client = socket.create_connection(server.getsockname(), timeout=3)
results.append("loopback-ok")
client.close(); server.close()
print(" ".join(results), getattr(socket, "prodmatch_network_guard", False))
"""


def test_guard_blocks_connect_and_dns_but_not_loopback(tmp_path: Path):
    site = tmp_path / "site"
    site.mkdir()
    write_guard(site)
    log = tmp_path / "net.log"
    env = {**os.environ, "PYTHONPATH": str(site), GUARD_LOG_ENV: str(log)}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["connect-101", "dns-blocked", "loopback-ok", "True"]  # 101 = ENETUNREACH
    lines = [line for line in log.read_text().splitlines() if line.startswith("pid ")]
    assert len(lines) == 2 and "203.0.113.7" in lines[0] and "pypi.org" in lines[1]


def test_network_namespace_blocks_everything():
    try:
        method, prefix = isolation_command("netns")
    except RuntimeError:
        pytest.skip("unshare -n is not permitted here; the rehearsal falls back to the Python guard")
    done = subprocess.run(prefix + [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    connect, dns, loopback, guard = done.stdout.split()
    assert connect == "connect-101" and dns == "dns-blocked" and loopback == "loopback-ok" and guard == "False"


def test_namespace_makes_inputs_read_only(tmp_path: Path):
    try:
        method, prefix = isolation_command("netns+ro")
    except RuntimeError:
        pytest.skip("mount namespaces are not permitted here")
    inputs = tmp_path / "input"
    inputs.mkdir()
    env = {**os.environ, "PRODMATCH_RO_PATHS": str(inputs)}
    done = subprocess.run(prefix + ["sh", "-c", f'touch "{inputs}/x" 2>/dev/null && echo writable || echo read-only;'
                                                f' touch "{tmp_path}/y" && echo rest-writable'],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["read-only", "rest-writable"], done.stderr
    assert not (inputs / "x").exists()
