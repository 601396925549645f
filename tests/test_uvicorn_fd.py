"""tutorial.uvicorn_fd: uvicorn on an inherited TCP socket must see it as TCP (so TCP_NODELAY is set)."""

import socket

from tutorial import uvicorn_fd
from tutorial.site import _server_command


def test_a_tcp_descriptor_is_wrapped_as_tcp_even_when_asked_for_unix():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", 0))
        plain = socket.fromfd(tcp.fileno(), socket.AF_UNIX, socket.SOCK_STREAM)
        fixed = uvicorn_fd.fromfd_with_real_family(tcp.fileno(), socket.AF_UNIX, socket.SOCK_STREAM)
        with plain, fixed:
            assert plain.family == socket.AF_UNIX  # what `uvicorn --fd` gets on its own
            assert fixed.family == socket.AF_INET
            assert fixed.getsockname() == tcp.getsockname()


def test_start_site_runs_uvicorn_through_the_wrapper():
    command = _server_command("uvicorn", 7, 8000, app=None, workers=1, threads=None,
                              worker_class="sync", access_log=False)  # fmt: skip
    assert command[1:3] == ["-m", "tutorial.uvicorn_fd"]
    assert command[command.index("--fd") + 1] == "7"
