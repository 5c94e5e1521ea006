"""Faults on purpose (issue 3): releases never half-publish, never collide, and
always finish on a second run.

Every test releases the example application to *configured* targets: a bare
git remote, a real pypiserver behind a fault-injecting proxy on 127.0.0.1, and
aptly publishing to a directory, signed with a gpg key that has a passphrase
(see faulttargets.py and faultproxy.py).  Each case checks the exit status and
the message, reads every target back (``git ls-remote``, the files in
pypiserver's directory with their sha256, the published ``Packages`` and
``InRelease``), and checks that a second run ends in the same published state
as a clean run (``clean_reference``: the same project released without faults).

Each fault injected is counted in ``FIGURES`` and printed (``ci/test -n 0 -s``
shows it) as a ``FAULT`` line: where it was injected, what hoist did, and whether the next
run converged.
"""

from __future__ import annotations

import email.utils
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import EXAMPLE, git, init_repository, run_hoist
from faulttargets import (
    PACKAGE,
    Control,
    Targets,
    hold_lock,
    kill_when,
    kill_when_file,
    published_state,
    release_lock,
    run_watched,
    running_targets,
    scan_for,
    sha256,
)

pytestmark = pytest.mark.slow


class HoistBug(AssertionError):
    """An expectation that hoist does not meet yet: xfail(raises=HoistBug) tests fail
    with it, so that any other failure (a fault never reached) still fails them."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise HoistBug(message)


#: One line per fault injected: (case, fault point, outcome, converged).
FIGURES: list[tuple[str, str, str, bool]] = []


def record(case: str, point: str, outcome: str, converged: bool) -> None:
    FIGURES.append((case, point, outcome, converged))
    print(f"FAULT {case} | {point} | {outcome} | converged={converged}")


@pytest.fixture(scope="module", autouse=True)
def fault_summary():
    yield
    if FIGURES:
        converged = sum(1 for f in FIGURES if f[3])
        print(f"\nFAULT SUMMARY: {len(FIGURES)} fault points injected, {converged} converged on the next run")


# -- fixtures ----------------------------------------------------------------


def new_project(base: Path, name: str = "hello") -> Path:
    """A copy of examples/hello as a git repository, ``hoist init`` done and committed."""
    path = base / name
    shutil.copytree(EXAMPLE, path, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "_version.py"))
    init_repository(path)
    result = run_hoist(path, "init")
    assert result.returncode == 0, result.output
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "Package with hoist")
    return path


def commit_change(project: Path, subject: str = "Second change") -> str:
    (project / "CHANGES").write_text(subject + "\n")
    git(project, "add", "CHANGES")
    git(project, "commit", "--quiet", "-m", subject)
    return git(project, "rev-parse", "HEAD")


@pytest.fixture
def short_tmp():
    """A TMPDIR of the test's own, to look into afterwards, with a short path: with a
    deep one the .deb build breaks (see test_deep_build_directory)."""
    path = Path(tempfile.mkdtemp(prefix="ht-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def targets(tmp_path: Path, short_tmp: Path):
    """Configured targets for one test; hoist's TMPDIR is the test's own."""
    with running_targets(tmp_path) as t:
        t.extra_env["TMPDIR"] = str(short_tmp)
        yield t


@pytest.fixture
def project(example_project, targets: Targets) -> Path:
    return targets.configure(example_project())


@pytest.fixture(scope="module")
def clean_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict]:
    """The published state after one, then two, releases that nothing disturbed."""
    base = tmp_path_factory.mktemp("reference")
    with running_targets(base) as targets:
        project = targets.configure(new_project(base))
        states = {}
        for n in (1, 2):
            if n == 2:
                commit_change(project)
            run = run_watched(project, "release", env=targets.env())
            assert run.returncode == 0, run.output
            states[n] = published_state(targets, project)
            assert states[n]["manifest"]["targets"] == {"git": "published", "pypi": "published", "apt": "published"}
            assert not states[n]["git"]["orphan tags"]
            assert states[n]["apt signed"] and states[n]["apt Release matches Packages"]
        assert len(states[2]["index"]) == 4 and len(states[2]["apt"]) == 2
        return states


def hoist_traceback(output: str) -> bool:
    """hoist itself crashed (a traceback that is not a quoted command's output, which is indented)."""
    return re.search(r"(?m)^Traceback", output) is not None


def release(project: Path, targets: Targets, *args: str, **kwargs):
    kwargs.setdefault("env", targets.env())
    return run_watched(project, "release", *args, **kwargs)


def version_of(output: str) -> str:
    match = re.search(r"released hoist-hello (\d+\.\d+\.\d+)", output)
    assert match, output
    return match.group(1)


def planned_version(project: Path, targets: Targets) -> str:
    run = run_watched(project, "plan", env=targets.env())
    assert run.returncode == 0, run.output
    return re.search(r"^(?:release|resume) hoist-hello (\S+) \(tag", run.output, re.MULTILINE).group(1)


def assert_nothing_published(targets: Targets, *, tags: dict[str, str] | None = None) -> None:
    """No release reached any target (git holds only *tags*, if given)."""
    assert targets.remote_tags() == (tags or {})
    assert targets.index_files() == {}
    assert targets.published_versions() == {}


def assert_converges(project: Path, targets: Targets, reference: dict, *, run_again: bool = True) -> dict:
    """The published state equals a clean run's, and one more run has nothing to do."""
    state = published_state(targets, project)
    assert state == reference
    if run_again:
        again = release(project, targets)
        assert again.returncode == 0, again.output
        assert "nothing to do" in again.output and "every target holds it" in again.output, again.output
        assert published_state(targets, project) == reference
    return state


def no_publication_before_the_tag(targets: Targets) -> None:
    """The claim order: nothing is on the index or the apt repository unless its tag is on the remote."""
    tags = targets.remote_tags()
    versions = {t.removeprefix("v") for t in tags}
    for name in targets.index_files():
        assert any(f"-{v}" in name for v in versions), f"{name} is on the index, but the remote has tags {sorted(tags)}"
    for version in targets.published_versions():
        assert version in versions, f"{version} is in the apt repository, but the remote has tags {sorted(tags)}"


def apt_client_files(targets: Targets) -> dict[str, str]:
    """The published index files apt reads by name (Release, InRelease, Packages...), {path: sha256}:
    every file under dists/ except aptly's by-hash copies and its temporary files."""
    return {p: s for p, s in targets.dists_snapshot().items() if "/by-hash/" not in f"/{p}" and ".tmp" not in p}


def apt_leftovers(targets: Targets) -> list[str]:
    return sorted(p for p in targets.dists_snapshot() if ".tmp" in p)


# -- 1. ten concurrent releases ------------------------------------------------


def test_ten_concurrent_releases(targets: Targets, example_project, tmp_path: Path, clean_reference) -> None:
    origin = targets.configure(example_project())
    git(origin, "push", "--quiet", str(targets.remote), "master")
    clones = []
    for i in range(10):
        clone = tmp_path / f"clone{i}"
        git(tmp_path, "clone", "--quiet", str(targets.remote), str(clone))
        git(clone, "config", "user.name", f"CI worker {i}")
        git(clone, "config", "user.email", f"ci{i}@hoist.invalid")
        clones.append(clone)
    barrier = threading.Barrier(len(clones))
    runs: list = [None] * len(clones)

    def go(i: int) -> None:
        barrier.wait()
        runs[i] = release(clones[i], targets, timeout=1500)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(clones))]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start

    outcomes: dict[str, list[int]] = {}
    released: dict[str, int] = {}
    for i, run in enumerate(runs):
        lost_push = "push rejected (" in run.output
        if run.returncode == 0 and "released hoist-hello" in run.output:
            kind = "released " + version_of(run.output) + (" after losing a push" if lost_push else "")
            assert version_of(run.output) not in released, f"two runs released {version_of(run.output)}"
            released[version_of(run.output)] = i
        elif run.returncode == 0 and "nothing to do" in run.output and "released by another run" in run.output:
            kind = "nothing to do (released by another run)" + (" after losing the push" if lost_push else " at preflight")
        elif run.returncode == 8 and "push" in run.output:
            kind = "push rejected error"
        else:
            kind = f"UNEXPECTED exit {run.returncode}"
        outcomes.setdefault(kind, []).append(i)
    summary = "; ".join(f"{len(v)} {k}" for k, v in sorted(outcomes.items()))
    print(f"\nCONCURRENT: {len(runs)} runs in {elapsed:.0f} s: {summary}")
    unexpected = {k: v for k, v in outcomes.items() if k.startswith("UNEXPECTED")}
    assert not unexpected, "\n\n".join(runs[i].output for v in unexpected.values() for i in v)
    assert released, "no run released anything"

    # Every tag on the remote is on master and complete on every target; no file and no version twice.
    tags = targets.remote_tags()
    assert sorted(tags) == sorted(f"v{v}" for v in released)
    for tag, commit in tags.items():
        assert targets.on_master(commit), f"orphan tag {tag}"
    files = targets.index_files()
    assert len(files) == 2 * len(released)
    apt = targets.published_versions()
    assert sorted(apt) == sorted(released)
    for version, i in released.items():
        dist = clones[i] / "dist"
        for name in (f"hoist_hello-{version}.tar.gz", f"hoist_hello-{version}-py3-none-any.whl"):
            assert files[name] == sha256(dist / name)
        assert apt[version]["SHA256"] == sha256(dist / f"{PACKAGE}_{version}_{apt[version]['Architecture']}.deb")
    for i, clone in enumerate(clones):  # every loser is back where it was: no local release commit or tag of its own
        if i not in released.values():
            assert git(clone, "rev-parse", "HEAD") == git(origin, "rev-parse", "HEAD")
            assert all(t in tags for t in git(clone, "tag", "--list").split())

    # A second run anywhere converges: the winner has nothing to do, a loser was released by another run.
    winner = clones[next(iter(released.values()))]
    assert_converges(winner, targets, clean_reference[1])
    loser = next((c for i, c in enumerate(clones) if i not in released.values()), None)
    if loser is not None:
        again = release(loser, targets)
        assert again.returncode == 0 and "released by another run" in again.output, again.output
    record("concurrency", f"{len(runs)} simultaneous releases", summary, published_state(targets, winner) == clean_reference[1])


