"""The child side of `tutorial.site`: migrate, run one server, and die with the parent.

Started by `start_site()` as `python -m tutorial.serve --fd N -- <server command>` in a session of
its own (so Ctrl-C in the notebook does not reach the server). Its stdin is a pipe from the
parent: when that pipe closes — `stop()`, interpreter exit, kernel restart, even SIGKILL of the
kernel — `os.read(0)` returns b"" and this process takes its whole process group down.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading

GRACE_SECONDS = 3.0


def migrate(site_dir):
    """Create the tables in this run's SQLite file before the server answers anything."""
    sys.path.insert(0, site_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def take_down_group(server):
    """Ask the server to stop, then kill everything left in our process group."""
    if server.poll() is None:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(GRACE_SECONDS)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.killpg(os.getpgid(0), signal.SIGKILL)  # workers, threads' children, and ourselves


def watch_parent(server):
    """Block on stdin; EOF means the parent is gone (or called stop())."""
    try:
        while os.read(0, 1024):
            pass
    except OSError:
        pass
    take_down_group(server)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, help="listening socket inherited from the parent")
    parser.add_argument("--site-dir", required=True)
    parser.add_argument("--no-migrate", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not args.no_migrate:
        migrate(args.site_dir)
    pass_fds = (args.fd,) if args.fd is not None else ()
    server = subprocess.Popen(
        command, cwd=args.site_dir, pass_fds=pass_fds, stdin=subprocess.DEVNULL
    )
    if args.fd is not None:
        os.close(args.fd)  # only the server keeps the socket open now
    signal.signal(signal.SIGTERM, lambda *_: take_down_group(server))
    threading.Thread(target=watch_parent, args=(server,), daemon=True).start()
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
