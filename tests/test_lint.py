"""lintian on a virtualenv package in two parts (hoist.lint), on real .debs and real lintian.

The package is made with dpkg-deb from a small tree: an application and one
dependency in a virtualenv's site-packages under /opt/demo-app.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
from pathlib import Path

import pytest
from debian.debfile import DebFile

from hoist import lint
from hoist.steps.verify import lintian_chunks

ROOT = "opt/demo-app"
SITE = f"{ROOT}/lib/python3.11/site-packages"
LINTIAN = ["lintian", "--fail-on", "error", "--tag-display-limit", "0"]


def make_deb(tmp: Path, overrides: str, dependency_text: str = "VALUE = 1\n", build_path: str = "",
             extra: dict[str, str] | None = None, version: str = "1.0", shlibs: bool = False) -> Path:
    tree = tmp / "tree"
    files = {**(extra or {}),
        f"{SITE}/demo_app/__init__.py": "from .main import run\n",
        f"{SITE}/demo_app/main.py": f"def run():\n    return {build_path!r}\n",
        f"{SITE}/demo_app-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: demo-app\nVersion: 1.0\n",
        f"{SITE}/somedep/__init__.py": dependency_text,
        f"{SITE}/somedep/util.py": "def helper():\n    return 2\n",
        f"{SITE}/somedep-2.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: somedep\nVersion: 2.0\n",
        f"{ROOT}/pyvenv.cfg": "home = /usr/bin\n",
        "usr/share/doc/demo-app/copyright": "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                                             "Files: *\nCopyright: 2026 Demo\nLicense: MIT\n",
        "usr/share/lintian/overrides/demo-app": overrides,
    }
    for path, text in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    changelog = tree / "usr/share/doc/demo-app/changelog.Debian.gz"
    with gzip.GzipFile(changelog, "wb", mtime=0) as out:
        out.write(b"demo-app (1.0) bookworm; urgency=medium\n\n  * Release.\n\n"
                  b" -- Demo <demo@example.org>  Wed, 02 Dec 2026 12:00:00 +0000\n")
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN/control").write_text(
        f"Package: demo-app\nVersion: {version}\nArchitecture: all\nMaintainer: Demo <demo@example.org>\n"
        "Section: misc\nPriority: optional\nDescription: demo application\n a virtualenv package for the test.\n")
    if shlibs:  # as dh_makeshlibs writes it for a shared object: with the release's version
        (tree / "DEBIAN/shlibs").write_text(f"libdemo 1 demo-app (>= {version})\n")
    sums = "".join(f"{hashlib.md5(p.read_bytes()).hexdigest()}  {p.relative_to(tree)}\n"
                   for p in sorted(tree.rglob("*")) if p.is_file() and "DEBIAN" not in p.parts)
    (tree / "DEBIAN/md5sums").write_text(sums)
    deb = tmp / f"demo-app_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zzstd", "--build", str(tree), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)
    return deb


# zstd members: dpkg on Debian 12 reads them; lintian 2.116 does not know them yet.
ZSTD = "demo-app: malformed-deb-archive *\n"
OVERRIDE_ALL = ZSTD + "demo-app: dir-or-file-in-opt [opt/demo-app/*]\n"
OVERRIDE_OWN = ZSTD + (f"demo-app: dir-or-file-in-opt [{SITE}/demo_app/*]\ndemo-app: dir-or-file-in-opt [{SITE}/demo_app-*]\n"
                f"demo-app: dir-or-file-in-opt [{ROOT}/pyvenv.cfg]\n"
                + "".join(f"demo-app: dir-or-file-in-opt [{d}/]\n" for d in (
                    ROOT, f"{ROOT}/lib", f"{ROOT}/lib/python3.11", SITE)))


def split(deb: Path, out: Path, known=lambda key: False, build_paths=("/nowhere/build",), chunks=1) -> lint.Split:
    rule = lint.shared_rule(f"/{ROOT}", {"demo_app", "demo_app-1.0.dist-info"})
    return lint.split(deb, "demo-app", rule, list(build_paths), out, known, chunks)


def names(deb: Path) -> set[str]:
    with DebFile(str(deb)).data.tgz() as data:
        return {m.name.removeprefix("./") for m in data if m.isfile()}


def md5sums(deb: Path) -> set[str]:
    return {line.split("  ", 1)[1] for line in DebFile(str(deb)).control.get_content("md5sums").decode().splitlines()}


def test_the_parts_hold_every_file_and_list_exactly_their_own(tmp_path):
    deb = make_deb(tmp_path, OVERRIDE_ALL)
    parts = split(deb, tmp_path / "parts")
    (chunk,) = parts.chunks
    assert chunk.package is not None and parts.leaks == () and parts.packages == [parts.own, chunk.package]
    own, shared = names(parts.own), names(chunk.package)
    helpers = {"usr/share/doc/demo-app/copyright", "usr/share/doc/demo-app/changelog.Debian.gz",
               "usr/share/lintian/overrides/demo-app"}
    assert own | shared == names(deb)
    assert own & shared == helpers
    assert shared - helpers == {f"{SITE}/somedep/__init__.py", f"{SITE}/somedep/util.py",
                                f"{SITE}/somedep-2.0.dist-info/METADATA"}
    assert md5sums(parts.own) == own and md5sums(chunk.package) == shared
    assert [m for m in DebFile(str(parts.own)).getnames()] == ["debian-binary", "control.tar.zst", "data.tar.zst"]
    for part in parts.packages:  # the whole package's control file in each
        assert DebFile(str(part)).debcontrol()["Package"] == "demo-app"
        assert subprocess.run([*LINTIAN, str(part)], capture_output=True, text=True).returncode == 0


def test_an_error_in_a_dependency_is_found_and_never_remembered(tmp_path):
    deb = make_deb(tmp_path, OVERRIDE_OWN)
    parts = split(deb, tmp_path / "parts")
    own = subprocess.run([*LINTIAN, str(parts.own)], capture_output=True, text=True)
    shared = subprocess.run([*LINTIAN, str(parts.chunks[0].package)], capture_output=True, text=True)
    assert own.returncode == 0, own.stdout
    assert shared.returncode == 2
    assert f"E: demo-app: dir-or-file-in-opt [{SITE}/somedep/util.py]" in shared.stdout
    # The whole package, as lintian sees it unsplit, fails the same way.
    whole = subprocess.run([*LINTIAN, str(deb)], capture_output=True, text=True)
    assert f"E: demo-app: dir-or-file-in-opt [{SITE}/somedep/util.py]" in whole.stdout


def test_the_key_follows_the_dependencies_content_and_not_the_application(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = split(make_deb(tmp_path / "a", OVERRIDE_ALL), tmp_path / "a" / "parts")
    app_changed = split(make_deb(tmp_path / "b", OVERRIDE_ALL, extra={
        f"{SITE}/demo_app/more.py": "X = 2\n", "usr/share/doc/demo-app/sbom.cdx.json": '{"version": "1.1"}\n'}),
        tmp_path / "b" / "parts")
    dep_changed = split(make_deb(tmp_path / "c", OVERRIDE_ALL, dependency_text="VALUE = 2\n"), tmp_path / "c" / "parts")
    overrides_changed = split(make_deb(tmp_path / "d", OVERRIDE_ALL + "# more\n"), tmp_path / "d" / "parts")
    key = first.chunks[0].key
    assert app_changed.chunks[0].key == key
    releases = [split(make_deb(tmp_path / v, OVERRIDE_ALL, version=v, shlibs=True), tmp_path / v / "parts")
                for v in ("1.0", "1.1")]
    assert releases[0].chunks[0].key == releases[1].chunks[0].key != key  # shlibs counts, but not the version in it
    assert len({key, dep_changed.chunks[0].key, overrides_changed.chunks[0].key}) == 3
    passed = lint.PassedCache("lintian 2.116 -X x")
    assert key not in passed
    passed.add(key, "ok\n")
    assert key in passed and key not in lint.PassedCache("lintian 2.117 -X x")
    again = split(make_deb(tmp_path / "e", OVERRIDE_ALL), tmp_path / "e" / "parts", known=passed.__contains__)
    assert again.chunks == (lint.Chunk(key, 3, None),) and again.packages == [again.own] and again.shared_files == 3


def test_the_dependencies_in_chunks_each_checked_and_kept_on_its_own(tmp_path):
    deps = {f"{SITE}/dep{i}/__init__.py": f"N = {i}\n" for i in range(12)}
    deb = make_deb(tmp_path, OVERRIDE_ALL, extra=deps)
    parts = split(deb, tmp_path / "parts", chunks=3)
    assert len(parts.chunks) == 3 and all(c.package is not None for c in parts.chunks)
    helpers = names(parts.own) & names(parts.chunks[0].package)
    held = [names(c.package) - helpers for c in parts.chunks]
    assert set().union(*held) | names(parts.own) == names(deb)
    assert sum(len(h) for h in held) == parts.shared_files == 15  # each file in one chunk only
    for chunk in parts.chunks:
        assert md5sums(chunk.package) == names(chunk.package)
    # one dependency changed: its chunk alone is checked again
    deps[f"{SITE}/dep5/__init__.py"] = "N = 55\n"
    passed = {c.key for c in parts.chunks}
    (tmp_path / "b").mkdir()
    again = split(make_deb(tmp_path / "b", OVERRIDE_ALL, extra=deps), tmp_path / "b" / "parts", chunks=3,
                  known=passed.__contains__)
    assert len([c for c in again.chunks if c.package is not None]) == 1


def test_the_build_path_is_found_in_any_part(tmp_path):
    (tmp_path / "x").mkdir()
    deb = make_deb(tmp_path / "x", OVERRIDE_ALL, build_path="/tmp/build-here/src")
    parts = split(deb, tmp_path / "parts", build_paths=("/tmp/build-here",))
    assert parts.leaks == (f"./{SITE}/demo_app/main.py",)


def test_a_package_with_shared_objects_of_its_own_is_checked_whole(tmp_path):
    own_object = f"{SITE}/demo_app/_speedups.cpython-311-x86_64-linux-gnu.so"
    deb = make_deb(tmp_path, OVERRIDE_ALL, extra={own_object: "not really ELF\n"})
    parts = split(deb, tmp_path / "parts")
    assert parts.own == deb and parts.chunks == () and parts.packages == [deb]
    assert lint._is_shared_object("libz.so.1.2.13") and not lint._is_shared_object("notes.so.txt")


@pytest.mark.parametrize("record, tops", [
    ("demo_app/__init__.py,sha256=x,10\ndemo_app-1.0.dist-info/RECORD,,\n../../../bin/demo,sha256=y,5\n",
     {"demo_app", "demo_app-1.0.dist-info"}),
    ('"odd,name.py",sha256=x,1\nsingle.py,,\n', {"odd,name.py", "single.py"}),
])
def test_own_top_levels(record, tops):
    assert lint.own_top_levels(record) == tops


@pytest.mark.parametrize("installed_kib, cores, chunks", [
    (3_321, 2, 1),      # the example app: a second chunk would only add lintian's start
    (0, 8, 1),          # no Installed-Size: still one chunk
    (122_038, 2, 2),    # the benchmark's large app on 2 cores
    (122_038, 16, 7),   # one chunk per LINTIAN_CHUNK_KIB when there are cores to spare
    (500_000, 1, 1),
])
def test_the_dependencies_are_checked_in_a_chunk_per_start_worth_of_work(installed_kib, cores, chunks):
    assert lintian_chunks(installed_kib, cores) == chunks
