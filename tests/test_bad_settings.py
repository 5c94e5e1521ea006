"""Every setting a release would fail on after claiming its version is refused by ``hoist plan`` first.

One row a setting: the value, and what the refusal says.  ``hoist plan``
exits 9 with the message; ``hoist release`` exits 9 too and changes nothing:
not the working tree, not a tag, not the git remote, not the local index or
apt repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, repository_state, run_hoist

API = ('[tool.hoist.apt]\napi_url = "http://127.0.0.1:9/api"\nurl = "http://127.0.0.1:9/"\nrepo = "apps"\n'
       'public_key = "keys/apps.gpg"\n')

CASES = {
    "distribution with a shell command": ('distribution = "bookworm; touch x"',
                                          "tool.hoist.distribution 'bookworm; touch x' cannot be an apt distribution name"),
    "component with a path": ('component = "main/../../x"', "tool.hoist.component 'main/../../x' cannot be an apt component name"),
    "channel with a space": ('channels = ["staging", "prod uction"]', "'prod uction' cannot be an apt distribution name"),
    "valid_days past what a date holds": ("valid_days = 9223372036854775807", "tool.hoist.valid_days must be 1 to 10000 (days)"),
    "valid_days of zero": ("valid_days = 0", "tool.hoist.valid_days must be 1 to 10000 (days), not 0"),
    "health check with a second command": ('health_check = "app check; reboot"', "is not a command: it is run without a shell"),
    "health check with a pipe": ('health_check = "app check|tee x"', "is not a command: it is run without a shell"),
    "lock outside the project": ('lock = "/etc/passwd"', "tool.hoist.lock '/etc/passwd' must be a path inside the project"),
    "lock above the project": ('lock = "../requirements.lock"', "must be a path inside the project"),
    "compression dpkg lacks": ('compression = "lzma"', "tool.hoist.compression must be one of 'zstd', 'xz', 'gzip', 'none'"),
    "push_retries a string": ('push_retries = "3"', "tool.hoist.push_retries must be an integer, not str"),
    "apt prefix above the root": (API + 'prefix = "../../etc"', "tool.hoist.apt.prefix '../../etc' is not a publish prefix"),
    "apt repo with a slash": (API.replace('repo = "apps"', 'repo = "a/b"'), "tool.hoist.apt.repo 'a/b' is not an aptly repository name"),
    "apt keep below zero": (API + "keep = -1", "tool.hoist.apt.keep must be 0 (keep all) or more, not -1"),
    "valid_days where the server signs": ("valid_days = 7\n" + API, "tool.hoist.valid_days: the aptly server signs this repository"),
    "a password in the index URL": ('[tool.hoist.pypi]\nupload_url = "http://127.0.0.1:9/"\n'
                                   'index_url = "http://reader:s3cret@127.0.0.1:9/simple/"',
                                   "tool.hoist.pypi.index_url holds a password in its URL (http://127.0.0.1:9/simple/)"),
    "a password in the API URL": (API.replace("http://127.0.0.1:9/api", "http://ci:s3cret@127.0.0.1:9/api"),
                                  "tool.hoist.apt.api_url holds a password in its URL"),
    "an upload limit of nothing": ('[tool.hoist.pypi]\nupload_url = "http://127.0.0.1:9/"\n'
                                   'index_url = "http://127.0.0.1:9/simple/"\nmax_upload_mb = 0',
                                   "tool.hoist.pypi.max_upload_mb must be 1 or more (MiB), not 0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_by_plan_and_release(case: str, example_project, hoist_home: Path) -> None:
    setting, message = CASES[case]
    project = example_project()
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    top, _, tables = setting.partition("[tool.hoist.")
    for line in top.splitlines():  # the example sets some keys already (lock): the bad value replaces them
        key = line.partition(" =")[0]
        text = "".join(kept for kept in text.splitlines(keepends=True) if not kept.startswith(f"{key} ="))
    pyproject.write_text(text.replace("[tool.hoist]\n", f"[tool.hoist]\n{top}\n", 1)
                         + (f"\n[tool.hoist.{tables}\n" if tables else ""))
    git(project, "commit", "--quiet", "-am", f"A bad setting: {case}")
    before = repository_state(project)
    for command in ("plan", "release"):
        run = run_hoist(project, command)
        assert run.returncode == 9, f"{command}: {run.output}"
        assert message in run.output and "Traceback" not in run.output, run.output
        assert "s3cret" not in run.output
    assert repository_state(project) == before
    assert not (hoist_home / "hoist-hello").exists()  # no local target was even made