def test_two_releases_racing_on_the_apt_publish(targets: Targets, project: Path, tmp_path: Path) -> None:
    """A stopped between its apt snapshot and its publish: B's publish waits for A's lock."""
    first = release(project, targets)
    assert first.returncode == 0, first.output
    commit_change(project, "Change released by A")
    stopped, b_waits = threading.Event(), threading.Event()
    results: dict = {}

    def stop_before_publish(line: str, control: Control) -> None:
        # Shown before it runs: A stops once aptly takes its snapshot, and before its switch.
        if re.search(r"^\+ aptly .* snapshot create", line) and not stopped.is_set():
            os.kill(control.proc.pid, signal.SIGSTOP)  # hoist only: the aptly child finishes and unlocks the DB
            results["a control"] = control
            stopped.set()

    def at_apt_step(line: str, control: Control) -> None:
        # The handshake: B says that it waits for another release's publish lock.
        if "waiting for another release's apt publish" in line:
            b_waits.set()

    b_clone = tmp_path / "b"
    a = threading.Thread(target=lambda: results.setdefault(
        "a", run_watched(project, "-v", "release", env=targets.env(), watch=stop_before_publish)))
    b = threading.Thread(target=lambda: results.setdefault("b", release(b_clone, targets, watch=at_apt_step)))
    a.start()
    try:
        assert stopped.wait(300), "A never reached its publish"
        git(tmp_path, "clone", "--quiet", str(targets.remote), str(b_clone))  # holds A's release commit
        commit_change(b_clone, "Change released by B")
        b.start()
        while not b_waits.wait(1):
            assert "b" not in results, f"B ended without waiting for A's publish lock:\n{results['b'].output}"
        during = sorted(targets.published_versions())
    finally:
        if "a control" in results:
            os.kill(results["a control"].proc.pid, signal.SIGCONT)
        a.join()
        if b.is_alive() or "b" in results:
            b.join()
    a_run, b_run = results["a"], results["b"]
    assert a_run.returncode == 0, a_run.output
    assert b_run.returncode == 0, b_run.output
    a_version, b_version = version_of(a_run.output), version_of(b_run.output)
    published = sorted(targets.published_versions())
    record("concurrency", "A stopped between its apt snapshot and publish while B released the next version",
           f"B waited for A's publish lock; A {a_version} and B {b_version} exit 0; apt publishes {published}",
           {a_version, b_version} <= set(published))
    assert a_version not in during and b_version not in during
    assert {a_version, b_version} <= set(published), published
    assert targets.signature_ok() and targets.release_lists_packages()


