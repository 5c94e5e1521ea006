"""CI: every push to master is tested and released; a release's own commits never loop.

No Jenkins runs here, so the git server plays it. The project's git remote
is the bare repository of hoist's local targets,
``$HOIST_HOME/hoist-hello/remote.git``, created before the first push with a
``post-receive`` hook that builds every pushed branch as the Jenkinsfile does:
a fresh clone checked out at the pushed commit on a detached HEAD with
``BRANCH_NAME`` set (as a Jenkins multibranch job checks out), then
``ci/bootstrap``, ``ci/test`` and, on master when ``ci/should-release`` says
so, ``ci/release``. Each build is logged to its own file with its exit status.

Hooks run synchronously: a push returns when its builds have finished. When a
build releases, hoist pushes the release commit to the same repository, so the
hook runs again inside it: that nested build is the one that must not release.

Also here: the Jenkinsfiles (hoist's own and the one ``hoist init`` writes)
checked against the scripts and the variables hoist reads, and a maintainer's
``invoke release`` / ``hoist release`` at a terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest
from debian.deb822 import Packages

from conftest import REPO, git, init_repository, repository_state
from hoist.secrets import GPG_PASSPHRASE_VARS, PYPI_PASSWORD_VARS, PYPI_USERNAME_VARS

PACKAGE = "hoist-hello"
RELEASE_BRANCH = "master"
#: hoist's own release branch (its repository's default branch).
HOIST_BRANCH = "main"

#: The scripts the hook runs, in order: what the Jenkinsfile's `sh` steps must be.
HOOK_SCRIPTS = ("ci/bootstrap", "ci/test", "ci/should-release", "ci/release")

#: Plays Jenkins: a multibranch job of this repository (branches, not tags;
#: BRANCH_NAME set; the release stage on @BRANCH@ only, when ci/should-release
#: says so). Each build runs during the push that started it; @RUNS@ is where
#: builds go, one directory each: branch, commit, scripts run, log, status.
HOOK = r"""#!/bin/sh
# post-receive: build every pushed branch as the Jenkinsfile does (tests/test_ci.py).
repo="$(pwd)"
unset GIT_DIR GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_PUSH_OPTION_COUNT
runs='@RUNS@'
zero=0000000000000000000000000000000000000000
while read -r old new ref; do
    case "$ref" in refs/heads/*) ;; *) continue ;; esac  # branches, not tags, as a multibranch job
    [ "$new" = "$zero" ] && continue                      # a deleted branch
    branch="${ref#refs/heads/}"
    mkdir -p "$runs"
    n=1
    while ! mkdir "$runs/$n" 2>/dev/null; do n=$((n + 1)); done
    run="$runs/$n"
    echo "$branch" > "$run/branch"
    echo "$new" > "$run/commit"
    (
        stage() { echo "$1" >> "$run/scripts"; echo "==> $1"; "$1"; }
        git clone --quiet --no-checkout "$repo" "$run/workspace" || exit
        cd "$run/workspace" || exit
        git checkout --quiet --detach "$new" || exit
        export BRANCH_NAME="$branch"
        stage ci/bootstrap || exit
        stage ci/test || exit
        if [ "$branch" = '@BRANCH@' ] && stage ci/should-release; then
            stage ci/release || exit
        fi
    ) > "$run/log" 2>&1
    status=$?
    echo "$status" > "$run/status.tmp" && mv "$run/status.tmp" "$run/status"
    echo "ci: build $n of $branch at $new: exit status $status"
done
exit 0
"""


@dataclass(frozen=True)
class Build:
    """One build the hook ran."""

    number: int
    branch: str
    commit: str
    status: int | None  # None while it runs
    scripts: list[str]
    log: str
    workspace: Path

    def manifest(self) -> dict | None:
        path = self.workspace / "dist" / "release.json"
        return json.loads(path.read_text()) if path.exists() else None


@dataclass(frozen=True)
class Published:
    """What the local targets hold."""

    tags: dict[str, str]  # tag -> commit
    index: list[str]  # file names
    apt: list[str]  # versions of PACKAGE in the apt repository's Packages


@dataclass
class Server:
    """The bare repository with the CI hook, and where its builds are."""

    bare: Path
    runs: Path
    project: Path
    home: Path

    def builds(self) -> list[Build]:
        out = []
        if not self.runs.exists():
            return out
        for run in sorted((p for p in self.runs.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
            status = run / "status"
            scripts = run / "scripts"
            out.append(Build(
                number=int(run.name),
                branch=(run / "branch").read_text().strip(),
                commit=(run / "commit").read_text().strip(),
                status=int(status.read_text()) if status.exists() else None,
                scripts=scripts.read_text().split() if scripts.exists() else [],
                log=(run / "log").read_text() if (run / "log").exists() else "",
                workspace=run / "workspace",
            ))
        return out

    def push(self, clone: Path, *refspecs: str) -> list[Build]:
        """Push (the hook builds during it); return the builds it started."""
        before = len(self.builds())
        result = start_push(clone, *refspecs)
        output = result.communicate(timeout=1800)[0]
        assert result.returncode == 0, output
        return self.builds()[before:]

    def wait_for_build_of(self, commit: str, timeout: float = 120) -> Build:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for build in self.builds():
                if build.commit == commit:
                    return build
            time.sleep(0.2)
        raise AssertionError(f"no build of {commit} started within {timeout} s")

    def published(self) -> Published:
        root = self.home / PACKAGE
        tags = {}
        for line in git(self.bare, "for-each-ref", "refs/tags", "--format=%(refname:short) %(*objectname)").splitlines():
            tag, commit = line.split()
            tags[tag] = commit
        index = sorted(p.name for p in (root / "index").rglob("*") if p.is_file()) if (root / "index").exists() else []
        versions = []
        for packages in sorted((root / "apt").glob("dists/*/*/binary-*/Packages")):
            with packages.open() as handle:
                versions += [p["Version"] for p in Packages.iter_paragraphs(handle, use_apt_pkg=False) if p["Package"] == PACKAGE]
        return Published(tags, index, versions)


