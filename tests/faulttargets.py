"""Test helper: real, configured release targets with room for faults between.

:func:`running_targets` starts, for one test:

- a bare git repository, the git remote (``[tool.hoist.git] remote``);
- a real pypiserver on 127.0.0.1 and, in front of it, a
  :class:`faultproxy.FaultProxy` that hoist talks to (``[tool.hoist.pypi]``);
- an aptly root with a filesystem publish endpoint ``test`` (linkMethod
  copy), and a gpg signing key with a passphrase in a GnuPG home of a short
  path (gpg-agent's socket must fit in ``sun_path``), with passphrase caching
  off so that every signature asks for the passphrase (``[tool.hoist.apt]``).

It reads the targets back the way a user would (``git ls-remote``, the files
in pypiserver's directory, the published ``Packages`` and ``InRelease``), and
:func:`run_watched` runs the real CLI while watching its output, to act (kill
it, push a commit, fill the disk) when a given line appears.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from debian.deb822 import Packages

from conftest import git
from faultproxy import FaultProxy
from hoist import changelog
from hoist.config import host_codename
from hoist.targets.local import serve_index

PACKAGE = "hoist-hello"
PROJECT = "hoist-hello"
DISTRIBUTION = host_codename()  # what hoist publishes to by default
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def gpg(home: Path, *args: str, passphrase: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = ["gpg", "--batch", "--homedir", str(home)]
    if passphrase is not None:
        argv += ["--pinentry-mode", "loopback", "--passphrase", passphrase]
    proc = subprocess.run([*argv, *args], capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, f"gpg {args} failed:\n{proc.stdout}{proc.stderr}"
    return proc


@dataclass
class Targets:
    """The configured targets of one test, and readers for their state."""

    root: Path
    remote: Path
    packages: Path
    pypiserver_port: int
    proxy: FaultProxy
    aptly_root: Path
    aptly_config: Path
    publish: Path
    gnupghome: Path
    fingerprint: str
    public_key: Path
    passphrase: str
    pypi_password: str = "not-a-real-token"
    apt_url: str = ""  # default: the publish directory's file:// URL
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.apt_url = self.apt_url or self.publish.as_uri()

    # -- configuration ---------------------------------------------------

    def toml(self) -> str:
        return (
            "\n[tool.hoist.git]\n"
            f'remote = "{self.remote}"\n'
            "\n[tool.hoist.pypi]\n"
            f'upload_url = "{self.proxy.url}/"\n'
            f'index_url = "{self.proxy.url}/simple/"\n'
            "\n[tool.hoist.apt]\n"
            f'aptly_config = "{self.aptly_config}"\n'
            f'repo = "{PACKAGE}"\n'
            'endpoint = "filesystem:test:."\n'
            f'url = "{self.apt_url}"\n'
            f'gpg_key = "{self.fingerprint}"\n'
            f'public_key = "{self.public_key}"\n'
            f'gnupghome = "{self.gnupghome}"\n'
        )

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a release: the secrets, and no local-target state of the user's."""
        return {
            "HOIST_PYPI_USERNAME": "uploader",
            "HOIST_PYPI_PASSWORD": self.pypi_password,
            "HOIST_GPG_PASSPHRASE": self.passphrase,
            "HOIST_HOME": str(self.root / "hoist-home"),
            **self.extra_env,
            **overrides,
        }

    def configure(self, project: Path) -> Path:
        """Point *project* (a git repository, ``hoist init`` done) at these targets; commit."""
        path = project / "pyproject.toml"
        path.write_text(path.read_text() + self.toml())
        git(project, "add", "pyproject.toml")
        git(project, "commit", "--quiet", "-m", "Publish to the test targets")
        # hoist dates a release one second after the newest changelog entry when both fall in
        # the same second (here: hoist init's entry), i.e. ahead of the clock; the sdist then
        # depends on when it is built (test_resume_after_a_commit_dated_ahead).  Keep the
        # other cases clear of that: wait until the clock is past the entry's second (at
        # most the 1.1 s this used to wait whatever the clock said).
        newest = changelog.newest_date(project / "debian" / "changelog")
        if newest is not None:
            time.sleep(min(1.1, max(0.0, newest.timestamp() + 1 - time.time())))
        return project

    # -- reading the targets back ------------------------------------------

    def remote_refs(self) -> dict[str, str]:
        """``git ls-remote`` of the remote: {ref: commit}, annotated tags peeled."""
        out = subprocess.run(["git", "ls-remote", str(self.remote)], capture_output=True, text=True, check=True).stdout
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, ref = line.split("\t")
            if ref.endswith("^{}"):
                refs[ref[:-3]] = sha
            else:
                refs.setdefault(ref, sha)
        return refs

    def remote_tags(self) -> dict[str, str]:
        return {r.removeprefix("refs/tags/"): s for r, s in self.remote_refs().items() if r.startswith("refs/tags/")}

    def remote_master(self) -> str | None:
        return self.remote_refs().get("refs/heads/master")

    def on_master(self, commit: str) -> bool:
        master = self.remote_master()
        if master is None:
            return False
        return subprocess.run(["git", "merge-base", "--is-ancestor", commit, master], cwd=self.remote, check=False).returncode == 0

    def index_files(self) -> dict[str, str]:
        """The files pypiserver holds, {name: sha256}, read from its directory."""
        return {p.name: sha256(p) for p in sorted(self.packages.rglob("*")) if p.is_file()}

    def dists(self) -> Path:
        return self.publish / "dists" / DISTRIBUTION

    def packages_entries(self) -> list[dict[str, str]]:
        """The published Packages index of <distribution>/main, as dicts."""
        path = self.dists() / "main" / f"binary-{ARCH}" / "Packages"
        if not path.exists():
            return []
        with path.open() as handle:
            return [dict(p) for p in Packages.iter_paragraphs(handle, use_apt_pkg=False)]

    def dists_snapshot(self) -> dict[str, str]:
        """{relative path: sha256} of every file under dists/ (the published indexes)."""
        base = self.publish / "dists"
        if not base.exists():
            return {}
        return {str(p.relative_to(base)): sha256(p) for p in sorted(base.rglob("*")) if p.is_file()}

    def signature_ok(self) -> bool:
        inrelease = self.dists() / "InRelease"
        if not inrelease.exists():
            return False
        return subprocess.run(["gpgv", "--keyring", str(self.public_key), str(inrelease)],
                              capture_output=True, check=False).returncode == 0

    def release_lists_packages(self) -> bool:
        """The signed Release file names the Packages file with its real sha256 (what apt checks)."""
        release = (self.dists() / "Release").read_text()
        packages = self.dists() / "main" / f"binary-{ARCH}" / "Packages"
        want = f"{sha256(packages)} {packages.stat().st_size:>16} main/binary-{ARCH}/Packages"
        return any(" ".join(line.split()) == " ".join(want.split()) for line in release.splitlines())

    def published_versions(self) -> dict[str, dict[str, str]]:
        """{version: Packages entry} of our package; a version twice is an error."""
        found: dict[str, dict[str, str]] = {}
        for entry in self.packages_entries():
            if entry["Package"] != PACKAGE:
                continue
            assert entry["Version"] not in found, f"version {entry['Version']} published twice"
            found[entry["Version"]] = entry
        return found


