#!/usr/bin/env python3
"""Benchmark of hoist's release against plain dh-virtualenv (issues 5 and 12).

Run from the repository, as root, on Debian 12::

    .venv/bin/python bench/deb_build.py [--runs N] [--quick] [--keep] [--relock] [--app NAME] [--only PART]

A full run takes about an hour on 2 cores (the Warehouse-scale app's default
build alone takes about 5 minutes per run); ``--quick`` (the example app
only, one run of each, the smaller scales) about 5.

For three reference applications (the example app, ``examples/hello``;
``bench/apps/large``, about 60 locked packages with manylinux wheels of
psycopg2-binary, pillow, lxml, cryptography, pydantic-core, orjson...; and
``bench/apps/warehouse``, a small WSGI app on Warehouse's own 79 direct
requirements, 184 locked distributions) it runs, alternating run by run
(a, b, c, r, rc, a, b, c, r, rc...):

(a) dh-virtualenv's defaults: ``debian/rules`` is ``dh $@ --with
    python-virtualenv`` plus the one override bookworm needs (``--builtin-venv
    --python /usr/bin/python3``, ``/opt/<name>``) and an empty
    ``override_dh_dwz`` (dwz aborts on manylinux libraries, "Allocatable
    section ... after non-allocatable ones": the least that lets the defaults
    finish); pip installs the lock and the app's wheel from the index this
    machine's pip is configured with; the venv holds pip and setuptools; xz;
    dh_strip_nondeterminism on every file.  pip's cache is warm (filled
    before the runs, untimed), as on a developer's machine: this makes (a)
    faster, never slower.
(b) hoist cold: hoist's Wheelhouse and Deb steps (driven through the library,
    as ``hoist rebuild`` does) with empty caches: a new ``XDG_CACHE_HOME``
    (hoist's caches), ``PIP_CACHE_DIR`` and ``UV_CACHE_DIR`` per run.
(c) hoist warm: the same steps with caches filled by earlier builds; then,
    untimed in (c), (f) the floor: the least any venv .deb build must do once
    the venv is built, a copy of the venv tree (c) built (taken out of its
    .deb, untimed), tarred and compressed with the package's compressor; and, for information, the same
    again after dropping the page cache (root only), as the files a warm
    build reads were left by an earlier build and may be on disk only.
(r) a whole warm ``hoist release --yes`` (plan and checks, sdist, wheel,
    wheelhouse, .deb, source release, lintian and twine check, checksums,
    push, upload, apt publish, confirm) to local targets in a temporary
    ``HOIST_HOME``, run as a user runs it.
(rc) the same with empty caches (hoist's, pip's, uv's; the targets exist).

Every run is a new commit (one source file of the app changed); for (a),
(b), (c) a new tag whose sdist and wheel are built (untimed) from a fresh
export, the .deb built in that export with the app's own ``hoist init``-ed
``debian/`` (for (a), its rules replaced); timed: the .deb build alone (for
(b)/(c): the Wheelhouse step plus the Deb step).  After the runs, on the
release repository: ``hoist ci should-release`` on a release commit,
``hoist release`` on a released HEAD (nothing to do) and ``hoist plan``
with one commit to release.

It then measures how a warm build grows with the number of locked packages
(about 10, 30, 60 and 120 packages, ``bench/apps/scale``, and the
Warehouse-scale lock), and how long hoist's apt publication (``aptly repo
add``, ``snapshot create``, ``publish switch``, through
:class:`hoist.targets.apt.cli.CliTransport`) takes with 1, 100 and 1,000 versions of a
package in the repository.

Everything is built under a temporary directory (removed unless ``--keep``);
the commands' output, with timestamps, goes to ``bench.log`` in it.
``--relock`` rewrites the committed locks with ``hoist lock``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def snapshot_hoist() -> Path:
    """Copy src/hoist to a temporary directory and use that copy everywhere.

    Others edit src/ while the benchmark runs; without a snapshot, the library
    loaded here and the ``hoist`` and ``hoist.buildtime.fixup`` processes started later
    could be different versions.  PYTHONPATH carries the copy to every
    subprocess (hoist release, dpkg-buildpackage's hoist.buildtime.fixup).
    """
    snap = Path(tempfile.mkdtemp(prefix="hoist-bench-src-"))
    shutil.copytree(REPO / "src" / "hoist", snap / "hoist", ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(snap))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(snap), os.environ.get("PYTHONPATH")]))
    return snap


SNAPSHOT = snapshot_hoist() if __name__ == "__main__" else None

# hoist is imported after the snapshot, so that it is the snapshot's.
from hoist import changelog
from hoist.config import host_codename
from hoist.context import Context, ReleasePlan
from hoist.products import Export, Installed, Products
from hoist.runner import Runner
from hoist.session import open_project
from hoist.steps.build import Build
from hoist.steps.deb import Deb, installed_distributions
from hoist.steps.wheelhouse import CollectWheelhouse
from hoist.targets.apt import AptSettings
from hoist.targets.apt.cli import CliTransport
from hoist.targets.apt.signing import Signer
from hoist.ui import UI
from hoist.version import CalVer

PY = sys.executable
LOCK = "requirements.lock"
AUTHOR = "Hoist Bench <bench@hoist.invalid>"

MEASURED = ""

#: Extra dependency lists for the scaling runs (60 is bench/apps/large itself).
SCALE_DEPS: dict[int, list[str]] = {
    10: ["requests", "pyyaml", "click", "python-dateutil", "markupsafe"],
    30: ["flask", "gunicorn", "requests", "sqlalchemy", "psycopg2-binary", "pillow", "lxml",
         "cryptography", "pyyaml", "pydantic", "python-dateutil", "structlog", "tenacity"],
    120: ["flask", "gunicorn", "requests", "httpx", "sqlalchemy", "alembic", "psycopg2-binary",
          "redis", "pillow", "lxml", "cryptography", "pyyaml", "celery", "pydantic", "marshmallow",
          "rich", "structlog", "python-dateutil", "pytz", "tenacity", "boto3", "orjson", "fastapi",
          "uvicorn[standard]", "aiohttp", "jsonschema", "google-auth", "openpyxl", "beautifulsoup4",
          "paramiko", "pymongo", "prometheus-client", "opentelemetry-sdk", "sentry-sdk", "pyjwt",
          "babel", "python-multipart", "email-validator", "tzdata", "pyopenssl", "kafka-python",
          "elasticsearch", "typer", "arrow", "humanize", "passlib[bcrypt]", "xmltodict",
          "simplejson", "ujson", "cachetools", "toolz", "sortedcontainers"],
}

#: dh-virtualenv's tutorial rules, with the override bookworm needs (FIELD-NOTES).
DEFAULT_RULES = """\
#!/usr/bin/make -f
# dh-virtualenv's defaults: the tutorial's rules, plus what Debian 12 needs
# (the stdlib venv with Debian's python3; the venv in /opt/@NAME@).
export DH_VIRTUALENV_INSTALL_ROOT = /opt

%:
\tdh $@ --with python-virtualenv

override_dh_virtualenv:
\tdh_virtualenv --builtin-venv --python /usr/bin/python3 --install-suffix @NAME@ \\
\t\t--skip-install --requirements $(BENCH_REQUIREMENTS)

# dwz fails on pillow's patchelf-ed .so files ("Allocatable section ... after
# non-allocatable ones"), which stops dpkg-buildpackage; skipped in every variant.
override_dh_dwz:
"""

#: Appended to hoist init's debian/rules when it has no such override (see above).
DWZ_OVERRIDE = """
# Added by bench/deb_build.py: dwz fails on pillow's patchelf-ed .so files.
override_dh_dwz:
"""


# --------------------------------------------------------------------------- output


class Log:
    """bench.log: every command and output line, with seconds since the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("a", encoding="utf-8", buffering=1)
        self.start = time.perf_counter()
        self.lines: list[tuple[float, str]] | None = None  # recorded while profiling

    def write(self, text: str) -> None:
        now = time.perf_counter()
        if self.lines is not None:
            self.lines.append((now, text))
        for line in text.splitlines() or [""]:
            self.handle.write(f"{now - self.start:9.2f} {line}\n")

    @contextlib.contextmanager
    def record(self):
        self.lines = []
        try:
            yield self.lines
        finally:
            self.lines = None


class BenchUI(UI):
    """hoist's UI, writing everything (commands and their output) to the log."""

    def __init__(self, log: Log) -> None:
        self._devnull = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the UI)
        super().__init__(verbose=True, stream=self._devnull, out=self._devnull)
        self.log = log

    def line(self, text: str, style: str = "") -> None:
        self.log.write(text)

    result = line

    def command(self, text: str) -> None:
        self.log.write(text)

    debug = command

    @contextlib.contextmanager
    def step(self, name: str):
        self.log.write(f"==> {name}")
        yield

    def error(self, message: str, hint: str = "") -> None:
        self.log.write(f"error: {message}\nhint: {hint}")

    def table(self, title, columns, rows) -> None:
        self.log.write(json.dumps({"title": title, "columns": columns, "rows": rows}))


