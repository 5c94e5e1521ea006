"""hoist.buildtime.fixup on a staged virtualenv: what it rewrites, byte for byte."""

from __future__ import annotations

from pathlib import Path

from hoist.buildtime.fixup import fix_launchers

BODY = b"# -*- coding: utf-8 -*-\nimport sys\nfrom hello.cli import main\nif __name__ == '__main__':\n    sys.exit(main())\n"
DEEP = "/tmp/" + "a-rather-deep-directory/" * 6 + "src/debian/hello/opt/hello"


def staged_venv(tmp_path: Path, scripts: dict[str, bytes]) -> Path:
    venv = tmp_path / "opt" / "hello"
    (venv / "bin").mkdir(parents=True)
    for name, data in scripts.items():
        (venv / "bin" / name).write_bytes(data)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3.11")
    return venv


def test_sh_launchers_become_plain_shebangs(tmp_path: Path) -> None:
    quoted = f"#!/bin/sh\n'''exec' '{DEEP}/bin/python' \"$0\" \"$@\"\n' '''\n".encode() + BODY
    # dh-virtualenv's rewrite of the build path to the install root leaves the quoting half done
    half = "#!/bin/sh\n'''exec' /opt/hello/bin/python' \"$0\" \"$@\"\n' '''\n".encode() + BODY
    plain = b"#!/opt/hello/bin/python\n" + BODY
    other = b"#!/bin/sh\necho a shell script of the project's own\n"
    venv = staged_venv(tmp_path, {"hello": quoted, "hello-admin": half, "gunicorn": plain, "helper.sh": other})

    fixed = fix_launchers(venv, "/opt/hello")

    assert sorted(p.name for p in fixed) == ["hello", "hello-admin"]
    for name in ("hello", "hello-admin", "gunicorn"):
        assert (venv / "bin" / name).read_bytes() == plain, name
    assert (venv / "bin" / "helper.sh").read_bytes() == other
    assert (venv / "bin" / "python").is_symlink()


def test_an_install_root_too_long_for_a_shebang_keeps_the_launchers(tmp_path: Path) -> None:
    root = "/opt/" + "x" * 130
    launcher = f"#!/bin/sh\n'''exec' '{root}/bin/python' \"$0\" \"$@\"\n' '''\n".encode() + BODY
    venv = staged_venv(tmp_path, {"hello": launcher})
    assert fix_launchers(venv, root) == []
    assert (venv / "bin" / "hello").read_bytes() == launcher


# --------------------------------------------------------------------------- hoist.buildtime.shlibdeps


def run_shlibdeps(tmp_path: Path, monkeypatch, status: bytes) -> tuple[int, str]:
    """The wrapper around a stand-in for dh_shlibdeps that counts its runs and
    writes one shlibs: line (the real one runs in every .deb build of the
    end-to-end tests)."""
    from hoist.buildtime import shlibdeps

    (tmp_path / "status").write_bytes(status)
    monkeypatch.setattr(shlibdeps, "STATUS", tmp_path / "status")
    if not (tmp_path / "debian" / "control").exists():
        (tmp_path / "debian" / "control").write_text("Source: hello\n\nPackage: hello\nArchitecture: any\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    substvars = tmp_path / "debian" / "hello.substvars"
    substvars.write_text("misc:Depends=\nshlibs:Depends=stale\n")
    command = ["sh", "-c", f"echo run >> {tmp_path}/runs; sed -i '/^shlibs:/d' {substvars}; "
               f"echo 'shlibs:Depends=libc6 (>= 2.34), zlib1g (>= 1:1.2.0)' >> {substvars}"]
    code = shlibdeps.main([str(tmp_path / "debian" / "hello"), "--", *command])
    runs = (tmp_path / "runs").read_text().count("run") if (tmp_path / "runs").exists() else 0
    assert substvars.read_text() == "misc:Depends=\nshlibs:Depends=libc6 (>= 2.34), zlib1g (>= 1:1.2.0)\n"
    return code, runs


def test_shlibdeps_runs_once_per_shared_objects_and_dpkg_status(tmp_path: Path, monkeypatch) -> None:
    staging = tmp_path / "debian" / "hello" / "opt" / "hello" / "lib"
    staging.mkdir(parents=True)
    elf = staging / "_speedups.so"
    elf.write_bytes(b"\x7fELF" + b"\0" * 60)
    (staging / "not-elf.so.txt").write_bytes(b"text")
    assert run_shlibdeps(tmp_path, monkeypatch, b"Package: zlib1g\n") == (0, 1)
    assert run_shlibdeps(tmp_path, monkeypatch, b"Package: zlib1g\n") == (0, 1)  # kept: not run again
    (staging / "not-elf.so.txt").write_bytes(b"other text")  # not a shared object: no matter
    assert run_shlibdeps(tmp_path, monkeypatch, b"Package: zlib1g\n") == (0, 1)
    elf.write_bytes(b"\x7fELF" + b"\1" * 60)  # another shared object
    assert run_shlibdeps(tmp_path, monkeypatch, b"Package: zlib1g\n") == (0, 2)
    assert run_shlibdeps(tmp_path, monkeypatch, b"Package: zlib1g\nVersion: 2\n") == (0, 3)  # dpkg changed


def test_shlibdeps_of_several_binary_packages_runs_every_time(tmp_path: Path, monkeypatch) -> None:
    staging = tmp_path / "debian" / "hello" / "lib"
    staging.mkdir(parents=True)
    (staging / "_speedups.so").write_bytes(b"\x7fELF" + b"\0" * 60)
    (tmp_path / "debian" / "control").write_text(
        "Source: hello\n\nPackage: hello\nArchitecture: any\n\nPackage: hello-tools\nArchitecture: any\n")
    assert run_shlibdeps(tmp_path, monkeypatch, b"Package: zlib1g\n") == (0, 1)
    assert run_shlibdeps(tmp_path, monkeypatch, b"Package: zlib1g\n") == (0, 2)
