"""hoist.buildtime.seed: the dependencies' files kept from one .deb build for the next.

On real files: which are linked and which copied, that nothing written
afterwards goes through a link, the fallback when the kept directory goes
away.  That a build from linked files gives the same .deb byte for byte as
one that installed them is tests/test_reproducible.py's rebuild.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import run_hoist

from hoist.buildtime import seed
from hoist.buildtime.fixup import fix_records

SITE = "lib/python3.11/site-packages"
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 57


def install(venv: Path, name: str, files: dict[str, bytes]) -> None:
    """A distribution as an installer leaves it: its files and a RECORD that lists them."""
    site = venv / SITE
    dist_info = f"{name}-1.0.dist-info"
    rows = []
    for path, data in {**files, f"{dist_info}/METADATA": f"Name: {name}\nVersion: 1.0\n".encode()}.items():
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        rows.append(f"{path},sha256=x,{len(data)}")
    rows.append(f"{dist_info}/RECORD,,")
    (site / dist_info / "RECORD").write_text("\n".join(rows) + "\n")


def app_wheel(tmp_path: Path, files: dict[str, bytes], version: str = "2.0") -> Path:
    wheel = tmp_path / f"hello-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def staged(tmp_path: Path, name: str) -> Path:
    venv = tmp_path / name / "opt" / "hello"
    install(venv, "flask", {"flask/__init__.py": b"flask\n", "flask/app.py": b"app\n",
                            "../../../bin/flask": b"#!/opt/hello/bin/python\nflask\n"})
    install(venv, "markupsafe", {"markupsafe/__init__.py": b"ms\n", "markupsafe/_speedups.so": ELF,
                                 "acme/libfoo.a": b"!<arch>\n", "acme/__init__.py": b"shared namespace\n",
                                 "acme/_fast.so": ELF})
    (venv / SITE / "markupsafe" / "data" / "empty").mkdir(parents=True)
    install(venv, "hello", {"hello/__init__.py": b"hello 1\n", "acme/__init__.py": b"shared namespace\n"})
    return venv


def test_kept_files_are_linked_and_those_written_in_place_copied(tmp_path: Path) -> None:
    first = staged(tmp_path, "first")
    wheel = app_wheel(tmp_path, {"hello/__init__.py": b"hello 2\n", "acme/__init__.py": b"shared namespace\n",
                                 "flaskext/__init__.py": b"begins as flask/ does\n"})
    kept = tmp_path / "cache" / "opt_hello" / "key"

    assert seed.keep(kept, first, wheel) == 2
    assert seed.keep(kept, first, wheel) == 0  # there already
    tree = kept / "tree"
    assert (tree / SITE / "flask/app.py").samefile(first / SITE / "flask/app.py")  # a link, no copy
    assert (tree / SITE / "flask/app.py").stat().st_mtime == seed.FAR_FUTURE  # clamped to any release's time
    assert not (tree / SITE / "hello").exists()  # the application's own
    assert not (tree / SITE / "acme/__init__.py").exists()  # installed by the application too

    second = tmp_path / "second" / "opt" / "hello"
    assert seed.link(kept, second, wheel, "/opt/hello") == 2
    assert seed.linked(kept, second) == 2
    assert (second / SITE / "flask/app.py").samefile(tree / SITE / "flask/app.py")
    for copied in ("bin/flask", f"{SITE}/markupsafe/_speedups.so"):  # sed -i, strip: written in place
        assert (second / copied).read_bytes() == (tree / copied).read_bytes()
        assert not (second / copied).samefile(tree / copied), copied
    assert not (second / SITE / "hello").exists()
    assert seed.link(kept, second, wheel, "/opt/hello") == 0  # a virtualenv already there is left alone

    # When debian/rules passes dh_strip the options written, ELF files in trees of the dependencies' alone are linked.
    third, excludes = tmp_path / "third" / "opt" / "hello", tmp_path / "third" / "excludes"
    assert seed.link(kept, third, wheel, "/opt/hello", excludes) == 2
    assert (third / SITE / "markupsafe/_speedups.so").samefile(tree / SITE / "markupsafe/_speedups.so")
    assert not (third / SITE / "acme/_fast.so").samefile(tree / SITE / "acme/_fast.so")  # acme/ is the app's too
    # dh_strip matches -X as a part of the path: -X/site-packages/flask would skip the application's flaskext/.
    assert excludes.read_text().splitlines() == [f"-X/opt/hello/{SITE}/{name}" for name in (
        "flask-1.0.dist-info", "markupsafe", "markupsafe-1.0.dist-info")]
    assert not (third / SITE / "acme/libfoo.a").samefile(tree / SITE / "acme/libfoo.a")  # dh_strip's too
    assert (third / SITE / "markupsafe/data/empty").is_dir()  # as uv makes it from the wheel


def test_a_wheel_that_no_longer_installs_a_shared_file_gets_the_dependencies_installed(tmp_path: Path) -> None:
    """acme/__init__.py was the application's too when kept, so it is not kept: linked
    without it, markupsafe would lack a file of its RECORD."""
    wheel = app_wheel(tmp_path, {"hello/__init__.py": b"", "acme/__init__.py": b"shared namespace\n"})
    kept = tmp_path / "cache" / "key"
    seed.keep(kept, staged(tmp_path, "first"), wheel)
    later = app_wheel(tmp_path, {"hello/__init__.py": b"no namespace any more\n"}, version="3.0")
    venv = tmp_path / "second" / "opt" / "hello"
    assert seed.link(kept, venv, later, "/opt/hello") == 0
    assert not venv.exists()


def test_nothing_kept_links_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "opt" / "hello"
    wheel = app_wheel(tmp_path, {"hello/__init__.py": b""})
    assert seed.link(tmp_path / "none", venv, wheel, "/opt/hello") == 0
    assert seed.linked(tmp_path / "none", venv) == 0
    assert not venv.exists()


def test_a_kept_directory_removed_meanwhile_leaves_no_half_virtualenv(tmp_path: Path, capsys) -> None:
    first = staged(tmp_path, "first")
    wheel = app_wheel(tmp_path, {"hello/__init__.py": b""})
    kept = tmp_path / "cache" / "key"
    seed.keep(kept, first, wheel)
    shutil.rmtree(kept / "tree" / SITE / "markupsafe")  # as another build's clean-up would, midway
    venv = tmp_path / "second" / "opt" / "hello"
    assert seed.link(kept, venv, wheel, "/opt/hello") == 0
    assert not venv.exists()  # dh_virtualenv installs everything, as without a kept one
    assert "could not be linked" in capsys.readouterr().err
    assert not kept.exists()  # broken: the next build keeps a whole one


def test_the_two_newest_per_install_root_are_kept(tmp_path: Path) -> None:
    venv = staged(tmp_path, "first")
    wheel = app_wheel(tmp_path, {"hello/__init__.py": b""})
    root = tmp_path / "cache" / "opt_hello"
    for used, key in [(1000, "older"), (2000, "old"), (3000, "new")]:
        seed.keep(root / key, venv, wheel)
        os.utime(root / key, (used, used))
    seed.keep(root / "newest", venv, wheel)
    assert sorted(p.name for p in root.iterdir()) == ["new", "newest"]


def test_the_fixup_replaces_a_record_and_never_writes_through_a_link(tmp_path: Path) -> None:
    venv = staged(tmp_path, "first")
    record = venv / SITE / "flask-1.0.dist-info" / "RECORD"
    kept = tmp_path / "kept-RECORD"
    os.link(record, kept)
    before = kept.read_bytes()
    (venv / "bin" / "flask").write_bytes(b"#!/opt/hello/bin/python\nrewritten\n")

    fix_records(venv)

    assert kept.read_bytes() == before
    assert "bin/flask,sha256=" in record.read_text() and not record.samefile(kept)
    untouched = venv / SITE / "markupsafe-1.0.dist-info" / "RECORD"
    inode = untouched.stat().st_ino
    fix_records(venv)  # nothing under bin/ changed: no RECORD is rewritten
    assert untouched.stat().st_ino == inode


def test_one_build_at_a_time_holds_the_kept_directories_of_an_install_root(tmp_path: Path) -> None:
    kept = tmp_path / "venvs" / "opt_hello" / "0123"
    with seed.in_use(kept) as first:
        with seed.in_use(kept) as second, seed.in_use(tmp_path / "venvs" / "opt_other" / "0123") as other:
            assert (first, second, other) == (True, False, True)
    with seed.in_use(kept) as again:
        assert again


@pytest.mark.slow
def test_a_build_that_finds_the_kept_virtualenv_in_use_installs_everything(
        example_project, hoist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another build's links would change the change time of the files dpkg-deb's tar reads
    ("file changed as we read it"): this one neither links nor keeps, and is released."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = example_project()
    root = tmp_path / "cache" / "hoist" / "venvs" / "opt_hoist-hello"
    with seed.in_use(root / "any") as held:
        assert held
        result = run_hoist(project, "release")
    assert result.returncode == 0, result.output
    assert "venv: another build uses the kept virtualenvs of /opt/hoist-hello: uv installs every distribution" \
        in result.output
    assert "kept for the next build" not in result.output and "linked from" not in result.output
    assert [p.name for p in root.iterdir()] == [seed.LOCK]