def say(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


def sh(log: Log, argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
       check: bool = True) -> subprocess.CompletedProcess:
    log.write("+ " + " ".join(map(str, argv)))
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", check=False)
    log.write(proc.stdout.rstrip("\n"))
    if check and proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, argv))}\n{proc.stdout[-3000:]}")
    return proc


@contextlib.contextmanager
def environ(**values: str):
    """Set environment variables for hoist (and the commands it runs), then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.exists() else 0


def locked_count(lock: Path) -> int:
    return sum(1 for line in lock.read_text().splitlines() if re.match(r"^[A-Za-z0-9][^ ]*==", line))


# --------------------------------------------------------------------------- projects


@dataclass
class AppSpec:
    label: str
    source: Path
    edit: str                              # the source file changed before each build
    deps: list[str] | None = None          # replaces [project] dependencies
    lock: Path | None = None               # replaces requirements.lock


def hello_spec() -> AppSpec:
    return AppSpec("hello", REPO / "examples" / "hello", "src/hoist_hello/app.py")


def large_spec() -> AppSpec:
    return AppSpec("large", BENCH / "apps" / "large", "src/bench_large/app.py")


def warehouse_spec() -> AppSpec:
    return AppSpec("warehouse", BENCH / "apps" / "warehouse", "src/bench_warehouse/app.py")


#: The scaling run of the Warehouse-scale app: its lock (184 distributions) as it is.
WAREHOUSE = 184


def scale_spec(n: int) -> AppSpec:
    if n == 60:
        return replace(large_spec(), label="scale-60")
    if n == WAREHOUSE:
        return replace(warehouse_spec(), label=f"scale-{n}")
    return AppSpec(f"scale-{n}", BENCH / "apps" / "large", "src/bench_large/app.py",
                   deps=SCALE_DEPS[n], lock=BENCH / "apps" / "scale" / f"requirements-{n}.lock")


def set_dependencies(pyproject: Path, deps: list[str]) -> None:
    text = pyproject.read_text()
    block = "dependencies = [\n" + "".join(f'    "{d}",\n' for d in deps) + "]"
    text, n = re.subn(r"(?ms)^dependencies = \[\n.*?^\]", block, text)
    assert n == 1, "no dependencies block"
    tomllib.loads(text)
    pyproject.write_text(text)


def git_init(path: Path, log: Log) -> None:
    sh(log, ["git", "init", "--quiet", "--initial-branch=master"], cwd=path)
    sh(log, ["git", "config", "user.name", "Hoist Bench"], cwd=path)
    sh(log, ["git", "config", "user.email", "bench@hoist.invalid"], cwd=path)
    sh(log, ["git", "add", "-A"], cwd=path)
    sh(log, ["git", "commit", "--quiet", "-m", "Import the project"], cwd=path)


def copy_source(spec: AppSpec, dest: Path) -> None:
    shutil.copytree(spec.source, dest, ignore=shutil.ignore_patterns(
        "__pycache__", "*.egg-info", "_version.py", "build", "dist", ".venv", "debian"))
    if spec.deps is not None:
        set_dependencies(dest / "pyproject.toml", spec.deps)
    if spec.lock is not None:
        shutil.copyfile(spec.lock, dest / LOCK)


def make_project(spec: AppSpec, dest: Path, log: Log) -> Path:
    """A git repository of the app after ``hoist init``, committed."""
    copy_source(spec, dest)
    git_init(dest, log)
    sh(log, [PY, "-m", "hoist", "init"], cwd=dest)
    rules = dest / "debian" / "rules"
    if "override_dh_dwz" not in rules.read_text():
        rules.write_text(rules.read_text() + DWZ_OVERRIDE)
    sh(log, ["git", "add", "-A"], cwd=dest)
    sh(log, ["git", "commit", "--quiet", "-m", "Package with hoist"], cwd=dest)
    return dest


def change_source(project: Path, spec: AppSpec, serial: int) -> None:
    with (project / spec.edit).open("a") as f:
        f.write(f"\n_BENCH_BUILD = {serial}\n")


class Project:
    """One app's repository, opened with hoist's library; makes tagged versions."""

    def __init__(self, spec: AppSpec, root: Path, log: Log) -> None:
        self.spec = spec
        self.root = root
        self.log = log
        self.ui = BenchUI(log)
        self.ctx: Context = open_project(root, self.ui, local=True)
        self.serial = 0
        assert self.ctx.config.lock == LOCK, f"hoist init did not set the lock in {root}"

    @property
    def package(self) -> str:
        return self.ctx.config.package

    def lock_text(self) -> str:
        return (self.root / LOCK).read_text()

    def next_version(self) -> ReleasePlan:
        """Change one source file, add a changelog entry, commit and tag (untimed)."""
        self.serial += 1
        change_source(self.root, self.spec, self.serial)
        version = CalVer.parse(f"25.1.{self.serial}")
        assert version is not None
        tag = version.tag(self.ctx.config.tag_prefix)
        moment = datetime.now(UTC).replace(microsecond=0)
        path = self.root / "debian" / "changelog"
        path.write_text(changelog.render_entry(
            changelog.read(path), package=self.package, version=str(version),
            distribution=host_codename(), subjects=[f"Benchmark build {self.serial}"],
            author=AUTHOR, moment=moment))
        env = {"GIT_AUTHOR_DATE": moment.isoformat(), "GIT_COMMITTER_DATE": moment.isoformat()}
        sh(self.log, ["git", "commit", "--quiet", "-a", "-m", f"Benchmark build {self.serial}"], cwd=self.root, env=env)
        sh(self.log, ["git", "tag", "-a", tag, "-m", f"Release {version}"], cwd=self.root, env=env)
        commit = self.ctx.git.out("rev-parse", "HEAD")
        return ReleasePlan(version, tag, True, commit, None, (), moment, AUTHOR,
                           self.ctx.config.distribution, self.ctx.config.component)

    def export(self, plan: ReleasePlan, out: Path, pip_cache: Path) -> tuple[Context, Products]:
        """Build the sdist and wheel from a fresh export of the tag (untimed)."""
        out.mkdir(parents=True, exist_ok=True)
        ctx = replace(self.ctx, dist=out, work=Path(tempfile.mkdtemp(prefix=f"hoist-bench-{self.package}-")))
        with environ(PIP_CACHE_DIR=str(pip_cache)):
            step = Build()
            made = step.run(ctx, plan, step.plan(ctx, plan), Products())
        return ctx, made


# --------------------------------------------------------------------------- one build


@dataclass
class Result:
    seconds: float
    deb_size: int
    parts: dict[str, float] = field(default_factory=dict)
    phases: list[tuple[str, float]] = field(default_factory=list)
    installed: int = 0
    floor: float | None = None   # the least any venv .deb build does, measured on this build's venv
    floor_cold: float | None = None  # the same with the page cache dropped first (root only)


#: What dpkg-deb -Z<compressor> runs (dpkg-deb(1) -z: gzip 9, xz 6, zstd 3), as hoist's debian/rules does.
COMPRESS = {"zstd": ["zstd", "-3", "-q", "--rm"], "xz": ["xz", "-6", "-T0"], "gzip": ["gzip", "-9n"]}


def floor_seconds(venv: Path, compression: str, scratch: Path) -> float:
    """The least any venv .deb build must do once the venv is installed: copy
    the built venv tree and compress it (a tar, with the package's compressor)."""
    scratch.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run(["cp", "-a", str(venv), str(scratch / venv.name)], check=True)  # coreutils: faster than copytree
    subprocess.run(["tar", "-C", str(scratch), "-cf", str(scratch / "data.tar"), venv.name], check=True)
    if compression in COMPRESS:
        subprocess.run([*COMPRESS[compression], str(scratch / "data.tar")], check=True)
    seconds = time.perf_counter() - t0
    shutil.rmtree(scratch, ignore_errors=True)
    return seconds


def drop_page_cache() -> bool:
    """Write back and drop the kernel's page cache (root only; proc(5),
    /proc/sys/vm/drop_caches), so that what runs next reads the disk."""
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


PHASE_MARK = re.compile(
    r"^\s*(?:\+ )?("
    r"dh_[a-z_]+|debian/rules \S+|dpkg-deb|dpkg-source|dpkg-genbuildinfo|dpkg-genchanges"
    r"|DH_VERBOSE=0 dh_virtualenv|\S*python\S* -m hoist\.buildtime\.fixup"
    r")\b"
)


def phases(lines: list[tuple[float, str]], end: float) -> list[tuple[str, float]]:
    """Seconds from each debhelper command (or make recipe line) to the next, summed by name."""
    marks = []
    for t, text in lines:
        m = PHASE_MARK.match(text.strip("\n"))
        if m:
            name = m.group(1)
            if "hoist.buildtime.fixup" in name:
                name = "hoist.buildtime.fixup"
            elif name.startswith("DH_VERBOSE"):
                name = "dh_virtualenv"
            marks.append((t, name))
    totals: dict[str, float] = {}
    for (t, name), (t2, _) in zip(marks, marks[1:] + [(end, "")]):
        totals[name] = totals.get(name, 0.0) + (t2 - t)
    return sorted(totals.items(), key=lambda kv: -kv[1])


def build_default(proj: Project, plan: ReleasePlan, run_dir: Path, caches: Path) -> Result:
    """(a): dh-virtualenv's defaults, pip from the index, xz."""
    ctx, made = proj.export(plan, run_dir / "dist", caches / "build-pip")
    try:
        src = made.get(Export).path
        rules = src / "debian" / "rules"
        rules.write_text(DEFAULT_RULES.replace("@NAME@", proj.package))
        rules.chmod(0o755)
        wheel = made.artifact("wheel").path
        requirements = ctx.work / "requirements-default.txt"
        requirements.write_text(proj.lock_text().rstrip("\n") + f"\n{wheel} --hash=sha256:{sha256(wheel)}\n")
        env = {
            "BENCH_REQUIREMENTS": str(requirements),
            "HOIST_INSTALL_ROOT": f"/opt/{proj.package}",  # only for debian/<pkg>.links' ${env:...}
            "PIP_CACHE_DIR": str(caches / "default-pip"),
            "DEB_BUILD_OPTIONS": "nocheck",
        }
        with proj.log.record() as lines:
            t0 = time.perf_counter()
            ctx.runner.run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=src, env=env, stream=True)
            t1 = time.perf_counter()
        debs = sorted(ctx.work.glob(f"{proj.package}_{plan.version}_*.deb"))
        assert len(debs) == 1, debs
        installed = installed_distributions(src / "debian" / proj.package, f"/opt/{proj.package}")
        return Result(t1 - t0, debs[0].stat().st_size, {"deb": t1 - t0}, phases(lines, t1),
                      len(installed.distributions))
    finally:
        shutil.rmtree(ctx.work, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def build_hoist(proj: Project, plan: ReleasePlan, run_dir: Path, caches: Path, build_pip: Path,
                floor: bool = False) -> Result:
    """(b)/(c): hoist's Wheelhouse and Deb steps with the caches under *caches*;
    with *floor*, then the floor on the venv this build staged (untimed in the build's figure)."""
    ctx, made = proj.export(plan, run_dir / "dist", build_pip)
    try:
        with environ(XDG_CACHE_HOME=str(caches / "xdg"), PIP_CACHE_DIR=str(caches / "pip"),
                     UV_CACHE_DIR=str(caches / "uv")), proj.log.record() as lines:
            t0 = time.perf_counter()
            house = CollectWheelhouse()
            made = house.run(ctx, plan, house.plan(ctx, plan), made)
            t1 = time.perf_counter()
            deb = Deb()
            made = deb.run(ctx, plan, deb.plan(ctx, plan), made)
            t2 = time.perf_counter()
        lowest = None
        if floor:
            # The venv this build shipped: the staging tree is gone (Deb removes it), the .deb holds it whole.
            shipped = run_dir / "shipped"
            subprocess.run(["dpkg-deb", "-x", str(made.artifact("deb").path), str(shipped)], check=True)
            subprocess.run(["sync"], check=True)  # its writes are done before the floor is timed, not during
            venv = shipped / ctx.config.install_root.lstrip("/")
            lowest = floor_seconds(venv, ctx.config.compression, run_dir / "floor")
            # For information: the same from the disk, as (c) reads kept files an earlier build left there.
            lowest_cold = floor_seconds(venv, ctx.config.compression, run_dir / "floor") if drop_page_cache() else None
        return Result(t2 - t0, made.artifact("deb").size, {"wheelhouse": t1 - t0, "deb": t2 - t1},
                      phases(lines, t2), len(made.get(Installed).distributions), lowest,
                      lowest_cold if floor else None)
    finally:
        shutil.rmtree(ctx.work, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)


def warm_pip_cache(proj: Project, cache: Path, work: Path) -> None:
    """Fill (a)'s pip cache with the pip dh-virtualenv's venv gets (untimed)."""
    venv = work / "pip-warm-venv"
    if not venv.exists():
        sh(proj.log, ["/usr/bin/python3", "-m", "venv", venv])
    out = work / "pip-warm-download"
    sh(proj.log, [venv / "bin" / "pip", "download", "--no-deps", "--require-hashes", "-r", proj.root / LOCK,
                  "-d", out], env={"PIP_CACHE_DIR": str(cache)})
    shutil.rmtree(out, ignore_errors=True)


# --------------------------------------------------------------------------- whole release


class Releaser:
    """A second copy of the app, released with ``hoist release --yes`` to local targets."""

    def __init__(self, spec: AppSpec, work: Path, caches: Path, build_pip: Path, log: Log) -> None:
        self.spec = spec
        self.log = log
        self.root = make_project(spec, work / "release-repo", log)
        self.home = Path(tempfile.mkdtemp(prefix="hbh-", dir="/tmp"))  # short: gpg-agent's socket path
        self.env = {
            "HOIST_HOME": str(self.home), "NO_COLOR": "1", "COLUMNS": "200",
            "XDG_CACHE_HOME": str(caches / "xdg"), "PIP_CACHE_DIR": str(caches / "pip"),
            "UV_CACHE_DIR": str(caches / "uv"),
        }
        self.serial = 0
        self.steps: dict[str, float] = {}

    def release(self, cold: Path | None = None) -> float:
        """Change a file, commit, and time ``hoist release --yes``; with *cold*,
        with new, empty caches under it (hoist's, pip's and uv's)."""
        self.serial += 1
        change_source(self.root, self.spec, self.serial)
        sh(self.log, ["git", "commit", "--quiet", "-a", "-m", f"Benchmark change {self.serial}"], cwd=self.root)
        env = dict(self.env)
        if cold is not None:
            env.update({"XDG_CACHE_HOME": str(cold / "xdg"), "PIP_CACHE_DIR": str(cold / "pip"),
                        "UV_CACHE_DIR": str(cold / "uv")})
        t0 = time.perf_counter()
        try:
            out = sh(self.log, [PY, "-m", "hoist", "release", "--yes"], cwd=self.root, env=env).stdout
        finally:
            if cold is not None:
                shutil.rmtree(cold, ignore_errors=True)
        seconds = time.perf_counter() - t0
        self.steps = {m.group(1): float(m.group(2)) for m in re.finditer(r"(?m)^ {4}(.+) done in ([0-9.]+) s$", out)}
        return seconds

    def decisions(self, runs: int) -> dict[str, float]:
        """Medians of: ``hoist ci should-release`` on the release commit a
        release left at HEAD; ``hoist release --yes`` there (released: nothing
        to do); ``hoist plan`` after one more commit."""
        def timed(argv: list[str], expect: int) -> float:
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                proc = sh(self.log, argv, cwd=self.root, env=self.env, check=False)
                times.append(time.perf_counter() - t0)
                assert proc.returncode == expect, (argv, proc.returncode, proc.stdout[-2000:])
            return statistics.median(times)
        out = {
            "should-release (HEAD is a release commit)": timed([PY, "-m", "hoist", "ci", "should-release"], 1),
            "release (HEAD is released: nothing to do)": timed([PY, "-m", "hoist", "release", "--yes"], 0),
        }
        self.serial += 1
        change_source(self.root, self.spec, self.serial)
        sh(self.log, ["git", "commit", "--quiet", "-a", "-m", f"Benchmark change {self.serial}"], cwd=self.root)
        out["plan (one commit to release)"] = timed([PY, "-m", "hoist", "plan"], 0)
        return out

    def close(self) -> None:
        for gnupg in self.home.glob("*/gnupg"):
            subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "all"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.home, ignore_errors=True)