def test_resume_after_a_later_release_published(targets: Targets, project: Path, tmp_path: Path) -> None:
    """A killed between its apt snapshot and publish; B releases the next version; A resumes."""
    first = release(project, targets)
    assert first.returncode == 0, first.output
    commit_change(project, "Change released by A")
    killed = run_watched(project, "-v", "release", env=targets.env(), watch=kill_when(r"^\+ aptly .* snapshot create"))
    assert killed.killed_at, killed.output
    a_version = planned_version(project, targets)
    b_clone = tmp_path / "b"
    git(tmp_path, "clone", "--quiet", str(targets.remote), str(b_clone))
    commit_change(b_clone, "Change released by B")
    b = release(b_clone, targets)
    assert b.returncode == 0, b.output
    b_version = version_of(b.output)
    resumed = release(project, targets)
    published = sorted(targets.published_versions())
    record("concurrency", "A killed after its apt snapshot, B released the next version, A resumed",
           f"A {a_version} resumed exit {resumed.returncode}; apt publishes {published}",
           {a_version, b_version} <= set(published))
    assert resumed.returncode == 0, resumed.output
    assert {version_of(first.output), a_version, b_version} <= set(published), published
    assert targets.signature_ok() and targets.release_lists_packages()


# -- 2. master moves on the remote between plan and push -----------------------


def test_master_moves_during_the_build(targets: Targets, project: Path, tmp_path: Path, clean_reference) -> None:
    git(project, "push", "--quiet", str(targets.remote), "master")
    base = git(project, "rev-parse", "HEAD")
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(targets.remote), str(other))
    pushed: list[str] = []

    def push_elsewhere(line: str, control: Control) -> None:
        if line.startswith("==> build .deb") and not pushed:
            pushed.append(commit_change(other, "Pushed by someone else while hoist was building"))
            git(other, "push", "--quiet", "origin", "master")

    run = release(project, targets, watch=push_elsewhere)
    assert pushed
    assert run.returncode == 3, run.output
    assert "push rejected (the remote refused the release push" in run.output
    assert "'master' on the remote" in run.output and "has commits that HEAD does not" in run.output
    assert "git pull --rebase" in run.output and not hoist_traceback(run.output)
    # Nothing published; the remote has the other commit; the local release commit and tag are gone.
    assert_nothing_published(targets)
    assert targets.remote_master() == pushed[0]
    assert git(project, "rev-parse", "HEAD") == base and git(project, "tag", "--list") == ""
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""

    git(project, "pull", "--quiet", "--rebase", str(targets.remote), "master")
    second = release(project, targets)
    assert second.returncode == 0, second.output
    converged = assert_converges(project, targets, clean_reference[1]) == clean_reference[1]
    record("git", "master moved during the .deb build", "push rejected, exit 3 'has commits that HEAD does not', nothing published", converged)


