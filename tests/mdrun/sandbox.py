"""Guard a page session in its own interpreter: a clear error, at once.

An audit hook (PEP 578) refuses writes into the repository, network beyond
loopback, and signals to the session's parent (the runner's supervisor of the
page). It sees only what Python itself does: a subprocess, C code or ctypes
passes it by. Where the machine allows, the page also runs in namespaces
(isolation.py) that the kernel enforces; this hook then only makes the error
clearer. Reading the repository is always allowed.
"""

import ipaddress
import os
import socket
import sys

WRITE_EVENTS = {  # the first two arguments are paths written
    "os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.truncate", "os.link",
    "shutil.move", "shutil.rmtree",
}
# Only the second argument is written: copying or linking *from* the repository
# into the working folder is a read of the repository.
DESTINATION_EVENTS = {"os.symlink", "shutil.copyfile", "shutil.copytree"}
SIGNAL_EVENTS = {"os.kill", "os.killpg"}
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class NetworkDisabled(ConnectionRefusedError):
    """Raised when a block tries to reach a host other than this machine."""


def _is_loopback(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").lower()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _writes(mode, flags):
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return True
    return isinstance(flags, int) and bool(
        flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


def install(repo, parent=None):
    """Refuse writes under the directory `repo`, network beyond loopback, and
    signals to the process `parent`."""
    repo = os.path.realpath(repo) + os.sep

    def check_path(path):
        if isinstance(path, int):
            return
        full = os.path.realpath(os.fsdecode(path)) + os.sep
        if full.startswith(repo):
            raise PermissionError(
                f"code blocks may not write into the repository: {os.fsdecode(path)}."
                " Write into the working directory instead (a fresh temporary folder)."
            )

    def check_host(host, port):
        if not _is_loopback(host):
            raise NetworkDisabled(
                f"network access is disabled for code blocks: tried to reach "
                f"{host}:{port}. Use data that ships with a dependency (such as "
                "sklearn.datasets.load_digits) or generate it."
            )

    def hook(event, args):
        if event == "open" and _writes(args[1], args[2]):
            check_path(args[0])
        elif event in WRITE_EVENTS or event in DESTINATION_EVENTS:
            for path in args[event in DESTINATION_EVENTS:2]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    check_path(path)
        elif event in SIGNAL_EVENTS and parent and args[0] == parent:
            raise PermissionError(
                f"code blocks may not signal the runner: process {parent} runs this"
                " page's session, and ending it ends the page")
        elif event in ("socket.connect", "socket.sendto"):
            sock, address = args[0], args[-1]
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                check_host(address[0], address[1])
        elif event == "socket.getaddrinfo":
            check_host(args[0], args[1])
        elif event == "socket.gethostbyname":
            check_host(args[0], None)

    sys.addaudithook(hook)