# --------------------------------------------------------------------------- the comparison


@dataclass
class AppResults:
    spec: AppSpec
    locked: int
    runs: dict[str, list[Result]] = field(default_factory=dict)
    release: list[float] = field(default_factory=list)
    release_steps: dict[str, float] = field(default_factory=dict)
    release_cold: list[float] = field(default_factory=list)
    release_cold_steps: dict[str, float] = field(default_factory=dict)
    decisions: dict[str, float] = field(default_factory=dict)
    uv_cache: tuple[int, int] = (0, 0)


VARIANTS = {"a": "(a) dh-virtualenv defaults", "b": "(b) hoist cold", "c": "(c) hoist warm"}


def compare_app(spec: AppSpec, runs: int, work: Path, log: Log) -> AppResults:
    work.mkdir(parents=True)
    proj = Project(spec, make_project(spec, work / "repo", log), log)
    res = AppResults(spec, locked_count(proj.root / LOCK), {k: [] for k in VARIANTS})
    caches = work / "caches"
    build_pip = caches / "build-pip"
    warm = caches / "warm"
    say(f"{spec.label}: {res.locked} locked packages; warming (a)'s pip cache and hoist's caches (untimed)")
    warm_pip_cache(proj, caches / "default-pip", work)
    build_hoist(proj, proj.next_version(), work / "run", warm, build_pip)
    uv_before = dir_size(warm / "uv")
    releaser = Releaser(spec, work, warm, build_pip, log)
    try:
        releaser.release()  # the first release sets up the local targets (key, repositories)
        for i in range(runs):
            for key, label in VARIANTS.items():
                plan = proj.next_version()
                if key == "a":
                    r = build_default(proj, plan, work / "run", caches)
                else:
                    cold = caches / f"cold-{i}"
                    r = build_hoist(proj, plan, work / "run", cold if key == "b" else warm, build_pip,
                                    floor=key == "c")
                    shutil.rmtree(cold, ignore_errors=True)
                res.runs[key].append(r)
                say(f"{spec.label} {label} run {i + 1}/{runs}: {r.seconds:.1f} s, "
                    f".deb {r.deb_size / 1e6:.1f} MB, {r.installed} distributions in the venv"
                    + (f" (wheelhouse {r.parts['wheelhouse']:.1f} s + deb {r.parts['deb']:.1f} s)" if key != "a" else "")
                    + (f"; floor {r.floor:.1f} s" if r.floor is not None else ""))
            seconds = releaser.release()
            res.release.append(seconds)
            res.release_steps = releaser.steps
            say(f"{spec.label} (r) hoist release, warm, run {i + 1}/{runs}: {seconds:.1f} s")
            seconds = releaser.release(cold=caches / f"release-cold-{i}")
            res.release_cold.append(seconds)
            res.release_cold_steps = releaser.steps
            say(f"{spec.label} (rc) hoist release, cold caches, run {i + 1}/{runs}: {seconds:.1f} s")
        releaser.release()  # after the cold one, so that HEAD is a warm release commit
        res.decisions = releaser.decisions(runs)
        say(f"{spec.label} decisions: " + ", ".join(f"{k} {v:.2f} s" for k, v in res.decisions.items()))
    finally:
        releaser.close()
    res.uv_cache = (uv_before, dir_size(warm / "uv"))
    shutil.rmtree(work, ignore_errors=True)
    return res


