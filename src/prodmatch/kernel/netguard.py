"""Keeping a rehearsed kernel off the network, the way Kaggle's "Internet off" does.

Two layers, both used by :mod:`prodmatch.kernel.rehearse`:

1. **A network namespace** (``unshare -n``, or ``unshare -rn`` as an unprivileged user): the kernel
   process tree gets its own network stack with only a loopback device, so *any* connection -- from
   Python, pip, a C library or a shell tool -- fails with "Network is unreachable". When a mount
   namespace is also allowed (``unshare -m``), the fake ``/kaggle/input`` tree, the data it links to and
   the built dataset are bind-mounted read-only inside it, as on Kaggle.
2. **A Python guard** (:data:`GUARD_SOURCE`, installed as ``sitecustomize.py`` of the rehearsal's fresh
   environment, so it runs in every Python process the kernel starts, pip included): name lookups and
   ``connect``/``sendto`` to anything but loopback raise ``OSError(ENETUNREACH)`` *and are logged* to the
   file named by ``PRODMATCH_NETGUARD_LOG``. The log is how the rehearsal shows that the kernel never even
   tried to reach the network; where namespaces are unavailable the guard is the only barrier.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

GUARD_LOG_ENV = "PRODMATCH_NETGUARD_LOG"

#: Source of the ``sitecustomize.py`` guard (stdlib only; it must not import prodmatch).
GUARD_SOURCE = r'''"""prodmatch rehearsal network guard (sitecustomize): no lookups, no connections but loopback."""
import errno as _errno
import os as _os
import socket as _socket
import sys as _sys
import traceback as _traceback

_LOG = _os.environ.get("PRODMATCH_NETGUARD_LOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}


def _is_loopback(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    return host in _LOCAL_NAMES or host.startswith("127.") or host in ("::1", "0:0:0:0:0:0:0:1")


def _blocked(what, target):
    message = f"prodmatch rehearsal: network access blocked ({what} {target!r})"
    if _LOG:
        try:
            stack = "".join(_traceback.format_stack(limit=8)[:-2])
            with open(_LOG, "a", encoding="utf-8") as handle:
                handle.write(f"pid {_os.getpid()} {' '.join(_sys.argv)[:200]}: {what} {target!r}\n{stack}\n")
        except OSError:
            pass
    raise OSError(_errno.ENETUNREACH, message)


def _guard_address(sock, address, what):
    family = getattr(sock, "family", None)
    if family in (_socket.AF_INET, _socket.AF_INET6) and isinstance(address, tuple) and address:
        if not _is_loopback(address[0]):
            _blocked(what, address)


_connect = _socket.socket.connect
_connect_ex = _socket.socket.connect_ex
_sendto = _socket.socket.sendto
_getaddrinfo = _socket.getaddrinfo
_gethostbyname = _socket.gethostbyname
_gethostbyname_ex = _socket.gethostbyname_ex


def connect(self, address):
    _guard_address(self, address, "connect")
    return _connect(self, address)


def connect_ex(self, address):
    _guard_address(self, address, "connect")
    return _connect_ex(self, address)


def sendto(self, data, *args):
    if args:
        _guard_address(self, args[-1], "sendto")
    return _sendto(self, data, *args)


def getaddrinfo(host, *args, **kwargs):
    if not _is_loopback(host):
        _blocked("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


def gethostbyname(host):
    if not _is_loopback(host):
        _blocked("gethostbyname", host)
    return _gethostbyname(host)


def gethostbyname_ex(host):
    if not _is_loopback(host):
        _blocked("gethostbyname_ex", host)
    return _gethostbyname_ex(host)


_socket.socket.connect = connect
_socket.socket.connect_ex = connect_ex
_socket.socket.sendto = sendto
_socket.getaddrinfo = getaddrinfo
_socket.gethostbyname = gethostbyname
_socket.gethostbyname_ex = gethostbyname_ex
_socket.prodmatch_network_guard = True
'''

#: Run inside the new namespaces: make the listed paths read-only, bring loopback up, exec the command.
NAMESPACE_SETUP = r'''set -e
if [ -n "$PRODMATCH_RO_PATHS" ]; then
  printf '%s\n' "$PRODMATCH_RO_PATHS" | while IFS= read -r path; do
    [ -n "$path" ] || continue
    mount --bind "$path" "$path"
    mount -o remount,bind,ro "$path" "$path"
  done
fi
ip link set lo up 2>/dev/null || true
exec "$@"
'''

ISOLATION_METHODS = ("auto", "netns+ro", "netns", "guard")


def write_guard(site_dir: Path) -> Path:
    """Install the guard as ``site_dir/sitecustomize.py``; returns its path."""
    path = Path(site_dir) / "sitecustomize.py"
    path.write_text(GUARD_SOURCE, encoding="utf-8")
    return path


def _unshare_prefix(flags: str) -> list[str] | None:
    """``unshare`` arguments that work here for ``flags`` (e.g. "n", "mn"), as root or via a user ns."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    candidates = [[unshare, f"-{flags}"]]
    if os.geteuid() != 0:
        candidates = [[unshare, f"-r{flags}"]]
    else:
        candidates.append([unshare, f"-r{flags}"])
    for prefix in candidates:
        probe = prefix + (["--propagation", "private"] if "m" in flags else []) + ["sh", "-c", _PROBES[flags]]
        try:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix + (["--propagation", "private"] if "m" in flags else [])
    return None


_PROBES = {
    "n": "true",
    # a read-only bind mount of a throwaway path must work, else netns+ro is not available
    "mn": 'd=$(mktemp -d) && mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" "$d" && '
          '! touch "$d/x" 2>/dev/null; rc=$?; umount "$d" 2>/dev/null; rmdir "$d" 2>/dev/null; exit $rc',
}


def isolation_command(method: str = "auto") -> tuple[str, list[str]]:
    """(method actually used, command prefix) for running a process off the network.

    ``netns+ro``: ``unshare -mn`` + read-only bind mounts (the prefix ends with ``sh -c SETUP sh``, so the
    real command follows it); ``netns``: ``unshare -n``; ``guard``: no prefix, the Python guard only.
    ``auto`` takes the first that works here. Asking for one that does not work raises RuntimeError.
    """
    if method not in ISOLATION_METHODS:
        raise ValueError(f"isolation must be one of {ISOLATION_METHODS}, got {method!r}")
    order = ["netns+ro", "netns", "guard"] if method == "auto" else [method]
    for candidate in order:
        if candidate == "guard":
            return "guard", []
        prefix = _unshare_prefix("mn" if candidate == "netns+ro" else "n")
        if prefix is None:
            continue
        if candidate == "netns+ro":
            return candidate, prefix + ["sh", "-c", NAMESPACE_SETUP, "prodmatch-netns"]
        return candidate, prefix + ["sh", "-c", 'ip link set lo up 2>/dev/null || true; exec "$@"',
                                    "prodmatch-netns"]
    raise RuntimeError(f"network isolation {method!r} is not available here (unshare missing or not permitted)")