@contextlib.contextmanager
def running_targets(tmp_path: Path, passphrase: str = "correct horse battery staple") -> Iterator[Targets]:
    """Start the configured targets of one test; stop them (and gpg-agent) at the end."""
    root = tmp_path / "targets"
    root.mkdir()
    remote = root / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=master", str(remote)], check=True)
    packages = root / "packages"
    packages.mkdir()
    aptly_root = root / "aptly"
    publish = root / "public"
    publish.mkdir()
    aptly_config = root / "aptly.conf"
    aptly_config.write_text(json.dumps({
        "rootDir": str(aptly_root),
        "gpgProvider": "gpg",
        "FileSystemPublishEndpoints": {"test": {"rootDir": str(publish), "linkMethod": "copy"}},
    }, indent=2))
    gnupghome = Path(tempfile.mkdtemp(prefix="hg-", dir="/tmp"))
    os.chmod(gnupghome, 0o700)
    # Every signature asks for the passphrase: a wrong one must fail even after a right one.
    # The key is protected with gpg-agent's smallest S2K count (gpg-agent(1), --s2k-count),
    # not the one it calibrates: that one (about 3e8 hash iterations on the CI machines) costs
    # about 3 s of CPU to make the key and over 1 s for each signature, three per release.
    # The passphrase is asked for and checked all the same.
    (gnupghome / "gpg-agent.conf").write_text(
        "default-cache-ttl 0\nmax-cache-ttl 0\nallow-loopback-pinentry\ns2k-count 65536\n")
    gpg(gnupghome, "--quick-gen-key", "hoist test archive <archive@hoist.invalid>", "ed25519", "sign", "never",
        passphrase=passphrase)
    fingerprint = next(line.split(":")[9] for line in gpg(gnupghome, "--with-colons", "--list-secret-keys").stdout.splitlines()
                       if line.startswith("fpr:"))
    public_key = root / "archive-keyring.gpg"
    gpg(gnupghome, "--output", str(public_key), "--export", fingerprint)

    try:
        # The index is hoist's own local one (pypiserver on 127.0.0.1), behind the fault proxy.
        with serve_index(packages, root / "pypiserver.log") as url:
            port = urllib.parse.urlsplit(url).port
            proxy = FaultProxy(port)
            proxy.start()
            try:
                yield Targets(root, remote, packages, port, proxy, aptly_root, aptly_config, publish,
                              gnupghome, fingerprint, public_key, passphrase)
            finally:
                proxy.stop()
    finally:
        subprocess.run(["gpgconf", "--homedir", str(gnupghome), "--kill", "gpg-agent"], capture_output=True, check=False)
        shutil.rmtree(gnupghome, ignore_errors=True)