def scale_app(n: int, runs: int, work: Path, log: Log) -> tuple[int, int, list[Result]]:
    spec = scale_spec(n)
    work.mkdir(parents=True)
    proj = Project(spec, make_project(spec, work / "repo", log), log)
    caches = work / "caches"
    build_hoist(proj, proj.next_version(), work / "run", caches / "warm", caches / "build-pip")  # warm-up
    results = []
    for i in range(runs):
        r = build_hoist(proj, proj.next_version(), work / "run", caches / "warm", caches / "build-pip")
        results.append(r)
        say(f"{spec.label}: warm run {i + 1}/{runs}: {r.seconds:.1f} s")
    count = locked_count(proj.root / LOCK)
    shutil.rmtree(work, ignore_errors=True)
    return n, count, results


# --------------------------------------------------------------------------- aptly


def tiny_deb(out: Path, version: str, tmp: Path) -> Path:
    root = tmp / version
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: bench-pkg\nVersion: {version}\nArchitecture: amd64\nMaintainer: {AUTHOR}\n"
        "Description: tiny package for the aptly benchmark\n")
    (root / "usr" / "share" / "bench-pkg").mkdir(parents=True)
    (root / "usr" / "share" / "bench-pkg" / "VERSION").write_text(version + "\n")
    deb = out / f"bench-pkg_{version}_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(root)
    return deb