def test_push_refused_once_is_planned_again(targets: Targets, project: Path, clean_reference) -> None:
    hook = targets.remote / "hooks" / "pre-receive"
    hook.write_text('#!/bin/sh\nif [ ! -e refused-once ]; then : > refused-once; echo "not this time" >&2; exit 1; fi\n')
    hook.chmod(0o755)
    run = release(project, targets)
    assert run.returncode == 0, run.output
    assert run.output.count("push rejected (") == 1 and "fetching and planning again" in run.output
    assert run.output.count("==> build .deb") == 2
    # One release commit on master, one tag, no leftover of the refused attempt.
    assert git(project, "log", "--format=%s").splitlines().count(f"Release {version_of(run.output)}") == 1
    assert git(project, "tag", "--list").split() == [f"v{version_of(run.output)}"]
    converged = assert_converges(project, targets, clean_reference[1]) == clean_reference[1]
    record("git", "remote refused the release push once (pre-receive hook)", "planned again, released", converged)


# -- 3. a tag on the remote that the clone does not have ------------------------


def test_tag_on_the_remote_only_is_skipped(targets: Targets, project: Path, tmp_path: Path) -> None:
    month = planned_version(project, targets).rsplit(".", 1)[0]
    git(project, "push", "--quiet", str(targets.remote), "master")
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(targets.remote), str(other))
    git(other, "config", "user.name", "Other")
    git(other, "config", "user.email", "other@hoist.invalid")
    # v<month>.0 on an older commit of master, annotated; v<month>.2 lightweight, on a commit the clone never saw.
    git(other, "tag", "-a", f"v{month}.0", "-m", "by another run", "HEAD~1")
    git(other, "checkout", "--quiet", "-b", "side")
    commit_change(other, "Only on a side branch")
    git(other, "tag", f"v{month}.2")
    git(other, "push", "--quiet", "origin", f"v{month}.0", f"v{month}.2")
    before = targets.remote_tags()
    assert git(project, "tag", "--list") == ""

    run = release(project, targets)
    assert run.returncode == 0, run.output
    assert version_of(run.output) == f"{month}.3"
    tags = targets.remote_tags()
    assert {t: tags[t] for t in before} == before  # untouched
    assert tags[f"v{month}.3"] == targets.remote_master() == git(project, "rev-parse", "HEAD")
    assert sorted(targets.index_files()) == [f"hoist_hello-{month}.3-py3-none-any.whl", f"hoist_hello-{month}.3.tar.gz"]
    assert list(targets.published_versions()) == [f"{month}.3"]
    state = published_state(targets, project)
    assert state["manifest"]["targets"] == {"git": "published", "pypi": "published", "apt": "published"}
    again = release(project, targets)
    assert again.returncode == 0 and "every target holds it" in again.output, again.output
    record("git", "tags v.0 and v.2 on the remote only", f"released {month}.3", True)


# -- 4. the index drops the connection or answers 503 ---------------------------

INDEX_FAULTS = {
    # twine itself posts again, at once, after a 5xx (up to 5 times): hoist sees nothing of these
    "upload answered 503 twice (twine retries)": ([("503", "POST", "/", 2)], 0, "==> publish to the PyPI index"),
    # twine gives up after 5; hoist reads the index and uploads again after a back-off
    "upload answered 503 six times (hoist backs off)": ([("503", "POST", "/", 6)], 0, "upload failed (HTTP 503); retrying in 1 s"),
    "connection reset in the middle of an upload": ([("reset_mid_body", "POST", "/", 1)], 0, "upload failed (connection error); retrying"),
    "file stored but the answer lost": ([("drop_after_upstream", "POST", "/", 1)], 0, "upload failed (connection error); retrying"),
    "index read answered 503 three times": ([("503", "GET", "/simple/", 3)], 0, "==> publish to the PyPI index"),
    "index down: every upload answered 503": ([("503", "POST", "/", 1000)], 6, "kept failing after 5 attempts"),
}

#: The environment of a case's first release, beyond the targets'.  "index down" waits
#: through every back-off (1 + 2 + 4 + 8 s): it is shortened, the attempts are not
#: ("upload answered 503 six times" checks the default back-off).
INDEX_FAULT_ENV = {"index down: every upload answered 503": {"HOIST_PYPI_UPLOAD_BACKOFF": "0.1"}}


@pytest.mark.parametrize("fault", list(INDEX_FAULTS))
def test_index_faults(fault: str, targets: Targets, project: Path, clean_reference) -> None:
    rules, expected_exit, message = INDEX_FAULTS[fault]
    for action, method, prefix, count in rules:
        targets.proxy.add(action, method=method, path_prefix=prefix, count=count)
    run = release(project, targets, env=targets.env(**INDEX_FAULT_ENV.get(fault, {})))
    assert run.returncode == expected_exit, run.output
    assert message in run.output
    assert not hoist_traceback(run.output)
    applied = targets.proxy.applied()
    assert applied, "the fault was never hit"
    no_publication_before_the_tag(targets)
    if expected_exit:
        assert "run hoist release again later" in run.output
        assert targets.index_files() == {} and targets.published_versions() == {}
        assert list(targets.remote_tags()) == [f"v{planned_version(project, targets)}"]
    targets.proxy.clear()
    if expected_exit:
        second = release(project, targets)
        assert second.returncode == 0, second.output
    # Each file on the index once, with the sha256 of the build.
    uploads = [e.filename for e in targets.proxy.uploads() if e.status == 200]
    assert sorted(uploads) == sorted(targets.index_files()), targets.proxy.log
    converged = assert_converges(project, targets, clean_reference[1]) == clean_reference[1]
    record("index", f"{fault} ({len(applied)} faults)", f"exit {expected_exit}" + (", retried" if not expected_exit else ", then a second run"), converged)


