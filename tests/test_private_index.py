"""An index that needs a login to read as well as to upload (pypiserver with authentication on download).

hoist reads it as pip would: with ``HOIST_PYPI_*`` for the upload host, or
the credentials in the index URL, or the machine's ``~/.netrc``.  Without any
that it accepts, the message says so and shows no credential.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from passlib.apache import HtpasswdFile

from conftest import git, run_hoist

USER, PASSWORD = "reader", "private-index-password-61c3"


@contextlib.contextmanager
def private_index(root: Path) -> Iterator[str]:
    """pypiserver on a free loopback port that asks for a login to list, download and upload."""
    packages, htpasswd = root / "packages", root / "htpasswd"
    packages.mkdir(parents=True)
    users = HtpasswdFile(str(htpasswd), new=True)
    users.set_password(USER, PASSWORD)
    users.save()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pypiserver", "run", "--host", "127.0.0.1", "--port", str(port),
         "--authenticate", "download,list,update", "--passwords", str(htpasswd), "--disable-fallback",
         "--hash-algo", "sha256", "--backend", "simple-dir", str(packages)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # the handshake: the server accepts a connection
            assert proc.poll() is None, "pypiserver exited"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "pypiserver did not start"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_a_release_to_an_index_that_needs_a_login_to_read(example_project, tmp_path: Path) -> None:
    project = example_project()
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    with private_index(tmp_path / "index") as host:
        with (project / "pyproject.toml").open("a") as f:
            f.write(f'\n[tool.hoist.git]\nremote = "{remote}"\n\n[tool.hoist.pypi]\n'
                    f'upload_url = "http://{host}/"\nindex_url = "http://{host}/simple/"\n')
        git(project, "commit", "--quiet", "-am", "Publish to the private index")
        login = {"HOIST_PYPI_USERNAME": USER, "HOIST_PYPI_PASSWORD": PASSWORD}

        # No credentials at all: refused before anything changes, saying what to set.
        refused = run_hoist(project, "release", env={"NETRC": str(tmp_path / "no-netrc")})
        assert refused.returncode == 6, refused.output
        assert "needs a login to read, and no credentials were found for it" in refused.output
        assert "HOIST_PYPI_USERNAME" in refused.output and git(remote, "for-each-ref") == ""

        released = run_hoist(project, "release", env=login)
        assert released.returncode == 0, released.output
        manifest = json.loads((project / "dist" / "release.json").read_text())
        assert manifest["targets"]["pypi"]["state"] == "published"
        assert sorted(manifest["targets"]["pypi"]["files"]) == sorted(
            Path(a["path"]).name for a in manifest["artifacts"] if a["kind"] in ("sdist", "wheel"))

        # A password in the URL is refused (pyproject.toml goes into every sdist), saying where to put it.
        url_login = project / "pyproject.toml"
        url_login.write_text(url_login.read_text().replace(
            f'index_url = "http://{host}/simple/"', f'index_url = "http://{USER}:{PASSWORD}@{host}/simple/"'))
        status = run_hoist(project, "status")
        assert status.returncode == 9 and "tool.hoist.pypi.index_url holds a password" in status.output, status.output
        assert "~/.netrc" in status.output and PASSWORD not in status.output
        git(project, "checkout", "--quiet", "pyproject.toml")

        # Read back two ways, as pip would: ~/.netrc, a wrong one.
        netrc = tmp_path / "netrc"
        netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
        netrc.chmod(0o600)
        status = run_hoist(project, "status", env={"NETRC": str(netrc)})
        assert status.returncode == 0 and "published on every target" in status.output, status.output
        wrong = run_hoist(project, "status", env={"HOIST_PYPI_USERNAME": USER, "HOIST_PYPI_PASSWORD": "wrong-password"})
        assert wrong.returncode == 6 and "refused the credentials given" in wrong.output, wrong.output
        assert "wrong-password" not in wrong.output
