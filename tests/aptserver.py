"""Test helper: the apt repository server of many CI agents, on 127.0.0.1.

:func:`running_apt_server` starts, for one test, what ``packaging/`` ships:
``aptly api serve`` (``packaging/aptly-api.service``'s command) on a free
loopback port with an aptly root of its own and a throwaway signing key in
its GnuPG home, and nginx with ``packaging/nginx-apt.conf`` (ports and paths
rewritten) in front: basic authentication on ``/api/``, the published
directory for apt.  Both are stopped, and gpg-agent with them, at the end.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from debian.deb822 import Packages
from passlib.apache import HtpasswdFile

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
USER, PASSWORD = "ci-agent", "apt-api-password-0b7e"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    """Return once *port* accepts a connection (the server's handshake); fail if *proc* exits first."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"{what} exited with status {proc.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        assert time.monotonic() < deadline, f"{what} did not listen on {port} within {timeout} s"
        time.sleep(0.05)


@dataclass
class AptServer:
    root: Path
    http_port: int
    api_port: int
    fingerprint: str
    public_key: Path
    gnupghome: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/"

    def env(self, **overrides: str) -> dict[str, str]:
        return {"HOIST_APT_API_USERNAME": USER, "HOIST_APT_API_PASSWORD": PASSWORD, **overrides}

    def toml(self, repo: str, **keys: str) -> str:
        table = {"api_url": self.api_url, "url": self.url, "repo": repo, "public_key": str(self.public_key), **keys}
        return "\n[tool.hoist.apt]\n" + "".join(f'{k} = "{v}"\n' for k, v in table.items())

    def api(self, method: str, path: str, body: object | None = None) -> object:
        """Call aptly's API directly (on its own port: the server's administrator)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.api_port}/api{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def create_repo(self, name: str, distribution: str, component: str = "main") -> None:
        self.api("POST", "/repos", {"Name": name, "DefaultDistribution": distribution, "DefaultComponent": component})

    def packages(self, distribution: str, architecture: str, component: str = "main") -> dict[str, Packages]:
        """The published ``Packages`` index, read over HTTP as apt reads it: {filename: paragraph}."""
        url = f"{self.url}dists/{distribution}/{component}/binary-{architecture}/Packages"
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode()
        return {Path(p["Filename"]).name: p for p in Packages.iter_paragraphs(text.splitlines(True), use_apt_pkg=False)}

    def inrelease_verifies(self, distribution: str) -> bool:
        with urllib.request.urlopen(f"{self.url}dists/{distribution}/InRelease", timeout=30) as response:
            signed = response.read()
        proc = subprocess.run(["gpgv", "--keyring", str(self.public_key)], input=signed, capture_output=True)
        return proc.returncode == 0


@contextlib.contextmanager
def running_apt_server(tmp_path: Path) -> Iterator[AptServer]:
    root = tmp_path / "apt-server"
    root.mkdir()
    # gpg-agent's socket must fit in sun_path: the GnuPG home gets a short path.
    gnupghome = Path(tempfile.mkdtemp(prefix="hoist-apt-gpg-", dir="/tmp"))
    gpg = ["gpg", "--batch", "--homedir", str(gnupghome)]
    subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", "hoist test apt server", "ed25519", "sign", "never"],
                   check=True, capture_output=True)
    listing = subprocess.run([*gpg, "--with-colons", "--list-secret-keys"], check=True, capture_output=True, text=True)
    fingerprint = next(line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr"))
    public_key = root / "archive-keyring.gpg"
    subprocess.run([*gpg, "--output", str(public_key), "--export", fingerprint], check=True, capture_output=True)

    config = json.loads((PACKAGING / "aptly.conf").read_text())
    config.update({"rootDir": str(root / "aptly"), "FileSystemPublishEndpoints": {}})
    (root / "aptly.conf").write_text(json.dumps(config))
    users = HtpasswdFile(str(root / "htpasswd"), new=True, default_scheme="apr_md5_crypt")
    users.set_password(USER, PASSWORD)
    users.save()

    api_port, http_port = free_port(), free_port()
    site = (PACKAGING / "nginx-apt.conf").read_text()
    for shipped, ours in [("listen 80;", f"listen 127.0.0.1:{http_port};"),
                          ("root /srv/aptly/public;", f"root {root}/aptly/public;"),
                          ("/etc/nginx/hoist-apt.htpasswd", str(root / "htpasswd")),
                          ("server 127.0.0.1:8080", f"server 127.0.0.1:{api_port}")]:
        assert shipped in site, f"packaging/nginx-apt.conf no longer has {shipped!r}"
        site = site.replace(shipped, ours)
    (root / "site.conf").write_text(site)
    temp = root / "nginx-temp"
    temp.mkdir()
    (root / "nginx.conf").write_text(
        f"daemon off;\nuser root;\nworker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/nginx-error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  access_log {root}/nginx-access.log;\n"
        + "".join(f"  {kind}_temp_path {temp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  include {root}/site.conf;\n}}\n")

    aptly = subprocess.Popen(["aptly", f"-config={root / 'aptly.conf'}", "api", "serve", f"-listen=127.0.0.1:{api_port}"],
                             env={"GNUPGHOME": str(gnupghome), "PATH": "/usr/bin:/bin"},
                             stdout=(root / "aptly.log").open("w"), stderr=subprocess.STDOUT)
    nginx = subprocess.Popen(["nginx", "-c", str(root / "nginx.conf")], stdout=subprocess.DEVNULL,
                             stderr=(root / "nginx.log").open("w"))
    try:
        wait_for_port(api_port, aptly, "aptly api serve")
        wait_for_port(http_port, nginx, "nginx")
        yield AptServer(root, http_port, api_port, fingerprint, public_key, gnupghome)
    finally:
        for proc in (nginx, aptly):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["gpgconf", "--homedir", str(gnupghome), "--kill", "gpg-agent"], capture_output=True)
        subprocess.run(["rm", "-rf", str(gnupghome)], check=False)
