"""No secret leaves hoist: a canary in every place a credential can come from.

Unique strings stand in for the git remote's password (in its push URL), the
index URL's password, ``HOIST_PYPI_PASSWORD``, ``TWINE_PASSWORD`` and the apt
signing key's passphrase.  Releases fail at the push (a git server that
refuses the credentials), at the upload (an index that answers 403 quoting
them) and at the apt step (aptly's database locked), with and without
``-v``; then one succeeds.  Neither the console, nor ``dist/``, the extracted
.deb, the targets' state, hoist's temporary directory or the caches hold any
canary, and a build backend and ``debian/rules`` that record their
environment received none of the secret variables.
"""

from __future__ import annotations

import base64
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import git
from faulttargets import Targets, hold_lock, run_watched, running_targets, scan_for

GIT_CANARY = "canary-git-remote-7f3e1"
INDEX_CANARY = "canary-index-url-93b2c"
PYPI_CANARY = "canary-hoist-pypi-password-c41d0"
TWINE_CANARY = "canary-twine-password-5a8e7"
GPG_CANARY = "canary-gpg-passphrase-2d96f"
CANARIES = [GIT_CANARY, INDEX_CANARY, PYPI_CANARY, TWINE_CANARY, GPG_CANARY]
SECRET_VARIABLES = ["HOIST_PYPI_PASSWORD", "TWINE_PASSWORD", "HOIST_GPG_PASSPHRASE", "HOIST_PYPI_USERNAME",
                    "TWINE_USERNAME"]

ENV_DUMPING_BACKEND = '''\
"""setuptools' backend, recording the environment each hook runs in."""
import json
import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403


def _record(hook):
    with open(os.path.join(os.environ["HOIST_TEST_ENV_DUMP"], f"{hook}-{os.getpid()}.json"), "w") as f:
        json.dump(dict(os.environ), f)


def build_sdist(*args, **kwargs):
    _record("build_sdist")
    return _setuptools.build_sdist(*args, **kwargs)


def build_wheel(*args, **kwargs):
    _record("build_wheel")
    return _setuptools.build_wheel(*args, **kwargs)
'''


class RefusingGitServer:
    """Smart HTTP that asks for a login (401), then refuses it with a reason that quotes it (403)."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                header = self.headers.get("Authorization")
                if header is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                else:
                    quoted = base64.b64decode(header.removeprefix("Basic ")).decode()
                    self.send_response(403, f"Forbidden for {quoted}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://hoist:{GIT_CANARY}@127.0.0.1:{self.server.server_address[1]}/remote.git"

    def __enter__(self) -> RefusingGitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canary_targets(tmp_path: Path) -> Iterator[Targets]:
    with running_targets(tmp_path, passphrase=GPG_CANARY) as targets:
        targets.pypi_password = PYPI_CANARY
        yield targets


@pytest.mark.slow
def test_no_secret_leaves_hoist(canary_targets: Targets, example_project, tmp_path: Path) -> None:
    targets = canary_targets
    dumps, cache, hoist_tmp = tmp_path / "env-dumps", tmp_path / "cache", tmp_path / "hoist-tmp"
    for directory in (dumps, cache, hoist_tmp):
        directory.mkdir()
    project = example_project()
    # The project's build backend and debian/rules record the environment they run in.
    (project / "_backend").mkdir()
    (project / "_backend" / "envdump.py").write_text(ENV_DUMPING_BACKEND)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'build-backend = "setuptools.build_meta"', 'build-backend = "envdump"\nbackend-path = ["_backend"]'))
    rules = project / "debian" / "rules"
    rules.write_text(rules.read_text() + '\noverride_dh_auto_configure:\n\tenv > "$(HOIST_TEST_ENV_DUMP)/debian-rules.env"\n')
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "Record the build environments")
    # The index's login is in ~/.netrc (pyproject.toml refuses one); the git remote is "origin", whose push
    # URL carries a password.
    targets.configure(project)
    pyproject.write_text(pyproject.read_text().replace(f'remote = "{targets.remote}"', 'remote = "origin"'))
    git(project, "commit", "--quiet", "-am", "Push to origin")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login reader password {INDEX_CANARY}\n")
    netrc.chmod(0o600)
    git(project, "remote", "add", "origin", str(targets.remote))
    env = targets.env(TWINE_PASSWORD=TWINE_CANARY, HOIST_TEST_ENV_DUMP=str(dumps), XDG_CACHE_HOME=str(cache),
                      TMPDIR=str(hoist_tmp), NETRC=str(netrc))
    outputs: list[str] = []

    def run(*args: str, expect: int, says: str = "") -> None:
        result = run_watched(project, *args, env=env)
        outputs.append(result.output)
        assert result.returncode == expect, result.output
        assert says in result.output, result.output

    with RefusingGitServer() as server:
        git(project, "remote", "set-url", "--push", "origin", server.url)
        run("plan", expect=0, says="remote: origin")
        run("-v", "plan", "--json", expect=0)
        # 1. the push: the git server refuses the credentials (and quotes them).
        run("-v", "release", expect=4, says="git push to origin failed")
        run("release", expect=4, says="git push to origin failed")
    git(project, "remote", "set-url", "--push", "origin", str(targets.remote))

    # 2. the upload: the index answers 403 quoting the credentials it was given.
    targets.proxy.add("403_quoting_credentials")
    run("-v", "release", expect=6, says="the index refused the upload: ")
    targets.proxy.add("403_quoting_credentials")
    run("release", expect=6, says="Forbidden for uploader:***")

    # 3. the apt step: aptly's database is locked by another aptly process (no retry: aptly
    # waits about 10 s before each, and test_faults.py::test_aptly_database_locked has them).
    with hold_lock(targets.aptly_root / "db" / "LOCK"):
        locked = {**env, "HOIST_APTLY_DB_OPEN_ATTEMPTS": "0"}
        result = run_watched(project, "-v", "release", env=locked)
        outputs.append(result.output)
        assert result.returncode == 6 and "locked by another aptly process" in result.output, result.output

    # 4. the release completes; status reads every target.
    run("release", expect=0)
    run("-v", "status", expect=0)
    run("status", "--json", expect=0)

    assert [c for c in CANARIES if any(c in out for out in outputs)] == []
    manifest = json.loads((project / "dist" / "release.json").read_text())
    assert manifest["targets"]["pypi"]["index"] == f"{targets.proxy.url}/simple/"
    unpacked = tmp_path / "unpacked"
    deb = project / next(a["path"] for a in manifest["artifacts"] if a["kind"] == "deb")
    subprocess.run(["dpkg-deb", "-R", str(deb), str(unpacked)], check=True)
    places = [project / "dist", unpacked, targets.root, hoist_tmp, cache, dumps]
    assert scan_for(CANARIES, places) == []

    # What the builds saw: every hook ran, none with a secret variable.
    recorded = {path.name.split("-")[0]: path for path in dumps.iterdir()}
    assert {"build_sdist", "build_wheel", "debian"} <= set(recorded), sorted(recorded)
    for path in dumps.iterdir():
        text = path.read_text()
        seen = json.loads(text) if path.suffix == ".json" else dict(l.split("=", 1) for l in text.splitlines() if "=" in l)
        assert [name for name in SECRET_VARIABLES if name in seen] == [], path.name