# -- 5. the index has the sdist already -----------------------------------------


def test_index_has_the_same_sdist(targets: Targets, project: Path, clean_reference) -> None:
    killed = release(project, targets, watch=kill_when(r"^==> publish to the PyPI index"))
    assert killed.killed_at
    version = version_from_tags(targets)
    sdist = project / "dist" / f"hoist_hello-{version}.tar.gz"
    # Someone (another run) uploaded the very same sdist meanwhile, straight to the index.
    upload = subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", f"http://127.0.0.1:{targets.pypiserver_port}/", "-u", "x", "-p", "x", str(sdist)],
        capture_output=True, text=True, check=False,
    )
    assert upload.returncode == 0, upload.stdout + upload.stderr
    mark = targets.proxy.mark()
    run = release(project, targets)
    assert run.returncode == 0, run.output
    # Only the wheel went up: the sdist there has the same sha256 as this build's (a resume rebuilds it byte for byte).
    assert [e.filename for e in targets.proxy.uploads(mark)] == [f"hoist_hello-{version}-py3-none-any.whl"]
    assert targets.index_files()[sdist.name] == sha256(sdist)
    converged = assert_converges(project, targets, clean_reference[1]) == clean_reference[1]
    record("index", "the index holds the same sdist already", "skipped it, uploaded the wheel only", converged)


def version_from_tags(targets: Targets) -> str:
    (tag,) = targets.remote_tags()
    return tag.removeprefix("v")


def test_index_has_a_different_sdist(targets: Targets, project: Path) -> None:
    version = planned_version(project, targets)
    foreign = targets.packages / f"hoist_hello-{version}.tar.gz"
    foreign.write_bytes(b"not the sdist hoist builds\n")
    theirs = sha256(foreign)
    run = release(project, targets)
    assert run.returncode == 7, run.output
    ours = sha256(project / "dist" / foreign.name)
    assert f"the index already has {foreign.name} with sha256 {theirs}, but this build's is {ours}" in run.output
    assert "never overwritten" in run.output
    # Nothing overwritten, nothing else uploaded, nothing in the apt repository.
    assert targets.index_files() == {foreign.name: theirs}
    assert targets.proxy.uploads() == []
    assert targets.published_versions() == {}
    # Found before the push: no version is claimed, and the local release commit and tag are undone.
    assert targets.remote_tags() == {}
    assert f"the local release commit and tag v{version} were undone" in run.output
    assert git(project, "tag", "--list", f"v{version}") == ""
    assert "Hoist-Release" not in git(project, "log", "-1", "--format=%B")
    again = release(project, targets)
    # (a new release commit, so another sdist: its date is the commit's)
    assert again.returncode == 7 and f"{foreign.name} with sha256 {theirs}" in again.output, again.output
    assert targets.index_files() == {foreign.name: theirs} and targets.published_versions() == {}
    assert targets.remote_tags() == {}
    record("index", "the index holds a different sdist",
           "exit 7 before the push naming both sha256; nothing pushed or overwritten (does not converge by design)", False)


# -- 6. SIGKILL after each step --------------------------------------------------

def _unsigned_release(targets: Targets) -> bool:
    return (targets.dists() / "Release").exists() and not (targets.dists() / "InRelease").exists()


def _indexes_being_written(targets: Targets) -> bool:
    base = targets.publish / "dists"
    return base.exists() and any(".tmp" in p.name for p in base.rglob("*"))


