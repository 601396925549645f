"""The child side of `tutorial.services`: run one background command and die with the parent.

Started by `tutorial.services.start_service()` as

    python -m tutorial.serve --workdir DIR --checkout REPO [--fd N] [--user U] -- <command>

in a session of its own (so Ctrl-C in the notebook does not reach the service). Its stdin is a
pipe from the parent: when that pipe closes — `stop()`, interpreter exit, kernel restart, even
SIGKILL of the kernel — `os.read(0)` returns b"" and this process stops the command, kills
whatever is left of its process tree, removes DIR (the service's temp folder) and exits. The
parent cannot be relied on for that last step: a SIGKILLed kernel runs no cleanup at all.

`--checkout` names the repository this supervisor belongs to, so `make kill-servers` stops only
this checkout's services. It is also in the environment (TUTORIAL_CHECKOUT) of every process
of the tree, for the same reason.
"""

import argparse
import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 3.0


class _Process:
    """One process of the service's tree, as found: its pid and its start time, so that a pid the
    system has since given to another process is never signalled."""

    def __init__(self, pid, started):
        self.pid, self.started = pid, started

    def gone(self):
        """Ended (a zombie counts: once our child is dead they are not ours to reap) or replaced."""
        state = _stat(self.pid)
        return state is None or state[0] == "Z" or state[1] != self.started

    def kill(self):
        if not self.gone():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _stat(pid):
    """(state, start time) of `pid` from /proc, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0].decode(), int(fields[19])


def process_exists(pid):
    """Whether `pid` is a process (a zombie too), as psutil.Process(pid) would find it."""
    if sys.platform.startswith("linux"):
        return _stat(pid) is not None
    import psutil

    return psutil.pid_exists(pid)


def _children(pid):
    """Linux: each thread's /proc/PID/task/TID/children. It walks the tree without reading every
    process on the machine, as psutil's children() does (~12 ms with the ~650 processes of a test
    run, and importing psutil costs a supervisor ~35 ms more); None where /proc has no such file."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found = []
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as children:
                found += [int(child) for child in children.read().split()]
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{thread}"):
                continue  # the thread ended while we looked
            return None  # a kernel without CONFIG_PROC_CHILDREN
        except OSError:
            continue
    return found


def descendants(pid):
    """Every process below `pid`. PostgreSQL's backends call setsid(), so a process group kill
    would miss them: the tree is the only complete list."""
    children = _children(pid) if sys.platform.startswith("linux") else None
    if children is None:
        return _psutil_descendants(pid)
    found = []
    while children:
        child = children.pop(0)  # parents before their children
        state = _stat(child)
        if state is not None:
            found.append(_Process(child, state[1]))
            children += _children(child) or []
    return found


def _psutil_descendants(pid):
    import psutil  # here, not at the top: the service starts sooner without waiting for it

    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [_PsutilProcess(child) for child in children]


class _PsutilProcess:
    """_Process's methods, elsewhere than Linux."""

    def __init__(self, process):
        self.pid, self._process = process.pid, process

    def gone(self):
        import psutil

        try:
            return self._process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    def kill(self):
        import psutil

        with contextlib.suppress(psutil.Error):
            self._process.kill()


def take_down(child, stop_signal):
    """Ask the command to stop, then kill whatever is left of its process tree."""
    tree = descendants(child.pid)
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(GRACE_SECONDS)
    tree = list({p.pid: p for p in tree + descendants(child.pid)}.values())
    for process in tree:
        process.kill()
    if child.poll() is None:
        child.kill()
    child.wait()
    wait_until_gone(tree, GRACE_SECONDS)


def wait_until_gone(processes, seconds):
    """Wait for `processes` to end. A zombie counts as gone: once our child is dead they are
    not ours to reap, and an init that reaps slowly must not make every stop() wait."""
    deadline = time.monotonic() + seconds
    for process in processes:
        while time.monotonic() < deadline and not process.gone():
            time.sleep(0.01)


class ForkedChild:
    """What main() uses of a Popen, for a command forked from the supervisor (tutorial.preload)."""

    def __init__(self, pid):
        self.pid, self.returncode = pid, None
        self._lock = threading.Lock()
        self._pidfd = os.pidfd_open(pid)  # readable once it exits; kept open (no race)

    def poll(self):
        with self._lock:
            if self.returncode is None:
                done, status = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            select.select([self._pidfd], [], [], timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(str(self.pid), timeout)
        return self.returncode

    def send_signal(self, number):
        if self.poll() is None:
            os.kill(self.pid, number)

    def kill(self):
        self.send_signal(signal.SIGKILL)


def wait_for_eof():
    """Block on stdin; EOF means the parent is gone (or called stop())."""
    try:
        while os.read(0, 1024):
            pass
    except OSError:
        pass


def main(argv=None, spawn=subprocess.Popen):
    """Supervise the command of `argv`; `spawn` starts it (tutorial.preload passes a fork)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="temp folder to remove when the service ends")
    parser.add_argument("--checkout", help="the repository this service belongs to (a marker)")
    parser.add_argument("--fd", type=int, help="listening socket inherited from the parent")
    parser.add_argument("--cwd", help="working folder of the command")
    parser.add_argument("--user", help="run the command as this user (PostgreSQL refuses root)")
    parser.add_argument("--stop-signal", type=int, default=int(signal.SIGTERM))
    parser.add_argument("--adopt", type=int, help="supervise this running child (tutorial.preload)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    pass_fds = (args.fd,) if args.fd is not None else ()
    as_user = {}
    if args.user:
        import pwd

        entry = pwd.getpwnam(args.user)
        as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    if args.adopt:  # forked by tutorial.preload, which then exec'ed this fresh supervisor
        spawn = lambda *_, **__: ForkedChild(args.adopt)  # noqa: E731
    try:
        child = spawn(command, cwd=args.cwd, pass_fds=pass_fds, stdin=subprocess.DEVNULL, **as_user)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"could not start {command[0]}: {error}", flush=True)
        if args.workdir:
            shutil.rmtree(args.workdir, ignore_errors=True)
        sys.exit(127)
    if args.fd is not None:
        os.close(args.fd)  # only the service keeps the socket open now
    # Three ways to end, one clean-up: the parent's pipe closes, SIGTERM (make kill-servers),
    # or the command exits by itself (it crashed, or failed to start).
    ended = threading.Event()
    threading.Thread(target=lambda: (wait_for_eof(), ended.set()), daemon=True).start()
    threading.Thread(target=lambda: (child.wait(), ended.set()), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: ended.set())
    ended.wait()
    take_down(child, signal.Signals(args.stop_signal))
    if args.workdir:  # the parent keeps the log open, so it can still read it after this
        shutil.rmtree(args.workdir, ignore_errors=True)
    sys.exit(child.returncode if child.returncode > 0 else 0)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--preload"]:  # the preload server: tutorial/preload.py
        from tutorial.preload import serve_forks

        serve_forks(int(sys.argv[2]))
    else:
        main()
