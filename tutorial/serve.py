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
import shutil
import signal
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 3.0


def descendants(pid):
    """Every process below `pid`. PostgreSQL's backends call setsid(), so a process group kill
    would miss them: the tree is the only complete list."""
    import psutil  # here, not at the top: the service starts sooner without waiting for it

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def take_down(child, stop_signal):
    """Ask the command to stop, then kill whatever is left of its process tree."""
    tree = descendants(child.pid)
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(GRACE_SECONDS)
    import psutil

    tree = list({p.pid: p for p in tree + descendants(child.pid)}.values())
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.kill()
    if child.poll() is None:
        child.kill()
    child.wait()
    wait_until_gone(tree, GRACE_SECONDS)


def wait_until_gone(processes, seconds):
    """Wait for `processes` to end. A zombie counts as gone: once our child is dead they are
    not ours to reap, and an init that reaps slowly must not make every stop() wait."""
    import psutil

    deadline = time.monotonic() + seconds
    for process in processes:
        while time.monotonic() < deadline:
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.01)


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
        from tutorial.preload import ForkedChild

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