def bench_aptly(counts: list[int], runs: int, log: Log) -> list[dict]:
    base = Path(tempfile.mkdtemp(prefix="hba-", dir="/tmp"))
    gnupg = Path(tempfile.mkdtemp(prefix="hbg-", dir="/tmp"))  # short: gpg-agent's socket path
    gnupg.chmod(0o700)
    runner = Runner(log=log.write, debug=log.write)
    out = []
    try:
        env = {"GNUPGHOME": str(gnupg)}
        sh(log, ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "hoist bench <bench@hoist.invalid>",
                 "ed25519", "sign", "never"], env=env)
        colons = sh(log, ["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env).stdout
        fpr = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))
        debs_dir = base / "debs"
        debs_dir.mkdir()
        total = max(counts) + runs + 1
        say(f"aptly: making {total} tiny .debs with dpkg-deb")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            debs = list(pool.map(lambda i: tiny_deb(debs_dir, f"1.0.{i}", base / "tmp"), range(1, total + 1)))
        for n in counts:
            root = base / f"n{n}"
            (root / "public").mkdir(parents=True)
            config = root / "aptly.conf"
            config.write_text(json.dumps({
                "rootDir": str(root / "db"), "gpgProvider": "gpg",
                "FileSystemPublishEndpoints": {"local": {"rootDir": str(root / "public"), "linkMethod": "copy"}},
            }))
            target = AptSettings(aptly_config=str(config), repo="bench", endpoint="filesystem:local:.",
                               url=(root / "public").as_uri(), gpg_key=fpr, public_key="", gnupghome=str(gnupg))
            aptly = CliTransport(target, runner, Signer(runner, fpr, str(gnupg), None))
            aptly.ensure_repository("bookworm", "main")
            bulk = 0.0
            if n > 1:
                pre = root / "pre"
                pre.mkdir()
                for deb in debs[: n - 1]:
                    os.link(deb, pre / deb.name)
                t0 = time.perf_counter()
                aptly._aptly("repo", "add", "bench", str(pre), mutates=True)
                bulk = time.perf_counter() - t0
            sign = [f"-gpg-key={fpr}", "-batch"]
            aptly._aptly("snapshot", "create", "bench-pre", "from", "repo", "bench", mutates=True)
            t0 = time.perf_counter()
            aptly._aptly("publish", "snapshot", *sign, "-acquire-by-hash", "-architectures=amd64",
                         "-distribution=bookworm", "-component=main", "bench-pre", "filesystem:local:.", mutates=True)
            first = time.perf_counter() - t0
            adds, snaps, pubs = [], [], []
            for r in range(runs):
                deb = debs[n - 1 + r]
                version = deb.name.split("_")[1]
                t0 = time.perf_counter()
                aptly.add(deb)
                t1 = time.perf_counter()
                name = aptly.snapshot_repository(f"bench-{version}")
                t2 = time.perf_counter()
                aptly.publish("bookworm", "main", name, first=False, origin="bench", label="bench")  # hoist's switch
                t3 = time.perf_counter()
                adds.append(t1 - t0)
                snaps.append(t2 - t1)
                pubs.append(t3 - t2)
            # the same with -skip-contents, for comparison
            deb = debs[n - 1 + runs]
            version = deb.name.split("_")[1]
            aptly.add(deb)
            name = aptly.snapshot_repository(f"bench-{version}")
            t0 = time.perf_counter()
            aptly._aptly("publish", "switch", *sign, "-skip-contents", "bookworm", "filesystem:local:.", name,
                         mutates=True)
            skip = time.perf_counter() - t0
            row = {"versions": n, "bulk_add": bulk, "first_publish": first, "add": statistics.median(adds),
                   "snapshot": statistics.median(snaps), "switch": statistics.median(pubs), "switch_skip_contents": skip}
            say(f"aptly with {n} versions: add {row['add']:.2f} s, snapshot {row['snapshot']:.2f} s, "
                f"publish switch {row['switch']:.2f} s (-skip-contents {skip:.2f} s)")
            out.append(row)
            shutil.rmtree(root, ignore_errors=True)
    finally:
        subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "all"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(gnupg, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- locks


def relock(log: Log) -> None:
    """Rewrite the requirements.lock of bench/apps/large and bench/apps/warehouse, and bench/apps/scale/*.lock, with hoist lock."""
    specs = [replace(large_spec(), lock=None), replace(warehouse_spec(), lock=None)] + [
        replace(scale_spec(n), lock=None) for n in sorted(SCALE_DEPS)]
    targets = [BENCH / "apps" / "large" / LOCK, BENCH / "apps" / "warehouse" / LOCK] + [BENCH / "apps" / "scale" / f"requirements-{n}.lock" for n in sorted(SCALE_DEPS)]
    for spec, target in zip(specs, targets):
        with tempfile.TemporaryDirectory(prefix="hoist-bench-lock-") as tmp:
            dest = Path(tmp) / "app"
            copy_source(spec, dest)
            (dest / LOCK).unlink(missing_ok=True)
            git_init(dest, log)
            sh(log, [PY, "-m", "hoist", "lock"], cwd=dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dest / LOCK, target)
            say(f"wrote {target.relative_to(REPO)}: {locked_count(target)} packages")


# --------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values)


def report(apps: list[AppResults], scale: list[tuple[int, int, list[Result]]], aptly: list[dict], runs: int) -> None:
    p = print
    p()
    p("=" * 100)
    p(f"hoist .deb build benchmark: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
      f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; median of {runs} run(s) each, alternated a,b,c,r,rc")
    p(MEASURED)
    p("(a) dh-virtualenv 1.2.2 defaults (pip, xz, warm pip cache); (b) hoist cold caches; (c) hoist warm, one file "
      "changed;\n(f) the floor: copy (c)'s built venv and compress it with the package's compressor "
      "(and, for information, the same from a dropped page cache);\n"
      "(r) whole warm `hoist release` (sdist, wheel, wheelhouse, .deb, source release, lintian, twine check, "
      "push, upload, apt publish, confirm);\n(rc) the same with empty caches (hoist's, pip's, uv's)")
    p()
    p(f"{'app':<10}{'locked':>7}{'venv':>6}  {'variant':<28}{'median s':>9}{'min-max s':>14}{'x/a':>7}{'speed-up':>9}"
      f"{'.deb MB':>9}   parts (median s)")
    targets = []
    for app in apps:
        label = app.spec.label
        a = med([r.seconds for r in app.runs["a"]])
        a_size = med([r.deb_size for r in app.runs["a"]])
        for key, name in VARIANTS.items():
            rs = app.runs[key]
            m = med([r.seconds for r in rs])
            parts = ""
            if key != "a":
                parts = f"wheelhouse {med([r.parts['wheelhouse'] for r in rs]):.1f} + deb {med([r.parts['deb'] for r in rs]):.1f}"
            p(f"{label:<10}{app.locked:>7}{rs[-1].installed:>6}  {name:<28}{m:>9.1f}"
              f"{min(r.seconds for r in rs):>7.1f}-{max(r.seconds for r in rs):<6.1f}{m / a:>7.2f}{a / m:>8.1f}x"
              f"{med([r.deb_size for r in rs]) / 1e6:>9.2f}   {parts}")
        floors = [r.floor for r in app.runs["c"] if r.floor is not None]
        f = med(floors)
        c = med([x.seconds for x in app.runs["c"]])
        p(f"{label:<10}{'':>7}{'':>6}  {'(f) floor':<28}{f:>9.1f}{min(floors):>7.1f}-{max(floors):<6.1f}{f / a:>7.2f}"
          f"{a / f:>8.1f}x            (c)/(f) = {c / f:.2f}")
        colds = [r.floor_cold for r in app.runs["c"] if r.floor_cold is not None]
        if colds:
            fc = med(colds)
            p(f"{label:<10}{'':>7}{'':>6}  {'(f) floor, disk (info)':<28}{fc:>9.1f}{min(colds):>7.1f}-{max(colds):<6.1f}"
              f"{fc / a:>7.2f}{a / fc:>8.1f}x            (c)/(f disk) = {c / fc:.2f}")
        for key, values in (("(r) hoist release, warm", app.release), ("(rc) hoist release, cold", app.release_cold)):
            r = med(values)
            p(f"{label:<10}{'':>7}{'':>6}  {key:<28}{r:>9.1f}{min(values):>7.1f}-{max(values):<6.1f}{r / a:>7.2f}"
              f"{a / r:>8.1f}x")
        r, rc = med(app.release), med(app.release_cold)
        b = med([x.seconds for x in app.runs["b"]])
        sizes = [med([x.deb_size for x in app.runs[k]]) for k in ("b", "c")]
        targets += [
            (f"{label}: warm .deb build >= 7x faster than (a)", a / c >= 7, f"{a / c:.1f}x"),
            (f"{label}: cold .deb build >= 2x faster than (a)", a / b >= 2, f"{a / b:.1f}x"),
            (f"{label}: warm whole release <= 0.25 of (a)", r <= a / 4, f"{r:.1f} s vs {a:.1f} s = {r / a:.2f}"),
            (f"{label}: cold whole release <= 0.5 of (a)", rc <= a / 2, f"{rc:.1f} s vs {a:.1f} s = {rc / a:.2f}"),
            (f"{label}: .deb no larger than (a)'s", max(sizes) <= a_size,
             f"{max(sizes) / 1e6:.2f} MB vs {a_size / 1e6:.2f} MB"),
            (f"{label}: warm .deb build <= 2x the floor", c <= 2 * f, f"{c:.1f} s vs {f:.1f} s = {c / f:.2f}"),
        ]
        if app.decisions:
            limits = {"should-release (HEAD is a release commit)": 1.0, "plan (one commit to release)": 2.0}
            for what, seconds in app.decisions.items():
                if what in limits and label == "large":
                    targets.append((f"{label}: {what.split(' (')[0]} < {limits[what]:.0f} s", seconds < limits[what],
                                    f"{seconds:.2f} s"))
    p()
    p("where the time goes (seconds, last run; debhelper command or make recipe line to the next):")
    for app in apps:
        for key, runs_ in app.runs.items():
            top = runs_[-1].phases[:7]
            p(f"  {app.spec.label:<9}{key}: " + ", ".join(f"{n} {s:.1f}" for n, s in top))
    for app in apps:
        p(f"  {app.spec.label:<9}r: " + ", ".join(f"{n} {s:.1f}" for n, s in app.release_steps.items()))
        p(f"  {app.spec.label:<8}rc: " + ", ".join(f"{n} {s:.1f}" for n, s in app.release_cold_steps.items()))
    for app in apps:
        if app.decisions:
            p(f"  {app.spec.label}: " + ", ".join(f"{k} {v:.2f} s" for k, v in app.decisions.items()))
    for app in apps:
        p(f"  {app.spec.label}: uv cache {app.uv_cache[0] / 1e6:.0f} MB after the warm-up build, "
          f"{app.uv_cache[1] / 1e6:.0f} MB after all warm builds and releases")
    if scale:
        p()
        p("warm .deb build (c) by number of locked packages:")
        p(f"  {'target':>6}{'locked':>8}{'in venv':>9}{'median s':>10}{'s/pkg':>8}{'.deb MB':>9}   parts (median s)")
        for n, count, rs in scale:
            m = med([r.seconds for r in rs])
            p(f"  {n:>6}{count:>8}{rs[-1].installed:>9}{m:>10.1f}{m / count:>8.3f}{med([r.deb_size for r in rs]) / 1e6:>9.2f}"
              f"   wheelhouse {med([r.parts['wheelhouse'] for r in rs]):.1f} + deb {med([r.parts['deb'] for r in rs]):.1f}")
    if aptly:
        p()
        p("hoist's apt publication (aptly 1.5.0, signed, filesystem endpoint), seconds:")
        p(f"  {'versions':>8}{'add 1':>8}{'snapshot':>10}{'publish switch':>16}{'switch -skip-contents':>23}"
          f"{'(bulk add of the rest':>24}{', first publish)':>18}")
        for row in aptly:
            p(f"  {row['versions']:>8}{row['add']:>8.2f}{row['snapshot']:>10.2f}{row['switch']:>16.2f}"
              f"{row['switch_skip_contents']:>23.2f}{row['bulk_add']:>24.2f}{row['first_publish']:>18.2f}")
    p()
    p("targets:")
    for name, ok, detail in targets:
        p(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    p("=" * 100)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="runs of each variant (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run: the example app only, 1 run each, "
                        "10 and 30 packages, aptly with 1 and 100 versions")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and its bench.log")
    parser.add_argument("--relock", action="store_true", help="rewrite the committed locks with hoist lock, then stop")
    parser.add_argument("--only", choices=["compare", "scale", "aptly"], action="append", help="run only these parts")
    parser.add_argument("--app", choices=["hello", "large", "warehouse"], action="append",
                        help="compare only these apps")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    if os.geteuid() != 0:
        print("warning: dpkg-buildpackage and the end-to-end steps are meant to run as root", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="hoist-bench-"))
    log = Log(work / "bench.log")
    say(f"work directory {work}; log {log.path}")
    if args.relock:
        try:
            relock(log)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if SNAPSHOT is not None:
                shutil.rmtree(SNAPSHOT, ignore_errors=True)
        return 0
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src/hoist"], cwd=REPO, capture_output=True,
                           text=True, check=False).stdout.split()
    global MEASURED
    MEASURED = f"hoist src/ at {head}" + (f" plus uncommitted changes ({len(dirty) // 2} files), snapshot taken at start"
                                          if dirty else "")
    say(MEASURED)
    parts = set(args.only or ["compare", "scale", "aptly"])
    apps, scale, aptly = [], [], []
    start = time.perf_counter()
    try:
        if "compare" in parts:
            chosen = (hello_spec(),) if args.quick else (hello_spec(), large_spec(), warehouse_spec())
            for spec in [c for c in chosen if not args.app or c.label in args.app]:
                apps.append(compare_app(spec, runs, work / spec.label, log))
        if "scale" in parts:
            for n in ((10, 30) if args.quick else (10, 30, 60, 120, WAREHOUSE)):
                scale.append(scale_app(n, runs, work / f"scale-{n}", log))
        if "aptly" in parts:
            aptly = bench_aptly([1, 100] if args.quick else [1, 100, 1000], runs, log)
        report(apps, scale, aptly, runs)
        say(f"done in {time.perf_counter() - start:.0f} s")
    finally:
        if SNAPSHOT is not None:
            shutil.rmtree(SNAPSHOT, ignore_errors=True)
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.copyfile(log.path, Path(tempfile.gettempdir()) / "hoist-bench-last.log")
            shutil.rmtree(work, ignore_errors=True)
            say(f"log kept as {Path(tempfile.gettempdir()) / 'hoist-bench-last.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