def start_push(clone: Path, *refspecs: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["git", "push", "origin", *refspecs], cwd=clone, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def commit_file(repo: Path, name: str, text: str, message: str) -> str:
    """Write *name*, commit it; return the commit."""
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def run_script(workspace: Path, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run one of the ci/ scripts in *workspace*, as a build does (no terminal)."""
    return subprocess.run(
        [script, *args], cwd=workspace, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )


@pytest.fixture
def ci_server(example_project, hoist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Server:
    """The example project on a git server whose post-receive hook is its CI.

    The project is on the server before the hook is installed (CI set up for
    an existing repository), so only the tests' own pushes start builds.
    Builds reuse this test run's virtualenv (``HOIST_CI_VENV``) rather than
    installing hoist and pytest for every push.
    """
    monkeypatch.setenv("HOIST_CI_VENV", sys.prefix)
    monkeypatch.setenv("HOIST_REQUIREMENT", "hoist")  # any version: the shared one is this checkout's
    monkeypatch.setenv("NO_COLOR", "1")
    for who in ("AUTHOR", "COMMITTER"):  # the agent's git identity, for the release commit
        monkeypatch.setenv(f"GIT_{who}_NAME", "Hoist CI")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "ci@hoist.invalid")
    project = example_project()
    bare = hoist_home / PACKAGE / "remote.git"
    bare.parent.mkdir(parents=True)
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch", RELEASE_BRANCH, str(bare))
    git(project, "remote", "add", "origin", str(bare))
    git(project, "push", "--quiet", "--set-upstream", "origin", RELEASE_BRANCH)
    runs = tmp_path / "ci"
    hook = bare / "hooks" / "post-receive"
    hook.write_text(HOOK.replace("@RUNS@", str(runs)).replace("@BRANCH@", RELEASE_BRANCH))
    hook.chmod(0o755)
    return Server(bare, runs, project, hoist_home)


# --- the hook: what CI does on each push ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_push_to_master_is_released_once_and_its_release_commit_does_not_loop(ci_server: Server) -> None:
    """(a) a normal commit: exactly one new release on every target; (b) the
    release commit hoist pushed is built, and does not start another release."""
    server = ci_server
    change = commit_file(server.project, "CHANGES", "hello again\n", "Say hello again")

    builds = server.push(server.project, RELEASE_BRANCH)

    release_commit = git(server.bare, "rev-parse", RELEASE_BRANCH)
    assert [(b.branch, b.commit) for b in builds] == [(RELEASE_BRANCH, change), (RELEASE_BRANCH, release_commit)]
    first, nested = builds

    # (a) the pushed commit: tested, then released, every stage of the Jenkinsfile run.
    assert first.status == 0, first.log
    assert first.scripts == list(HOOK_SCRIPTS)
    assert "release: HEAD" in first.log
    manifest = first.manifest()
    assert manifest is not None, first.log
    version, tag = manifest["version"], manifest["tag"]
    assert manifest["commit"] == release_commit
    assert {t: s["state"] for t, s in manifest["targets"].items()} == {"git": "published", "pypi": "published", "apt": "published"}
    assert git(server.bare, "rev-parse", f"{release_commit}^") == change
    assert git(server.bare, "log", "-1", "--format=%(trailers:key=Hoist-Release,valueonly)", release_commit) == version
    published = server.published()
    assert published.tags == {tag: release_commit}
    sdist, wheel = (Path(a["path"]).name for a in manifest["artifacts"] if a["kind"] in ("sdist", "wheel"))
    assert published.index == sorted([sdist, wheel])
    assert published.apt == [version]
    # What Jenkins archives and publishes is there: each archiveArtifacts pattern matches one file
    # (*.tar.gz: the sdist and the source release).
    dist = first.workspace / "dist"
    for pattern in archive_patterns((server.project / "Jenkinsfile").read_text()):
        assert len(list(first.workspace.glob(pattern))) == (2 if pattern == "dist/*.tar.gz" else 1), \
            (pattern, sorted(p.name for p in dist.iterdir()))
    assert 'failures="0"' in (dist / "junit.xml").read_text()

    # (b) the release commit's build: tested, and hoist says why it does not release.
    assert nested.status == 0, nested.log
    assert nested.scripts == ["ci/bootstrap", "ci/test", "ci/should-release"]
    assert f"no release: HEAD {release_commit[:12]} is hoist's release commit of {version}" in nested.log
    assert nested.manifest() is None
    assert len(server.builds()) == 2

    # Jenkins "Build Now" on master again, or a retried build: nothing new, exit status 0.
    again = run_script(nested.workspace, "ci/release", BRANCH_NAME=RELEASE_BRANCH)
    assert again.returncode == 0, again.stdout
    assert "nothing to do:" in again.stdout
    assert server.published() == published
    assert len(server.builds()) == 2


@pytest.mark.slow
def test_two_pushes_in_quick_succession_never_release_one_version_twice(ci_server: Server, tmp_path: Path) -> None:
    """(c) two developers push at once: two releases, or one with both commits;
    never one version for two different releases."""
    server = ci_server
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(server.bare), str(other))
    first = commit_file(server.project, "first.txt", "1\n", "Change from the first clone")
    commit_file(other, "second.txt", "2\n", "Change from the second clone")

    first_push = start_push(server.project, RELEASE_BRANCH)
    server.wait_for_build_of(first)  # the first push is in, its build running
    rejected = start_push(other, RELEASE_BRANCH)
    rejected_output = rejected.communicate(timeout=60)[0]
    assert rejected.returncode != 0, rejected_output  # the branch moved under it
    for _ in range(5):  # what the developer does next; again if a release commit got in first
        git(other, "pull", "--quiet", "--rebase")
        second_push = start_push(other, RELEASE_BRANCH)
        second_push.communicate(timeout=1800)
        if second_push.returncode == 0:
            break
    else:
        raise AssertionError("the second clone could not push")
    second = git(other, "rev-parse", "HEAD")
    first_output = first_push.communicate(timeout=1800)[0]
    assert first_push.returncode == 0, first_output

    builds = server.builds()
    assert all(b.status is not None for b in builds)
    assert {b.commit for b in builds} >= {first, second}
    published = server.published()
    versions = sorted(t.removeprefix("v") for t in published.tags)
    assert 1 <= len(versions) <= 2, published
    # One version, one release: a tag per release commit, one sdist and wheel and one .deb per version.
    assert len(set(published.tags.values())) == len(versions)
    for tag, commit in published.tags.items():
        assert git(server.bare, "log", "-1", "--format=%(trailers:key=Hoist-Release,valueonly)", commit) == tag.removeprefix("v")
    assert sorted(published.apt) == versions
    for version in versions:
        assert len([f for f in published.index if f"-{version}" in f]) == 2, published.index
    # Both changes are released.
    newest = published.tags[f"v{max(versions, key=lambda v: tuple(map(int, v.split('.'))))}"]
    for commit in (first, second):
        assert git(server.bare, "merge-base", "--is-ancestor", commit, newest) == ""
    # Each release was made by one build; the release commits' builds release nothing.
    released = [m["version"] for b in builds if (m := b.manifest())]
    assert sorted(released) == versions
    for build in builds:
        if build.commit in published.tags.values():
            assert build.status == 0 and "no release:" in build.log, build.log
        else:
            # Released, or superseded: master moved past it while it was built,
            # and the newer commit's build releases both.
            assert build.status == 0, build.log


def test_a_push_to_another_branch_is_tested_only(ci_server: Server) -> None:
    """(d) a branch other than master: bootstrap and tests, no release."""
    server = ci_server
    master = git(server.bare, "rev-parse", RELEASE_BRANCH)
    git(server.project, "checkout", "--quiet", "-b", "feature")
    change = commit_file(server.project, "FEATURE", "wip\n", "Start a feature")

    (build,) = server.push(server.project, "feature")

    assert (build.branch, build.commit, build.status) == ("feature", change, 0), build.log
    assert build.scripts == ["ci/bootstrap", "ci/test"]
    assert "7 passed" in build.log
    assert server.published() == Published({}, [], [])
    assert git(server.bare, "rev-parse", RELEASE_BRANCH) == master
    # Asked anyway, hoist says why not.
    asked = run_script(build.workspace, "ci/should-release", BRANCH_NAME="feature")
    assert asked.returncode == 1
    assert "no release: feature is not the release branch" in asked.stdout


def test_a_commit_whose_tests_fail_is_not_released(ci_server: Server) -> None:
    """(e) master with a failing test: no release, a non-zero exit status, the failure in the JUnit report."""
    server = ci_server
    broken = commit_file(server.project, "tests/test_broken.py", "def test_broken():\n    assert False, 'broken on purpose'\n",
                         "Break a test")

    (build,) = server.push(server.project, RELEASE_BRANCH)

    assert (build.branch, build.commit) == (RELEASE_BRANCH, broken)
    assert build.status == 1, build.log  # pytest: tests failed
    assert build.scripts == ["ci/bootstrap", "ci/test"]
    assert "1 failed, 7 passed" in build.log
    assert 'failures="1"' in (build.workspace / "dist" / "junit.xml").read_text()
    assert server.published() == Published({}, [], [])
    assert git(server.bare, "rev-parse", RELEASE_BRANCH) == broken  # the push is in; CI said no


# --- the Jenkinsfiles, against the scripts and hoist --------------------------------------------------------------


def archive_patterns(jenkinsfile: str) -> list[str]:
    (artifacts,) = re.findall(r"archiveArtifacts\s+artifacts:\s*'([^']*)'", jenkinsfile)
    return [p.strip() for p in artifacts.split(",")]


def sh_steps(groovy: str) -> list[str]:
    """The scripts of every ``sh`` step: ``sh 'x'``, ``sh('x')``, ``sh(script: 'x', ...)``."""
    assert '"""' not in groovy and "'''" not in groovy
    return re.findall(r"\bsh\s*(?:\(\s*(?:script:\s*)?)?['\"]([^'\"]*)['\"]", groovy)


def block(groovy: str, opening: str, *, whole: bool = False) -> str:
    """The text between the braces of the first block that starts with
    *opening*; with *whole*, from *opening* to the closing brace."""
    start = groovy.index(opening)
    brace = groovy.index("{", start + len(opening) - 1)
    depth = 0
    for i in range(brace, len(groovy)):
        depth += {"{": 1, "}": -1}.get(groovy[i], 0)
        if depth == 0:
            return groovy[start:i + 1] if whole else groovy[brace + 1:i]
    raise AssertionError(f"unbalanced braces after {opening!r}")


@pytest.fixture(params=["hoist", "hoist init"])
def jenkins_project(request, example_project) -> tuple[Path, str]:
    """(project root, Debian package): hoist itself, and the example after `hoist init`."""
    if request.param == "hoist":
        return REPO, "hoist"
    return example_project(), PACKAGE


def test_each_stage_runs_one_ci_script_that_the_hook_runs(jenkins_project: tuple[Path, str]) -> None:
    root, _ = jenkins_project
    jenkinsfile = (root / "Jenkinsfile").read_text()
    stages = re.findall(r"stage\('([^']+)'\)", jenkinsfile)
    assert stages == ["bootstrap", "test", "release"]
    for stage in stages:
        assert sh_steps(block(block(jenkinsfile, f"stage('{stage}')"), "steps")) == [f"ci/{stage}"]
    assert sh_steps(block(block(jenkinsfile, "stage('release')"), "when")) == ["ci/should-release"]
    scripts = sh_steps(jenkinsfile)
    assert sorted(scripts) == sorted(HOOK_SCRIPTS)  # and the hook test checks it runs each of them
    for script in scripts:
        path = root / script
        assert path.is_file() and os.access(path, os.X_OK), path
        assert path.read_text().startswith("#!/bin/sh\n"), path
        subprocess.run(["dash", "-n", str(path)], check=True)  # POSIX sh: Debian's /bin/sh parses it


def test_credentials_are_the_variables_hoist_reads(jenkins_project: tuple[Path, str]) -> None:
    root, package = jenkins_project
    jenkinsfile = (root / "Jenkinsfile").read_text()
    bindings = block(jenkinsfile, "withCredentials(", whole=True)
    bound = re.findall(r"(?:usernameVariable|passwordVariable|variable):\s*'([A-Z_]+)'", bindings)
    read = (PYPI_USERNAME_VARS, PYPI_PASSWORD_VARS, GPG_PASSPHRASE_VARS)
    assert sorted(bound) == sorted(names[0] for names in read)
    assert re.findall(r"credentialsId:\s*'([^']+)'", bindings) == [f"{package}-pypi", f"{package}-gpg-passphrase"]
    assert sh_steps(bindings) == ["ci/release"]  # only the release sees the secrets


def test_one_build_at_a_time_release_on_master_reports_archived(jenkins_project: tuple[Path, str]) -> None:
    root, package = jenkins_project
    release_branch = HOIST_BRANCH if package == "hoist" else RELEASE_BRANCH
    jenkinsfile = (root / "Jenkinsfile").read_text()
    options = block(jenkinsfile, "options")
    assert "disableConcurrentBuilds()" in options and "timeout(" in options
    when = block(block(jenkinsfile, "stage('release')"), "when")
    assert f"branch '{release_branch}'" in when and "returnStatus: true) == 0" in when
    assert "testResults: 'dist/junit.xml'" in block(jenkinsfile, "stage('test')")
    assert set(archive_patterns(jenkinsfile)) == {"dist/*.tar.gz", "dist/*.whl", "dist/*.deb", "dist/*.buildinfo", "dist/*.cdx.json",
                                                     "dist/SHA256SUMS", "dist/SHA256SUMS.asc", "dist/release.json"}


def test_hoists_own_jenkinsfile_is_the_template_for_hoist() -> None:
    """The same shape: hoist's Jenkinsfile is what `hoist init` would write for it."""
    class Rendered(Template):
        delimiter = "@"

    template = (REPO / "src" / "hoist" / "templates" / "Jenkinsfile").read_text()
    assert Rendered(template).substitute(name="hoist", package="hoist", branch=HOIST_BRANCH, here="",
                                       jenkins_note="") == (REPO / "Jenkinsfile").read_text()
    assert sorted(p.name for p in (REPO / "src" / "hoist" / "templates" / "ci").iterdir()) == sorted(
        Path(s).name for s in HOOK_SCRIPTS
    )


def test_hoists_own_debian_is_the_template_for_hoist() -> None:
    """hoist's own packaging is what `hoist init` writes for it: the rules, the
    maintainer scripts that compile and remove the byte code, the lintian overrides."""
    class Rendered(Template):
        delimiter = "@"

    templates = REPO / "src" / "hoist" / "templates" / "debian"
    for template, own in [("rules", "rules"), ("postinst", "hoist.postinst"), ("prerm", "hoist.prerm"),
                          ("lintian-overrides", "hoist.lintian-overrides")]:
        rendered = Rendered((templates / template).read_text()).safe_substitute(package="hoist", install_root="/opt/hoist")
        assert rendered == (REPO / "debian" / own).read_text(), f"debian/{own} differs from the template {template}"


def test_hoists_own_ci_scripts_run(tmp_path: Path) -> None:
    """hoist's own ci/ scripts, in a copy of this working tree, as Jenkins runs them on a branch."""
    copy = tmp_path / "hoist"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    init_repository(copy)
    git(copy, "checkout", "--quiet", "--detach")
    env = {"HOIST_CI_VENV": sys.prefix, "BRANCH_NAME": "feature", "NO_COLOR": "1"}

    bootstrap = run_script(copy, "ci/bootstrap", **env)
    assert bootstrap.returncode == 0, bootstrap.stdout
    assert "ci/bootstrap: ready (hoist " in bootstrap.stdout
    tested = run_script(copy, "ci/test", "-q", "tests/test_version.py", **env)
    assert tested.returncode == 0, tested.stdout
    assert 'failures="0"' in (copy / "dist" / "junit.xml").read_text()
    asked = run_script(copy, "ci/should-release", **env)
    assert (asked.returncode, asked.stdout.strip()) == (1, f"no release: feature is not the release branch {HOIST_BRANCH!r}: tests only")
    refused = run_script(copy, "ci/release", **env)
    assert refused.returncode == 3 and f"releases are made from {HOIST_BRANCH!r}" in refused.stdout, refused.stdout
    assert git(copy, "status", "--porcelain") == ""  # bootstrap and test leave the tree clean


# --- a maintainer at a terminal ------------------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


def at_terminal(argv: list[str], cwd: Path, answers: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, str]:
    """Run *argv* on a pseudo-terminal (stdin, stdout and stderr), typing each
    answer once its prompt shows; return (exit status, what the terminal showed)."""
    pending = dict(answers or {})
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise AssertionError(f"{argv} did not finish within {timeout} s:\n{ANSI.sub('', shown.decode(errors='replace'))}")
            if not select.select([master], [], [], 0.5)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every process holding the terminal is gone
                break
            if not data:
                break
            shown += data
            text = ANSI.sub("", shown.decode(errors="replace"))
            for prompt, answer in list(pending.items()):
                if prompt in text:
                    os.write(master, answer.encode())
                    del pending[prompt]
    finally:
        os.close(master)
    return proc.wait(timeout=60), ANSI.sub("", shown.decode(errors="replace"))


def targets_hold_nothing(home: Path) -> bool:
    root = home / PACKAGE
    remote = root / "remote.git"
    refs = git(remote, "for-each-ref") if remote.exists() else ""
    files = [p for d in ("index", "apt") if (root / d).exists() for p in (root / d).rglob("*") if p.is_file()]
    return refs == "" and files == []


def test_invoke_release_at_a_terminal_shows_the_plan_and_asks(example_project, hoist_home: Path) -> None:
    """Answering "n" (or just Enter) changes nothing: no commit, no tag, nothing on any target."""
    project = example_project()
    before = repository_state(project)
    invoke = str(Path(sys.executable).parent / "invoke")

    status, shown = at_terminal([invoke, "release"], project, {"? [y/N] ": "n\n"})

    assert re.search(r"release hoist-hello \d+\.\d+\.0 \(tag v\d+\.\d+\.0\)", shown), shown
    assert "changelog, commit and tag" in shown and "targets" in shown  # the plan, step by step
    assert re.search(r"Release \d+\.\d+\.0\? \[y/N\] n", shown), shown
    assert status != 0 and "cancelled: nothing was changed" in shown, shown
    assert "==> " not in shown  # no step ran
    assert repository_state(project) == before
    assert targets_hold_nothing(hoist_home)


def test_release_yes_at_a_terminal_does_not_ask(example_project, hoist_home: Path) -> None:
    """`--yes` goes straight on; a project whose sdist fails to build keeps it quick, and fails late."""
    project = example_project()
    commit_file(project, "setup.py", "import sys\n\nif 'sdist' in sys.argv:\n"
                "    raise SystemExit('this project does not build')\n\nfrom setuptools import setup\n\nsetup()\n",
                "Break the sdist's build")

    status, shown = at_terminal([sys.executable, "-m", "hoist", "release", "--yes"], project, {"[y/N]": "n\n"})

    assert "[y/N]" not in shown, shown
    assert "==> changelog, commit and tag" in shown and "==> build sdist and wheel" in shown, shown
    assert status != 0 and "error:" in shown, shown
    assert targets_hold_nothing(hoist_home)