KILL_POINTS = {
    # id: (line at which the run is killed, or a special point; releases made before)
    "after the tag": (r"^==> build sdist and wheel", 0),
    "after the .deb build": (r"^==> verify artifacts", 0),
    "after the push": (r"^==> publish to the PyPI index", 0),
    "mid upload (first file stored)": ("<proxy>", 0),
    "after the index upload": (r"^==> publish to the apt repository", 0),
    "apt: after repo add": (r"^\+ aptly .* snapshot create ", 0),
    "apt: publish snapshot started": (r"^\+ aptly .* publish snapshot ", 0),
    "apt: first publish, Release written, not signed yet": ("<unsigned>", 0),
    "apt: publish switch writing the new indexes": ("<switch-tmp>", 1),
    "before confirm": (r"^==> confirm and write the manifest", 0),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_run_again(point: str, targets: Targets, project: Path, clean_reference) -> None:
    pattern, before = KILL_POINTS[point]
    for _ in range(before):
        first = release(project, targets)
        assert first.returncode == 0, first.output
    if before:
        commit_change(project)
    if pattern == "<proxy>":
        targets.proxy.add("hook_after_upstream", method="POST", count=1)
        controls: list[Control] = []
        targets.proxy.hook = lambda entry: controls[0].kill(f"proxy: {entry.filename} stored")
        killed = release(project, targets, on_start=controls.append)
    elif pattern == "<unsigned>":
        killed = release(project, targets, watch=kill_when_file(r"^\+ aptly .* publish snapshot ", lambda: _unsigned_release(targets)))
    elif pattern == "<switch-tmp>":
        killed = release(project, targets, watch=kill_when_file(r"^\+ aptly .* publish switch ", lambda: _indexes_being_written(targets)))
    else:
        killed = release(project, targets, watch=kill_when(pattern))
    assert killed.killed_at, f"never reached {pattern}:\n{killed.output}"
    assert killed.returncode == -9
    no_publication_before_the_tag(targets)
    left = {
        "git": len(targets.remote_tags()) - before,
        "index": len(targets.index_files()) - 2 * before,
        "apt": len(targets.published_versions()) - before,
    }
    tmp_left = sorted(p.name.rsplit("-", 1)[0] for p in Path(targets.extra_env["TMPDIR"]).iterdir())

    run = release(project, targets)
    state = published_state(targets, project)
    converged = run.returncode == 0 and state == clean_reference[1 + before]
    record("sigkill", point, f"left {left}; TMPDIR leftovers {tmp_left}; second run exit {run.returncode}", converged)
    expect(run.returncode == 0, run.output)
    expect(state == clean_reference[1 + before], f"{state}\n!=\n{clean_reference[1 + before]}")
    assert_converges(project, targets, clean_reference[1 + before])


# -- 7. the signing key missing, or its passphrase wrong --------------------------


class HiddenKeys:
    """Moves the signing key's secret part out of the GnuPG home, and back."""

    def __init__(self, targets: Targets) -> None:
        self.keys = targets.gnupghome / "private-keys-v1.d"
        self.hidden = targets.root / "hidden-keys"
        self.gnupghome = targets.gnupghome

    def hide(self) -> None:
        shutil.move(self.keys, self.hidden)
        self.keys.mkdir(mode=0o700)
        subprocess.run(["gpgconf", "--homedir", str(self.gnupghome), "--kill", "gpg-agent"], check=True)

    def restore(self) -> None:
        shutil.rmtree(self.keys)
        shutil.move(self.hidden, self.keys)


def hide_keys_at_the_apt_step(keys: HiddenKeys):
    """A watch that hides the key once the run reaches its apt step (after the preflight signing check)."""
    def watch(line: str, control: Control) -> None:
        if line.startswith("==> publish to the apt repository"):
            os.kill(control.proc.pid, signal.SIGSTOP)
            try:
                keys.hide()
            finally:
                os.kill(control.proc.pid, signal.SIGCONT)
    return watch


def test_signing_failures_leave_the_apt_indexes_unchanged(targets: Targets, project: Path, clean_reference) -> None:
    first = release(project, targets)
    assert first.returncode == 0, first.output
    commit_change(project)
    published = apt_client_files(targets)
    inrelease = (targets.dists() / "InRelease").read_bytes()
    tags = targets.remote_tags()
    keys = HiddenKeys(targets)

    # Found before anything changes: the key is tried in the preflight checks.
    faults = [
        ("wrong passphrase", {"HOIST_GPG_PASSPHRASE": "not the passphrase"}, None),
        ("no passphrase", {"HOIST_GPG_PASSPHRASE": ""}, None),
        ("secret key missing from the GnuPG home", {}, keys.hide),
    ]
    for name, env, setup in faults:
        if setup:
            setup()
        run = release(project, targets, env=targets.env(**env), timeout=300)
        assert run.returncode == 3, run.output
        assert f"cannot sign the apt repository with the key {targets.fingerprint}" in run.output
        assert "nothing was changed" in run.output and not hoist_traceback(run.output)
        assert targets.remote_tags() == tags, f"{name}: a tag was pushed"
        assert apt_client_files(targets) == published, f"{name}: the published indexes changed"
        assert (targets.dists() / "InRelease").read_bytes() == inrelease
        record("gpg", name, "exit 3 before the tag, naming the key; nothing pushed or published", True)
    keys.restore()

    # Lost after the check, while aptly signs the publish switch: aptly's failure, indexes unchanged.
    run = release(project, targets, watch=hide_keys_at_the_apt_step(keys), timeout=300)
    assert run.returncode == 6, run.output
    assert f"could not sign the repository with the key {targets.fingerprint}" in run.output
    assert "the published repository is unchanged" in run.output and not hoist_traceback(run.output)
    assert apt_client_files(targets) == published, "the published indexes changed"
    assert (targets.dists() / "InRelease").read_bytes() == inrelease
    assert list(targets.published_versions()) == [version_of(first.output)]
    assert targets.signature_ok()
    keys.restore()
    run = release(project, targets)
    assert run.returncode == 0, run.output
    assert apt_client_files(targets) != published
    converged = assert_converges(project, targets, clean_reference[2]) == clean_reference[2]
    record("gpg", "secret key lost during the publish switch",
           f"exit 6 naming the key; indexes unchanged; leftovers {len(apt_leftovers(targets))} *.tmp files; next run finished",
           converged)


def test_signing_failure_on_the_first_publish(targets: Targets, project: Path, clean_reference) -> None:
    keys = HiddenKeys(targets)
    run = release(project, targets, watch=hide_keys_at_the_apt_step(keys), timeout=300)
    keys.restore()
    assert run.returncode == 6, run.output
    assert f"could not sign the repository with the key {targets.fingerprint}" in run.output
    left = sorted(apt_client_files(targets))
    status = run_watched(project, "status", env=targets.env())
    assert re.search(r"apt\W+missing", status.output), status.output  # an unsigned index is not a publication
    second = release(project, targets)
    state = published_state(targets, project)
    converged = second.returncode == 0 and state == clean_reference[1]
    record("gpg", "secret key lost during the first publish",
           f"left {len(left)} unsigned files in dists/; `hoist status` says apt missing; second run exit "
           f"{second.returncode}; signed {state['apt signed']}", converged)
    assert second.returncode == 0, second.output
    assert "apt would refuse it" in second.output
    assert state == clean_reference[1], f"{state}\n!=\n{clean_reference[1]}"


# -- 8. the apt repository locked by another aptly process ----------------------


def test_aptly_database_locked(targets: Targets, project: Path, clean_reference) -> None:
    lock = targets.aptly_root / "db" / "LOCK"

    # Found by the checks before anything changes: the apt repository's publication is read through aptly.
    with hold_lock(lock):
        run = release(project, targets, env=targets.env(HOIST_APTLY_DB_OPEN_ATTEMPTS="1"))
    assert run.returncode == 6, run.output
    assert "is locked by another aptly process (gave up after 1 attempts to open it)" in run.output
    assert "run hoist release again" in run.output and not hoist_traceback(run.output)
    assert run.seconds < 60, f"waited {run.seconds:.0f} s on the lock"
    assert targets.published_versions() == {} and targets.remote_tags() == {}
    no_publication_before_the_tag(targets)
    second = release(project, targets)
    assert second.returncode == 0, second.output
    converged = assert_converges(project, targets, clean_reference[1]) == clean_reference[1]
    record("apt", "aptly database locked (HOIST_APTLY_DB_OPEN_ATTEMPTS=1)", f"exit 6 before the tag, {run.seconds:.0f} s",
           converged)

    # A lock released while hoist waits for it: the release goes through in one run.
    commit_change(project)
    with hold_lock(lock) as holder:
        # Freed 3 s into the release, while aptly waits for its database at the checks.
        timer = threading.Timer(3, release_lock, args=(holder,))
        timer.start()
        run = release(project, targets, env=targets.env(HOIST_APTLY_DB_OPEN_ATTEMPTS="3"))
        timer.join()
    assert run.returncode == 0, run.output
    converged = assert_converges(project, targets, clean_reference[2]) == clean_reference[2]
    record("apt", "aptly database locked for 3 s (3 open attempts)", "waited, then released", converged)


# -- 9. secrets never appear ------------------------------------------------------

PYPI_CANARY = "pypi-CANARY-7f3a9c1e5b2d4806"
GPG_CANARY = "gpg-CANARY-41d8e2b7a9c6"
WRONG_CANARY = "gpg-WRONG-CANARY-93b1f0"


def test_secrets_never_appear(example_project, tmp_path: Path, short_tmp: Path) -> None:
    tmp = short_tmp
    with running_targets(tmp_path, passphrase=GPG_CANARY) as targets:
        targets.pypi_password = PYPI_CANARY
        targets.extra_env["TMPDIR"] = str(tmp)
        project = targets.configure(example_project())
        outputs = []

        # a. the index answers 503, then refuses the credentials (401): fails at the upload.
        targets.proxy.add("503", count=1)
        targets.proxy.add("401", count=1)
        run = run_watched(project, "-v", "release", env=targets.env())
        outputs.append(run.output)
        assert run.returncode == 6 and "the index refused the upload" in run.output, run.output
        assert "HOIST_PYPI_USERNAME" in run.output  # the advice for a 401

        # b. the aptly database is locked: fails at the apt step (at once: no retry).
        with hold_lock(targets.aptly_root / "db" / "LOCK"):
            run = run_watched(project, "-v", "release", env=targets.env(HOIST_APTLY_DB_OPEN_ATTEMPTS="0"))
        outputs.append(run.output)
        assert run.returncode == 6 and "locked by another aptly process" in run.output, run.output

        # c. it finishes (the first publish).
        run = run_watched(project, "-v", "release", env=targets.env())
        outputs.append(run.output)
        assert run.returncode == 0, run.output

        # d. the next release, with a wrong passphrase: fails at signing (publish switch).
        commit_change(project)
        run = run_watched(project, "-v", "release", env=targets.env(HOIST_GPG_PASSPHRASE=WRONG_CANARY))
        outputs.append(run.output)
        assert run.returncode == 3 and "cannot sign the apt repository" in run.output, run.output

        # e. killed in the middle of the signed publish switch.
        run = run_watched(project, "-v", "release", env=targets.env(),
                          watch=kill_when_file(r"^\+ aptly .* publish switch ", lambda: _indexes_being_written(targets)))
        outputs.append(run.output)
        assert run.killed_at, run.output

        # f. it finishes; status reads every target.
        run = run_watched(project, "-v", "release", env=targets.env())
        outputs.append(run.output)
        assert run.returncode == 0, run.output
        status = run_watched(project, "-v", "status", env=targets.env())
        outputs.append(status.output)
        assert status.returncode == 0, status.output

        canaries = [PYPI_CANARY, GPG_CANARY, WRONG_CANARY]
        in_output = [c for c in canaries if any(c in out for out in outputs)]
        places = [project, targets.root, targets.gnupghome]
        in_files = scan_for(canaries, places)
        in_tmp = scan_for(canaries, [tmp])
        record("secrets", "7 runs (-v): 503+401 at upload, aptly locked, success, wrong passphrase, SIGKILL mid publish, success, status",
               f"canary in output: {in_output or 'no'}; in project/targets/gnupghome: {in_files or 'no'}; in TMPDIR: {in_tmp or 'no'}",
               True)  # every run after a fault finished the release (f)
        assert not in_output
        assert not in_files
        expect(not in_tmp, f"a secret was left behind in TMPDIR: {in_tmp}")


# -- 10. disk full during the .deb build ------------------------------------------


def test_disk_full_during_the_deb_build(targets: Targets, project: Path, short_tmp: Path, clean_reference) -> None:
    mount = short_tmp / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200m", "tmpfs", str(mount)], check=True)
    try:
        filler = mount / "filler"

        def fill_disk(line: str, control: Control) -> None:
            if line.startswith("==> build .deb") and not filler.exists():
                group = os.getpgid(control.proc.pid)
                os.killpg(group, signal.SIGSTOP)  # the build waits until the disk is full
                try:
                    stat = os.statvfs(mount)
                    free = stat.f_bavail * stat.f_frsize
                    with filler.open("wb") as handle:
                        handle.truncate(0)
                        block = b"\0" * (1 << 20)
                        for _ in range(max(0, free - (512 << 10)) // len(block)):
                            handle.write(block)
                finally:
                    os.killpg(group, signal.SIGCONT)

        run = release(project, targets, env=targets.env(TMPDIR=str(mount)), watch=fill_disk)
        assert filler.exists()
        assert run.returncode != 0, run.output
        assert "out of disk space" in run.output, run.output
        assert not hoist_traceback(run.output)
        tail = run.output[run.output.index("==> build .deb"):]
        assert "==> push to git" not in tail
        assert_nothing_published(targets)
        assert not [p for p in mount.iterdir() if p != filler], "the build directory was left on the full disk"
        filler.unlink()
        second = release(project, targets, env=targets.env(TMPDIR=str(mount)))
        assert second.returncode == 0, second.output
        converged = assert_converges(project, targets, clean_reference[1]) == clean_reference[1]
        record("disk", "tmpfs TMPDIR filled during the .deb build", f"exit {run.returncode} 'out of disk space', nothing published", converged)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# -- the apt URL as a plain path ---------------------------------------------------


def test_apt_url_as_a_plain_path(example_project, tmp_path: Path) -> None:
    with running_targets(tmp_path) as targets:
        targets.apt_url = str(targets.publish)
        project = targets.configure(example_project())
        run = release(project, targets)
        expect(run.returncode == 0, run.output)
        assert published_state(targets, project)["manifest"]["targets"]["apt"] == "published"


def test_deep_build_directory(targets: Targets, project: Path, short_tmp: Path) -> None:
    """A build path whose <venv>/bin/python does not fit in a shebang (uv then writes
    /bin/sh launchers) releases, and gives the same bytes as a shallow one."""
    deep = short_tmp / ("a-rather-deep-temporary-directory-as-ci-runners-have-" * 2).rstrip("-")
    deep.mkdir()
    run = release(project, targets, env=targets.env(TMPDIR=str(deep)))
    expect(run.returncode == 0, run.output)
    state = published_state(targets, project)
    assert state["manifest"]["targets"]["apt"] == "published"
    rebuilt = run_watched(project, "rebuild", version_of(run.output), env=targets.env())  # in short_tmp
    assert rebuilt.returncode == 0, rebuilt.output
    assert "reproducible: every artifact is byte-identical" in rebuilt.output


def test_resume_after_a_commit_dated_ahead(targets: Targets, example_project) -> None:
    project = example_project()
    changelog = project / "debian" / "changelog"
    ahead = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30))
    changelog.write_text(re.sub(r"(?m)^( -- .*>  ).*$", lambda m: m.group(1) + ahead, changelog.read_text(), count=1))
    git(project, "commit", "--quiet", "-am", "Changelog entry dated 30 s ahead (a clock behind the committer's)")
    targets.configure(project)
    killed = release(project, targets, watch=kill_when(r"^==> publish to the apt repository"))
    assert killed.killed_at and len(targets.index_files()) == 2
    run = release(project, targets)
    record("sigkill", "after the index upload, release commit dated 30 s ahead", f"second run exit {run.returncode}"
           + (" (the index has another sdist)" if "the index already has" in run.output else ""), run.returncode == 0)
    expect(run.returncode == 0, run.output)
    assert published_state(targets, project)["manifest"]["targets"]["apt"] == "published"
