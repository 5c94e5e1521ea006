"""One apt source per server, however it was set up.

The commands that a release's summary prints for a repository served over
HTTP, run on a clean Debian root; then the setup package of ``hoist
server-setup`` installed on the same root: the server ends with one source
for the repository, and apt reads it (two ``Signed-By`` values for one URI
and suite would make apt refuse both).  ``hoist serve`` prints the same
commands (``src/hoist/targets/apt/source.py`` renders them for all three).
Real releases, real apt, on 127.0.0.1.
"""

from __future__ import annotations

import re
import shutil
import urllib.request
from pathlib import Path

import pytest

from conftest import git, run_hoist
from debroot import debian_root, host_codename, serve_directory
from hoist.runner import Runner
from hoist.targets.local import LocalTargets
from test_release_e2e import CACHE

PACKAGE = "hoist-hello"
APT = {"DEBIAN_FRONTEND": "noninteractive"}


@pytest.mark.slow
def test_set_up_from_the_release_summary_then_by_the_setup_package(example_project, hoist_home: Path,
                                                                    tmp_path: Path) -> None:
    project = example_project()
    first = run_hoist(project, "release", "--yes")  # makes the aptly root, its key and the git remote
    assert first.returncode == 0, first.output
    local = LocalTargets(Runner(), PACKAGE)
    settings = local.apt()
    key = tmp_path / "keys" / Path(settings.public_key).name  # served beside the repository, as a server fetches it
    key.parent.mkdir()
    shutil.copyfile(settings.public_key, key)
    with serve_directory(local.apt_dir) as served, serve_directory(key.parent) as keys:
        url = served + "/"
        # The same aptly root, now configured, its publication read through HTTP.
        with (project / "pyproject.toml").open("a") as f:
            f.write(f'\n[tool.hoist.git]\nremote = "{local.git_remote}"\n\n[tool.hoist.apt]\n'
                    + "".join(f'{k} = "{v}"\n' for k, v in settings.__dict__.items() if isinstance(v, str) and v
                              and k not in ("url", "public_key"))
                    + f'url = "{url}"\npublic_key = "{keys}/{key.name}"\nstop_agent = true\n')
        git(project, "commit", "--quiet", "-am", "Publish to the configured repository")
        second = run_hoist(project, "release", "--yes")
        assert second.returncode == 0, second.output
        lines = second.output.splitlines()
        start = lines.index("apt: on a Debian server, as root:")
        fetch_key, write_source, install = (line.strip() for line in lines[start + 1:start + 4])
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
            built = run_hoist(project, "server-setup", "--channel", host_codename(), "-o", str(setup))
            assert built.returncode == 0, built.output
            (root.path / "tmp" / setup.name).write_bytes(setup.read_bytes())
            root.run(["apt-get", "install", "-y", f"/tmp/{setup.name}"], env=APT)

            naming = root.run(["grep", "-lRF", url, "/etc/apt/sources.list.d/"]).stdout.split()
            assert naming == [f"/etc/apt/sources.list.d/{PACKAGE}.sources"]
            assert (root.path / naming[0].lstrip("/")).is_symlink()  # the setup package's own now
            updated = root.run(["apt-get", "update", "--error-on=any"], env=APT)
            assert "Signed-By" not in updated.stdout + updated.stderr
            root.run(["apt-get", "install", "-y", PACKAGE], env=APT)
            assert root.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE]).stdout == "install ok installed"
