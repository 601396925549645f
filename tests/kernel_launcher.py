"""The process jupyter_client starts as a test run's kernel (tests/kernel_forks.py): it asks the
run's kernel fork server for a kernel, then stands in for it until it ends.

Run as `python -S tests/kernel_launcher.py ADDRESS -f CONNECTION_FILE`: no site-packages, standard
library only (~15 ms). The manager sees this process as the kernel, so:
- the signals it sends (killpg of this process's group: SIGINT to interrupt, SIGTERM) are passed
  on to the kernel's own process group, as they would reach it;
- SIGKILL ends this process, and the fork server, seeing its socket close, SIGKILLs the kernel's
  group: what killpg would have done to a kernel started here;
- it exits with the kernel's exit code, or dies of the kernel's signal.
"""

import contextlib
import json
import os
import signal
import socket
import sys

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)


def main():
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.connect("\0" + sys.argv[1])  # an abstract socket (tests/kernel_forks.py)
    request = {"argv": sys.argv[2:], "cwd": os.getcwd(), "env": dict(os.environ)}
    socket.send_fds(server, [json.dumps(request).encode()], [0, 1, 2])
    answer = server.recv(65536)
    if not answer:
        sys.exit("the kernel fork server closed the connection")
    kernel = json.loads(answer)["pid"]

    def forward(number, frame):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(kernel, number)

    for number in FORWARDED:
        signal.signal(number, forward)
    answer = server.recv(65536)  # retried after each forwarded signal (PEP 475)
    code = json.loads(answer)["exited"] if answer else 1
    if code < 0:  # the kernel died of a signal: so does its stand-in
        if -code != signal.SIGKILL:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    sys.exit(code)


if __name__ == "__main__":
    main()
