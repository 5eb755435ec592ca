"""Isolate a page session with the operating system, where the machine allows it.

Linux namespaces, entered with libc's unshare and mount through ctypes (os.unshare
arrives only in Python 3.12):

- a mount namespace in which the repository is bind-mounted read-only, so no
  write reaches it, whatever makes it (a subprocess, C code, sqlite, ctypes);
- a network namespace with only the loopback interface, brought up;
- a PID namespace whose first process (`init`) is a small reaper: when it ends,
  the kernel ends every process the page started, however it detached itself.

Where that fails (not root and no user namespaces, a seccomp profile that refuses
unshare), `probe` says why and the runner falls back to the in-process guard
(sandbox.py) plus a child subreaper that kills what the session left behind.
"""

import ctypes
import fcntl
import os
import signal
import socket
import struct

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 1
# statvfs flags a read-only remount must keep (the kernel refuses to drop
# flags that are locked), mapped to their mount(2) flags.
KEEP = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: MS_NOEXEC,
        os.ST_NOATIME: MS_NOATIME, os.ST_NODIRATIME: MS_NODIRATIME,
        os.ST_RELATIME: MS_RELATIME}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_void_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong, ctypes.c_ulong]


def _call(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _encode(path):
    return None if path is None else os.fsencode(path)


def _mount(source, target, fstype, flags):
    _call(_libc.mount(_encode(source), _encode(target), _encode(fstype), flags, None),
          f"mount {target}")


def prctl(option, value):
    _call(_libc.prctl(option, value, 0, 0, 0), "prctl")


def _mount_points(under):
    """Mount points at or below `under`, from /proc/self/mountinfo, outermost first."""
    points = []
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            point = line.split()[4].decode()
            point = point.encode().decode("unicode_escape")  # \040 is a space
            if point == under or point.startswith(under.rstrip("/") + "/"):
                points.append(point)
    return sorted(set(points), key=len)


def _remount(point, readonly):
    kept = os.statvfs(point).f_flag
    flags = MS_BIND | MS_REMOUNT | (MS_RDONLY if readonly else 0)
    flags |= sum(flag for st, flag in KEEP.items() if kept & st)
    _mount(None, point, None, flags)


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


def enter(repo, writable=()):
    """Move this process into new mount, network and PID namespaces.

    The repository becomes read-only (every mount at or below it), except the
    `writable` folders inside it; loopback comes up. The PID namespace takes
    effect for this process's next child, which becomes its `init`.
    """
    _call(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing leaks to the host
    repo = os.path.realpath(repo)
    _mount(repo, repo, None, MS_BIND | MS_REC)
    for point in _mount_points(repo):
        _remount(point, readonly=True)
    for folder in writable:
        folder = os.path.realpath(folder)
        if folder.startswith(repo.rstrip("/") + "/"):
            _mount(folder, folder, None, MS_BIND | MS_REC)
            _remount(folder, readonly=False)
    _loopback_up()


def become_init():
    """In the PID namespace's first process: a /proc of this namespace."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def probe(repo):
    """None if `enter` and `become_init` work here, else the reason they do not."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        why = b""
        try:
            enter(repo)
            child = os.fork()
            if child == 0:
                try:
                    become_init()
                    os._exit(0)
                except BaseException as error:  # noqa: BLE001 - report, then exit
                    os.write(write, str(error).encode())
                    os._exit(1)
            os.waitpid(child, 0)
        except BaseException as error:  # noqa: BLE001 - report, then exit
            why = str(error).encode()
        os.write(write, why)
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 4096):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace") or None


def children(parent):
    """Pids whose parent is `parent`, read from /proc."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(name))
    return found


def kill_descendants():
    """Kill every process below this one (a child subreaper): orphans of the
    session reparent to it, so each round finds what the last one uncovered."""
    me = os.getpid()
    for _ in range(1000):
        kids = children(me)
        if not kids:
            return
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for kid in kids:
            try:
                os.waitpid(kid, 0)
            except ChildProcessError:
                pass


def dying(pid):
    """True if process `pid` is gone, a zombie, exiting, or has SIGKILL pending."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/status", "rb") as status:
            lines = dict(line.split(b":", 1) for line in status if b":" in line)
    except OSError:
        return True
    if fields[0] in (b"Z", b"X") or int(fields[6]) & 0x4:  # PF_EXITING
        return True
    kill = 1 << (signal.SIGKILL - 1)
    return any(int(lines.get(key, b"0").strip(), 16) & kill
               for key in (b"SigPnd", b"ShdPnd"))
