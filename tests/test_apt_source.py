"""One apt source per server, however it was set up.

The commands that ``hoist serve`` (and the release summary) print, run on a
clean Debian root, then the setup package of ``hoist server-setup``
installed on the same root: the server ends with one source for the
repository, and apt reads it (two ``Signed-By`` values for one URI and suite
would make apt refuse both).  Real release, real apt, on 127.0.0.1.
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import run_hoist
from debroot import debian_root, host_codename
from test_release_e2e import CACHE

PACKAGE = "hoist-hello"
APT = {"DEBIAN_FRONTEND": "noninteractive"}


@pytest.mark.slow
def test_set_up_by_hand_then_by_the_setup_package(example_project, hoist_home: Path, tmp_path: Path) -> None:
    project = example_project()
    made = run_hoist(project, "release", "--yes")
    assert made.returncode == 0, made.output
    server = subprocess.Popen([sys.executable, "-m", "hoist", "serve", "--bind", "127.0.0.1:0"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"at (http://127\.0\.0\.1:\d+/) ", server.stdout.readline())[1]
        assert server.stdout.readline().strip() == "on a Debian server, as root:"
        commands = [server.stdout.readline().strip() for _ in range(3)]
        fetch_key, write_source, install = commands
        assert install == f"apt-get update && apt-get install {PACKAGE}"
        with debian_root(CACHE, tmp_path / "root", mount_proc=True) as root:
            # By hand, as printed (minbase has no curl: the key is fetched as curl -o would).
            keyring, key_url = re.fullmatch(r"curl -fsSLo (\S+) (\S+)", fetch_key).groups()
            with urllib.request.urlopen(key_url, timeout=30) as response:
                (root.path / keyring.lstrip("/")).write_bytes(response.read())
            root.run(["sh", "-c", write_source])
            root.run(["apt-get", "update", "--error-on=any"], env=APT)

            # Then the setup package of the same repository.
            setup = tmp_path / "setup.deb"
            built = run_hoist(project, "server-setup", "--channel", host_codename(), "--url", f"{url}apt/",
                              "-o", str(setup))
            assert built.returncode == 0, built.output
            (root.path / "tmp" / setup.name).write_bytes(setup.read_bytes())
            root.run(["apt-get", "install", "-y", f"/tmp/{setup.name}"], env=APT)

            sources = root.path / "etc/apt/sources.list.d"
            naming = [p.name for p in sorted(sources.iterdir()) if f"{url}apt/" in p.read_text()]
            assert naming == [f"{PACKAGE}.sources"]
            assert (sources / f"{PACKAGE}.sources").is_symlink()  # the package's own now
            updated = root.run(["apt-get", "update", "--error-on=any"], env=APT)
            assert "Conflicting values set for option Signed-By" not in updated.stdout + updated.stderr
            root.run(["apt-get", "install", "-y", PACKAGE], env=APT)
            assert root.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE]).stdout == "install ok installed"
    finally:
        server.terminate()
        server.wait(timeout=30)
