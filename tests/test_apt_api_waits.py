"""A server that does not answer is said so within seconds, and the message quotes the status line, not HTML.

aptly's API behind a proxy that answers 502 (as nginx does while aptly is
down): hoist says at once what it waits for and for how long at most, and
keeps saying so; an error from the proxy quotes its status line.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aptserver import running_apt_server
from conftest import git
from faultproxy import FaultProxy
from faulttargets import run_watched
from test_apt_server import DISTRIBUTION, REPO_NAME, configured

pytestmark = pytest.mark.slow


def test_a_busy_api_is_said_within_seconds(example_project, tmp_path: Path) -> None:
    with running_apt_server(tmp_path) as server:
        server.create_repo(REPO_NAME, DISTRIBUTION)
        proxy = FaultProxy(server.http_port).start()
        try:
            project, _ = configured(example_project, tmp_path, server)
            pyproject = project / "pyproject.toml"
            pyproject.write_text(pyproject.read_text().replace(server.api_url, f"{proxy.url}/api"))
            git(project, "commit", "--quiet", "-am", "Through the proxy")
            proxy.add("502", method="GET", path_prefix="/api/version", count=100_000)
            said: dict[str, float] = {}
            start = time.monotonic()

            def watch(line: str, control) -> None:
                if "answered HTTP 502 to GET /api/version: asking again" in line:
                    said.setdefault("first", time.monotonic() - start)
                    control.kill(line)

            run = run_watched(project, "release", env=server.env(), watch=watch, timeout=120)
            assert run.killed_at, run.output
            assert said["first"] < 15, f"silent for {said['first']:.0f} s"
            assert "s more at most)" in run.killed_at and "<html" not in run.output.lower()

            # A refusal from the proxy quotes its status line.
            proxy.clear()
            proxy.add("403", method="GET", path_prefix="/api/version", count=1)
            refused = run_watched(project, "release", env=server.env(), timeout=120)
            assert refused.returncode == 6, refused.output
            assert "refused the credentials (403)" in refused.output and "<html" not in refused.output.lower()
        finally:
            proxy.stop()
