"""Is a process that another process recorded still alive? Pure: standard library only.

A killed worker or ingest updates nothing on its way out, so whoever reads
its records later must tell for themselves. A process id means something
only where the reader sees the same process table: the same kernel boot and
the same PID namespace (containers on one host share a hostname but not
their PIDs). ``process_space()`` names that table; a record made in another
space is judged by its heartbeat instead.
"""

import os
import socket
from pathlib import Path


def process_space() -> str:
    """Where this process's PIDs are valid: ``"<boot id>/<pid namespace>"``
    on Linux, the hostname elsewhere (where namespaces are not known)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this process space exists and is not a
    zombie (a killed child its parent has not reaped yet is dead too)."""
    if pid is None or int(pid) <= 0:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    try:
        # The state follows the parenthesised name, which may hold spaces.
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def holder_alive(pid: int, space: str) -> bool | None:
    """True or False when ``pid`` lives in this process space, None (cannot
    tell from here) when it was recorded in another."""
    if not space or space != process_space():
        return None
    return pid_alive(pid)
