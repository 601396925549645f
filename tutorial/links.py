"""Links to the companion site for your browser, which may not be on the kernel's machine.

The kernel always talks to the site at http://127.0.0.1:PORT (`site.url`). Your browser can use
that address only when it runs on the same machine. On JupyterHub, Binder or Codespaces — or
under `make lab` — the Jupyter server has jupyter-server-proxy, which forwards
`<base_url>proxy/<port>/...` to 127.0.0.1:<port>; a link of that shape works wherever your browser
reaches JupyterLab. `browser_url(site.url, "/live/")` returns that link, or the plain 127.0.0.1
one when no Jupyter server with the proxy is around (a script, nbval, plain ipython).

How the kernel learns the server's base URL, first match wins:
  TUTORIAL_JUPYTER_BASE_URL   set by tools/lab.py (`make lab`), or by you for a setup of your own
  JUPYTERHUB_SERVICE_PREFIX   set by JupyterHub (and so Binder) for every single-user server
  the Jupyter server this kernel descends from, read from its runtime file (`jupyter lab` by hand)
Set TUTORIAL_JUPYTER_BASE_URL to "none" to get 127.0.0.1 links whatever the server.

A request through the proxy keeps the Host header your browser sent (the hub's name, say), and
Django answers only hosts it knows: the site adds those in COMPANION_ALLOWED_HOSTS, which the
workshop's hub config, binder/start and .devcontainer/ set.
"""

import json
import os
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

BASE_URL_VAR = "TUTORIAL_JUPYTER_BASE_URL"
HUB_PREFIX_VAR = "JUPYTERHUB_SERVICE_PREFIX"


def jupyter_base_url():
    """The base URL ("/" or "/user/NAME/") of the Jupyter server running this kernel, if it proxies.

    None when there is no such server, or when jupyter-server-proxy is not installed.
    """
    explicit = os.environ.get(BASE_URL_VAR, "").strip()
    if explicit.lower() == "none":
        return None
    if find_spec("jupyter_server_proxy") is None:
        return None
    found = explicit or os.environ.get(HUB_PREFIX_VAR, "").strip() or _ancestor_server_base_url()
    return _with_slashes(found) if found else None


def browser_url(site_url, path="/"):
    """The address of `path` on the site at `site_url` (http://127.0.0.1:PORT) for your browser."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/', got {path!r}")
    base = jupyter_base_url()
    if base is None:
        return site_url.rstrip("/") + path
    return f"{base}proxy/{urlsplit(site_url).port}{path}"


def _with_slashes(base_url):
    return "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"


def _ancestor_server_base_url():
    """base_url of the Jupyter server among this process's ancestors, from its jpserver-PID.json."""
    try:
        import psutil
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    try:
        ancestors = [process.pid for process in psutil.Process().parents()]
    except psutil.Error:
        return None
    runtime = Path(jupyter_runtime_dir())
    for pid in ancestors:
        info = runtime / f"jpserver-{pid}.json"
        try:
            return json.loads(info.read_text()).get("base_url")
        except (OSError, ValueError):
            continue
    return None
