"""Helper processes that never outlive their parent, and whether a process is still running."""
from __future__ import annotations

import os
import sys
import threading
import time


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, dead but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # no /proc (macOS), or it just ended
        return True


def exit_with_parent(parent_pid: int, poll_s: float = 0.5, kernel_signal: bool = True) -> None:
    """Make this process exit when ``parent_pid`` dies (also on SIGKILL of the parent).

    On Linux the kernel sends SIGKILL at once (``PR_SET_PDEATHSIG``; this reaches a child
    busy in native code that holds the GIL); everywhere a daemon thread checks the parent
    every ``poll_s`` seconds (the parent's death makes this process a child of another).
    Call it first thing in the child. ``kernel_signal=False`` when the parent started this
    process from a thread other than its main thread: the kernel signal fires when that
    thread ends, not the parent process.
    """
    if kernel_signal and sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:  # PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