@contextlib.contextmanager
def hold_lock(path: Path) -> Iterator[subprocess.Popen]:
    """Hold an exclusive flock on *path* the way another aptly process holds its
    database (goleveldb flocks ``<rootDir>/db/LOCK``), until the block ends or
    :func:`release_lock` is called.  flock(1) passes the descriptor to its child,
    so the whole process group is killed to release it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(["flock", str(path), "sleep", "3600"], start_new_session=True)
    deadline = time.monotonic() + 10
    while subprocess.run(["flock", "-n", str(path), "true"], check=False).returncode == 0:
        assert time.monotonic() < deadline, "flock did not take the lock"
        time.sleep(0.05)
    try:
        yield holder
    finally:
        release_lock(holder)


def release_lock(holder: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()


# -- running hoist while watching it ------------------------------------------


@dataclass
class Watched:
    """A finished (or killed) ``hoist`` run."""

    returncode: int
    output: str
    killed_at: str | None = None  # the line on which the run was killed
    seconds: float = 0.0

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


class Control:
    """Handed to a watcher: the running process, and a way to kill it."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.killed_at: str | None = None

    def kill(self, line: str) -> None:
        """SIGKILL the whole process group of the run (hoist and every command it started)."""
        if self.killed_at is None:
            self.killed_at = line
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def run_watched(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900,
                watch: Callable[[str, Control], None] | None = None,
                on_start: Callable[[Control], None] | None = None) -> Watched:
    """Run the real CLI in its own process group, reading its output line by line.

    *watch* is called with every line as it appears (and may kill the run);
    *on_start* with the :class:`Control` as soon as the process runs.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hoist", *args],
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", start_new_session=True,
    )
    control = Control(proc)
    if on_start is not None:
        on_start(control)
    timer = threading.Timer(timeout, lambda: control.kill("<timeout>"))
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if watch is not None and control.killed_at is None:
                watch(line.rstrip("\n"), control)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            control.kill("<cleanup>")
            proc.wait()
    assert control.killed_at != "<timeout>", f"hoist {args} did not finish in {timeout} s:\n{''.join(lines)}"
    return Watched(proc.returncode, "".join(lines), control.killed_at, time.monotonic() - start)


def kill_when_file(pattern: str, predicate: Callable[[], bool], timeout: float = 60) -> Callable[[str, Control], None]:
    """A watcher that, once a line matching *pattern* appears, polls *predicate*
    (every millisecond or so) and kills the run as soon as it holds: a fault point
    inside a command, located by what it has written."""
    regex = re.compile(pattern)

    def poll(control: Control, line: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and control.proc.poll() is None:
            if predicate():
                control.kill(line + " [predicate held]")
                return
            time.sleep(0.001)

    def watch(line: str, control: Control) -> None:
        if regex.search(line):
            threading.Thread(target=poll, args=(control, line), daemon=True).start()

    return watch


def kill_when(pattern: str, delay: float = 0.0) -> Callable[[str, Control], None]:
    """A watcher that kills the run *delay* seconds after a line matching *pattern* appears."""
    regex = re.compile(pattern)

    def watch(line: str, control: Control) -> None:
        if regex.search(line):
            if delay:
                threading.Timer(delay, lambda: control.kill(line)).start()
            else:
                control.kill(line)

    return watch


# -- the published state, normalised ------------------------------------------


def published_state(targets: Targets, project: Path) -> dict:
    """What the targets hold, in terms that do not depend on commit ids or dates,
    so that two projects released the same way compare equal.

    Every file's sha256 is compared with the bytes in the project's ``dist/``.
    """
    dist = project / "dist"
    tags = targets.remote_tags()
    master = targets.remote_master()
    git_state = {
        "tags": sorted(tags),
        "orphan tags": sorted(t for t, sha in tags.items() if not targets.on_master(sha)),
        "master is the release commit of": (
            git(targets.remote, "log", "-1", "--format=%(trailers:key=Hoist-Release,valueonly)", master).strip()
            if master else None
        ),
        "branches": sorted(r for r in targets.remote_refs() if r.startswith("refs/heads/")),
    }
    index_state = {
        name: ("same bytes as dist/" if (dist / name).exists() and sha256(dist / name) == sha else "differs from dist/")
        for name, sha in targets.index_files().items()
    }
    apt_state = {}
    for version, entry in targets.published_versions().items():
        pool = targets.publish / entry["Filename"]
        name = Path(entry["Filename"]).name
        ok = pool.exists() and sha256(pool) == entry["SHA256"] and (dist / name).exists() and sha256(dist / name) == entry["SHA256"]
        apt_state[version] = f"{name}: " + ("pool, Packages and dist/ agree" if ok else "MISMATCH")
    manifest_path = dist / "release.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    return {
        "git": git_state,
        "index": index_state,
        "apt": apt_state,
        "apt signed": targets.signature_ok() if apt_state else None,
        "apt Release matches Packages": targets.release_lists_packages() if apt_state else None,
        "manifest": None if manifest is None else {
            "version": manifest["version"],
            "targets": {t: s["state"] for t, s in manifest["targets"].items()},
            "artifacts match dist/": all(sha256(project / a["path"]) == a["sha256"] for a in manifest["artifacts"]),
        },
    }


def scan_for(needles: list[str], paths: list[Path]) -> list[str]:
    """Files under *paths* (recursively) whose bytes contain any of *needles*, with which."""
    hits = []
    encoded = [n.encode() for n in needles]
    for base in paths:
        if not base.exists():
            continue
        candidates = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file() and not p.is_symlink()]
        for path in candidates:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for needle in encoded:
                if needle in data:
                    hits.append(f"{path}: {needle.decode()}")
    return hits
