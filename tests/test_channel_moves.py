"""Channel moves that never leave the record and apt apart, through aptly's API.

Real ``aptly api serve`` behind nginx, a fault proxy in front of it (the
moments a test pauses or kills a move are requests it sees), real releases
of the example application with two channels.  Each case tells what the
user sees: the exit status, the message, what apt reads, what the record says.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aptserver import AptServer, running_apt_server
from conftest import git, run_hoist
from faultproxy import FaultProxy
from test_apt_server import ARCH, DISTRIBUTION, REPO_NAME, configured

pytestmark = pytest.mark.slow
PRODUCTION = "production"


@pytest.fixture
def world(example_project, tmp_path: Path) -> Iterator[tuple[Path, Path, AptServer, FaultProxy]]:
    """The example project with channels [<distribution>, production], released twice, through a fault proxy."""
    with running_apt_server(tmp_path) as server:
        server.create_repo(REPO_NAME, DISTRIBUTION)
        proxy = FaultProxy(server.http_port).start()
        try:
            project, remote = configured(example_project, tmp_path, server)
            text = (project / "pyproject.toml").read_text().replace(server.api_url, f"{proxy.url}/api")
            text = text.replace("[tool.hoist]\n", f'[tool.hoist]\nchannels = ["{DISTRIBUTION}", "{PRODUCTION}"]\n', 1)
            (project / "pyproject.toml").write_text(text)
            git(project, "commit", "--quiet", "-am", "Channels, through the proxy")
            for change in ("First", "Second"):
                (project / "CHANGES").write_text(f"{change}\n")
                git(project, "add", "CHANGES")
                git(project, "commit", "--quiet", "-m", change)
                released = run_hoist(project, "release", env=server.env())
                assert released.returncode == 0, released.output
            yield project, remote, server, proxy
        finally:
            proxy.stop()


def versions(project: Path, server: AptServer) -> list[str]:
    tags = git(project, "tag", "--list", "v*", "--sort=v:refname").split()
    return [t.removeprefix("v") for t in tags]


def production(server: AptServer) -> list[str]:
    return sorted(p["Version"] for p in server.packages(PRODUCTION, ARCH).values())


def records(remote: Path) -> list[str]:
    return git(remote, "log", "--format=%s", f"refs/hoist/channels/{PRODUCTION}").splitlines()


def start(project: Path, server: AptServer, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hoist", *args], cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "NO_COLOR": "1", **server.env()})


def test_two_promotes_at_once_leave_the_record_and_apt_agreeing(world) -> None:
    """A is paused between its record and its publish; B promotes meanwhile: apt ends as the newest record says."""
    project, remote, server, proxy = world
    v1, v2 = versions(project, server)
    paused, go = threading.Event(), threading.Event()

    def pause(entry) -> None:
        paused.set()
        go.wait(120)

    proxy.hook = pause
    proxy.add("hook_after_upstream", method="POST", path_prefix="/api/snapshots", count=1)
    a = start(project, server, "promote", v2, "--to", PRODUCTION)
    try:
        assert paused.wait(120), "A never reached its publish"
        b = run_hoist(project, "promote", v1, "--to", PRODUCTION, env=server.env())
        assert b.returncode == 0, b.output
    finally:
        go.set()
        a_output = a.communicate(timeout=300)[0]
    assert a.returncode == 8, a_output
    assert f"another move of {PRODUCTION} was recorded while this one published: promote to {v1}" in a_output
    assert production(server) == [v1]
    assert records(remote)[0] == f"promote {v1} to {PRODUCTION}"
    status = run_hoist(project, "status", "--json", env=server.env())
    assert status.returncode == 0, status.output
    assert json.loads(status.output)["channels"][PRODUCTION]["agrees"] is True


def test_a_rollback_killed_after_its_publish_is_completed_not_repeated(world) -> None:
    project, remote, server, proxy = world
    v1, v2 = versions(project, server)
    assert run_hoist(project, "promote", v1, "--to", PRODUCTION, env=server.env()).returncode == 0
    assert run_hoist(project, "promote", v2, "--to", PRODUCTION, env=server.env()).returncode == 0
    holder: dict[str, subprocess.Popen] = {}
    proxy.hook = lambda entry: os.kill(holder["run"].pid, signal.SIGKILL)
    proxy.add("hook_after_upstream", method="PUT", path_prefix="/api/publish/", count=1)
    holder["run"] = start(project, server, "rollback", PRODUCTION)
    holder["run"].communicate(timeout=300)
    assert holder["run"].returncode == -signal.SIGKILL
    assert production(server) == [v1]  # its publish went through
    again = run_hoist(project, "rollback", PRODUCTION, env=server.env())
    assert again.returncode == 0, again.output
    assert f"the newest move of {PRODUCTION} is the rollback to {v1}" in again.output
    assert production(server) == [v1]
    assert records(remote) == [f"roll back {PRODUCTION} to {v1}", f"promote {v2} to {PRODUCTION}",
                               f"promote {v1} to {PRODUCTION}"]


def test_a_promote_killed_before_its_publish(world) -> None:
    """The record says one version, apt another: status says so and exits 11; the same command finishes it."""
    project, remote, server, proxy = world
    v1, v2 = versions(project, server)
    assert run_hoist(project, "promote", v1, "--to", PRODUCTION, env=server.env()).returncode == 0
    holder: dict[str, subprocess.Popen] = {}
    proxy.hook = lambda entry: os.kill(holder["run"].pid, signal.SIGKILL)
    proxy.add("hook_after_upstream", method="POST", path_prefix="/api/snapshots", count=1)
    holder["run"] = start(project, server, "promote", v2, "--to", PRODUCTION)
    holder["run"].communicate(timeout=300)
    assert production(server) == [v1] and records(remote)[0] == f"promote {v2} to {PRODUCTION}"
    status = run_hoist(project, "status", env=server.env())
    assert status.returncode == 11, status.output
    assert f"{PRODUCTION}: its record says {v2}, apt reads {v1}: hoist promote {v2} --to {PRODUCTION} reconciles them" \
        in status.output
    done = run_hoist(project, "promote", v2, "--to", PRODUCTION, env=server.env())
    assert done.returncode == 0, done.output
    assert production(server) == [v2] and run_hoist(project, "status", env=server.env()).returncode == 0


def test_only_what_a_release_made_is_promoted(world) -> None:
    project, remote, server, proxy = world
    v1, v2 = versions(project, server)
    year, month, serial = (int(p) for p in v2.split("."))
    forged = f"{year}.{month}.{serial + 5}"
    git(project, "tag", "-a", f"v{forged}", "-m", "not a release", f"v{v1}~1")  # an old, ordinary commit
    git(project, "push", "--quiet", str(remote), f"v{forged}")
    before = records(remote) if git(remote, "for-each-ref", f"refs/hoist/channels/{PRODUCTION}") else []
    for args, message in [
        (("promote", forged, "--to", PRODUCTION), f"{forged} was not made by a hoist release: its tag v{forged} is on"),
        (("rollback", PRODUCTION, "--to", "not a version"), "'not a version' is not a release version"),
        (("rollback", PRODUCTION, "--to", ""), "'' is not a release version"),
    ]:
        refused = run_hoist(project, *args, env=server.env())
        assert refused.returncode == 3 and f"error: {message}" in refused.output, refused.output
        assert "Traceback" not in refused.output
    assert (records(remote) if git(remote, "for-each-ref", f"refs/hoist/channels/{PRODUCTION}") else []) == before
    tagged = run_hoist(project, "promote", f"v{v1}", "--to", PRODUCTION, env=server.env())  # the tag names it too
    assert tagged.returncode == 0 and production(server) == [v1], tagged.output
