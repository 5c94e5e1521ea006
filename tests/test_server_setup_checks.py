"""``hoist server-setup`` reads the channel as a server's apt will, before it writes anything."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conftest import git, run_hoist
from debroot import serve_directory
from hoist.runner import Runner
from hoist.targets.local import LocalTargets

pytestmark = pytest.mark.slow
PACKAGE = "hoist-hello"


def test_bad_input_is_refused_and_nothing_written(example_project, hoist_home: Path) -> None:
    project = example_project()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.hoist]\n", '[tool.hoist]\nchannels = ["staging", "production"]\n', 1))
    git(project, "commit", "--quiet", "-am", "Channels")
    released = run_hoist(project, "release", "--yes")
    assert released.returncode == 0, released.output
    local = LocalTargets(Runner(), PACKAGE)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    with serve_directory(local.root) as root_url, serve_directory(local.apt_dir) as apt_url:
        cases = [
            (("--channel", "staging"), f"the repository is at {local.apt_dir.as_uri()}, which a server cannot read"),
            (("--channel", "staging", "--url", f"{root_url}/"), f"{root_url}/ publishes no staging channel (no "
                                                                 "dists/staging/InRelease)"),
            (("--channel", "staging", "--url", dead), f"cannot read the staging channel at {dead}"),
            (("--channel", "production", "--url", f"{apt_url}/"), f"{apt_url}/ publishes no production channel"),
        ]
        for args, message in cases:
            refused = run_hoist(project, "server-setup", *args)
            assert refused.returncode == 3 and f"error: {message}" in refused.output, refused.output
            assert "--unchecked builds the package anyway" in refused.output or "a server cannot read" in refused.output
            assert not list((project / "dist").glob("*-channel-*.deb")), args
        made = run_hoist(project, "server-setup", "--channel", "staging", "--url", f"{apt_url}/")
        assert made.returncode == 0, made.output
    unchecked = run_hoist(project, "server-setup", "--channel", "production", "--unchecked")
    assert unchecked.returncode == 0 and "was not read (--unchecked)" in unchecked.output, unchecked.output
    assert len(list((project / "dist").glob(f"{PACKAGE}-channel-*.deb"))) == 2
