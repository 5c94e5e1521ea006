"""Test helper: prove that a published apt repository installs on a clean Debian root.

A minimal Debian root (``debootstrap --variant=minbase``) of the host's own
release, from the host's own Debian mirror, is built once and cached as a
tarball. Each test unpacks it into a work directory and runs commands there
with ``chroot`` (nothing needs to be mounted; ``/proc`` is optional). The
repository under test is served over HTTP on 127.0.0.1 (the chroot shares the
host's network namespace) and installed with apt, which also fetches the
package's dependencies from the mirror.

Requires: root, Linux, ``debootstrap``, ``tar``, ``mount``/``umount``,
``chroot``, ``gpg`` (only to dearmor an ASCII-armored key), and the
``python-debian`` package (import name ``debian``). Sources of facts used here:
``sources.list(5)`` (deb822 ``.sources`` and one-line formats, ``Signed-By``),
``debootstrap(8)``, ``apt-get(8)`` (``--error-on=any``), ``dpkg-query(1)``,
``invoke-rc.d(8)``/``policy-rc.d`` (exit status 101 = "action forbidden"),
``proc_pid_mountinfo(5)``.

Typical use (pytest)::

    with debian_root(cache_dir, tmp_path) as root, serve_directory(public) as url:
        version = install_from_apt_repo(root, url, "bookworm", "main", key, "pkg")
        root.run(["pkg", "--version"])
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import http.server
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from debian.deb822 import Deb822

__all__ = [
    "VARIANT",
    "DebianRoot",
    "cached_root_tarball",
    "debian_mirror",
    "debian_root",
    "host_codename",
    "install_from_apt_repo",
    "serve_directory",
]

#: debootstrap variant used for the cached root (part of the cache key).
VARIANT = "minbase"

#: Environment for commands run inside the root. The host's environment is
#: deliberately not inherited (its PATH, PYTHONPATH, virtualenv, locale would
#: leak into the chroot).
BASE_ENV: Mapping[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}

#: Number of output characters kept in the AssertionError of a failed command.
OUTPUT_TAIL_CHARS = 4000

_SOURCES_DIR = Path("/etc/apt/sources.list.d")
_SOURCES_LIST = Path("/etc/apt/sources.list")


def host_codename() -> str:
    """Return the host's release codename, e.g. ``"bookworm"``.

    Source: ``VERSION_CODENAME`` of os-release(5), read with
    :func:`platform.freedesktop_os_release`.

    Raises:
        OSError: no os-release file exists.
        RuntimeError: os-release has no ``VERSION_CODENAME``.
    """
    codename = platform.freedesktop_os_release().get("VERSION_CODENAME", "")
    if not codename:
        raise RuntimeError("os-release has no VERSION_CODENAME")
    return codename


def _is_debian_archive(uri: str) -> bool:
    """True if ``uri``'s path ends in ``/debian`` (so not ``/debian-security``)."""
    return urlsplit(uri).path.rstrip("/").endswith("/debian")


def _mirror_from_deb822(codename: str, files: Sequence[Path]) -> str | None:
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for para in Deb822.iter_paragraphs(handle):
                if para.get("Enabled", "yes").strip().lower() == "no":
                    continue
                if "deb" not in para.get("Types", "").split():
                    continue
                if codename not in para.get("Suites", "").split():
                    continue
                uris: list[str] = str(para.get("URIs", "")).split()
                for uri in uris:
                    if _is_debian_archive(uri):
                        return uri.rstrip("/")
    return None


def _mirror_from_one_line(codename: str, path: Path) -> str | None:
    if not path.is_file():
        return None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        # deb [ options ] uri suite [component...]; options may contain spaces.
        line = re.sub(r"\[[^\]]*\]", " ", line)
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "deb" and fields[2] == codename:
            if _is_debian_archive(fields[1]):
                return fields[1].rstrip("/")
    return None


def debian_mirror() -> str:
    """Return the Debian mirror URI the host's own apt uses, without trailing ``/``.

    Sources, in order: deb822 paragraphs of ``/etc/apt/sources.list.d/*.sources``
    (parsed with ``debian.deb822.Deb822.iter_paragraphs``), then one-line
    ``deb`` entries of ``/etc/apt/sources.list`` and
    ``/etc/apt/sources.list.d/*.list``. The first enabled ``deb`` entry whose
    suites include the host codename (:func:`host_codename`) and whose URI path
    ends in ``/debian`` (which excludes ``/debian-security``) wins.

    Raises:
        RuntimeError: no such entry exists.
    """
    codename = host_codename()
    found = _mirror_from_deb822(codename, sorted(_SOURCES_DIR.glob("*.sources")))
    if found is None:
        for path in [_SOURCES_LIST, *sorted(_SOURCES_DIR.glob("*.list"))]:
            found = _mirror_from_one_line(codename, path)
            if found is not None:
                break
    if found is None:
        raise RuntimeError(
            f"no Debian mirror for suite {codename!r} in the host's apt sources"
        )
    return found


def _tarball_name(codename: str, mirror: str, variant: str) -> str:
    """Cache file name; it names codename, variant and mirror (slug + hash)."""
    parts = urlsplit(mirror)
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", f"{parts.netloc}{parts.path}").strip("_")
    digest = hashlib.sha256(mirror.encode()).hexdigest()[:10]
    return f"debian-{codename}-{variant}-{slug}-{digest}.tar"


def cached_root_tarball(cache_dir: Path, codename: str | None = None) -> Path:
    """Return a tarball of a minimal Debian root, building it on first use.

    ``codename``: another Debian release than the host's, from the same mirror.

    Built with ``debootstrap --variant=minbase <codename> <tmpdir> <mirror>``
    from :func:`host_codename` and :func:`debian_mirror`; the file name
    carries codename, variant and mirror, so another release or mirror gets
    another file. Uncompressed tar (``--numeric-owner``; device nodes kept):
    about 200 MB on disk, cheaper to unpack than a compressed one.

    The root is built in a temporary directory inside ``cache_dir`` and the
    tarball written under a temporary name, then renamed with
    :func:`os.replace` (atomic on one file system): a killed build leaves no
    cache file, only a ``.build-*`` directory (possibly with debootstrap's
    ``/proc`` mount still in it), which the next build unmounts and deletes.
    An exclusive ``flock`` on ``<name>.lock`` stops concurrent processes
    building twice.
    A cold build takes about 30-60 s (network bound).

    Raises:
        subprocess.CalledProcessError: debootstrap or tar failed.
        RuntimeError: see :func:`debian_mirror`, :func:`host_codename`, or a
            mount left behind by debootstrap could not be removed.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    codename, mirror = codename or host_codename(), debian_mirror()
    target = cache_dir / _tarball_name(codename, mirror, VARIANT)
    if target.is_file():
        return target
    with open(target.with_suffix(".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():  # another process built it while we waited
            return target
        # Builders hold the lock, so any build dir seen here is from a killed
        # run; a killed debootstrap leaves <dir>/root/proc mounted.
        for stale in cache_dir.glob(".build-*"):
            with contextlib.suppress(OSError, RuntimeError):
                _remove_tree(stale)
        build = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
        try:
            rootfs = build / "root"
            subprocess.run(
                ["debootstrap", f"--variant={VARIANT}", codename, str(rootfs), mirror],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            partial = build / "root.tar"
            subprocess.run(
                ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs),
                 "-cf", str(partial), "."],
                check=True,
            )
            os.replace(partial, target)
        finally:
            _remove_tree(build)
    return target


def _mounts_below(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first (from mountinfo)."""
    base = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            # Field 5 is the mount point, with space/tab/newline/backslash as octal.
            point = re.sub(
                r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4]
            )
            if point == base or point.startswith(base + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _unmount_below(path: Path) -> None:
    """Unmount everything mounted at or below ``path``; lazily if busy.

    Raises:
        RuntimeError: something is still mounted there afterwards.
    """
    for point in _mounts_below(path):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True)
    left = _mounts_below(path)
    if left:
        raise RuntimeError(f"still mounted below {path}: {left}")


def _remove_tree(path: Path) -> None:
    """Delete ``path`` after making sure nothing is mounted below it.

    Deleting through a mount (a bind of /dev, say) would delete host files,
    so this refuses (RuntimeError) rather than risk it.
    """
    if path.exists():
        _unmount_below(path)
        shutil.rmtree(path)


@dataclass(frozen=True)
class DebianRoot:
    """An unpacked Debian root; see :func:`debian_root`."""

    path: Path
    """Host path of the root directory (``<workdir>/root``)."""

    def run(
        self,
        argv: list[str],
        check: bool = True,
        env: Mapping[str, str] | None = None,
        *,
        timeout: float | None = 900,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the root with ``chroot``; return the finished process.

        ``argv[0]`` is looked up on the root's PATH. The environment is
        :data:`BASE_ENV` updated with ``env`` (the host environment is not
        inherited). stdout and stderr are captured as text (UTF-8,
        undecodable bytes replaced); stdin is ``/dev/null``. ``timeout`` is in
        seconds (``None``: no limit).

        Raises:
            AssertionError: ``check`` is true and the exit status is not 0;
                the message has the command, the status and the last
                :data:`OUTPUT_TAIL_CHARS` characters of stdout and stderr.
            subprocess.TimeoutExpired: the command ran longer than ``timeout``.
        """
        proc = subprocess.run(
            ["chroot", str(self.path), *argv],
            env={**BASE_ENV, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"command in {self.path} exited {proc.returncode}: {argv!r}\n"
                f"--- stdout (tail) ---\n{proc.stdout[-OUTPUT_TAIL_CHARS:]}\n"
                f"--- stderr (tail) ---\n{proc.stderr[-OUTPUT_TAIL_CHARS:]}"
            )
        return proc

    def write_text(self, path: str, text: str, mode: int = 0o644) -> Path:
        """Write ``text`` to the absolute in-root ``path``; return the host path.

        Parent directories are created. Raises ValueError if ``path`` is not
        absolute.
        """
        if not path.startswith("/"):
            raise ValueError(f"in-root path must be absolute: {path!r}")
        host = self.path / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_text(text, encoding="utf-8")
        host.chmod(mode)
        return host


#: apt configuration written into every root. Without a mounted /dev/pts,
#: apt cannot open the pty it uses for /var/log/apt/term.log and prints
#: "E: Can not write log (Is /dev/pts mounted?)" (exit status still 0);
#: not using a pty avoids both the message and the mount.
APT_CONF = 'Dpkg::Use-Pty "0";\n'

#: invoke-rc.d asks this script first; exit status 101 means "action
#: forbidden", so maintainer scripts do not start services in the root.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"


@contextlib.contextmanager
def debian_root(
    cache_dir: Path, workdir: Path, *, mount_proc: bool = False, keep: bool = False,
    codename: str | None = None,
) -> Iterator[DebianRoot]:
    """Unpack the cached root into ``workdir/root`` and yield a :class:`DebianRoot`.

    Setup: the tarball from :func:`cached_root_tarball` is unpacked (about
    2-3 s warm), the host's ``/etc/resolv.conf`` is copied in (content, not
    symlink), :data:`POLICY_RC_D` goes to ``/usr/sbin/policy-rc.d`` and
    :data:`APT_CONF` to ``/etc/apt/apt.conf.d/90debroot``.

    Mounts: none by default. Measured on Debian 12: ``apt-get update`` and
    ``apt-get install`` (with dependencies such as python3.11 and their
    maintainer scripts) succeed with nothing mounted; the tarball already
    has the static ``/dev`` nodes that debootstrap creates (null, zero,
    full, random, urandom, tty, console, ptmx). Pass ``mount_proc=True`` when
    the commands you run need ``/proc`` (``ps``, psutil, ``/proc/self/...``).

    At exit, always (also on exceptions): everything mounted at or below the
    root is unmounted (lazily if busy), then the root is deleted unless
    ``keep`` is true, so the host's mount table is as it was. A
    ``workdir/root`` left by a killed run is cleaned first the same way.

    Raises:
        RuntimeError: a mount below the root could not be removed (the root
            is then left on disk, since deleting through a mount is unsafe).
            If the body raised too, its exception propagates and this one is
            attached to it as a note.
        subprocess.CalledProcessError: tar or mount failed.
        Also what :func:`cached_root_tarball` raises.
    """
    tarball = cached_root_tarball(cache_dir, codename)
    root = workdir / "root"
    _remove_tree(root)
    root.mkdir(parents=True)

    def cleanup() -> None:
        if keep:
            _unmount_below(root)
        else:
            _remove_tree(root)

    try:
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-xpf", str(tarball), "-C", str(root)],
            check=True,
        )
        resolv = root / "etc/resolv.conf"
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        shutil.copyfile("/etc/resolv.conf", resolv)  # follows a host symlink
        handle = DebianRoot(root)
        handle.write_text("/usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)
        handle.write_text("/etc/apt/apt.conf.d/90debroot", APT_CONF)
        if mount_proc:
            subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
        yield handle
    except BaseException as exc:
        try:
            cleanup()
        except RuntimeError as failure:
            exc.add_note(f"debian_root cleanup also failed: {failure}")
        raise
    else:
        cleanup()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve_directory(path: Path) -> Iterator[str]:
    """Serve ``path`` read-only over HTTP on 127.0.0.1; yield the base URL.

    The port is a free one picked by the kernel (bind to port 0). The URL has
    no trailing slash, e.g. ``http://127.0.0.1:41234``. Requests are handled
    by :class:`http.server.ThreadingHTTPServer` in a daemon thread, with
    request logging switched off. The server is shut down and its socket
    closed at exit.

    Raises:
        NotADirectoryError: ``path`` is not a directory.
    """
    if not path.is_dir():
        raise NotADirectoryError(str(path))
    handler = functools.partial(_QuietHandler, directory=str(path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="serve_directory",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


_ARMOR_HEADER = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"


def _binary_keyring(public_key: Path) -> bytes:
    """Return ``public_key`` as a binary OpenPGP keyring (``gpg --dearmor`` if armored)."""
    data = public_key.read_bytes()
    if _ARMOR_HEADER in data[:4096]:
        with tempfile.TemporaryDirectory(prefix="debroot-gnupg-") as home:
            return subprocess.run(
                ["gpg", "--batch", "--homedir", home, "--dearmor"],
                input=data, capture_output=True, check=True,
            ).stdout
    # Binary: the first byte is an OpenPGP packet tag, which has bit 7 set.
    if not data or not data[0] & 0x80:
        raise ValueError(f"{public_key} is neither an armored nor a binary OpenPGP key")
    return data


def install_from_apt_repo(
    root: DebianRoot,
    repo_url: str,
    distribution: str,
    component: str,
    public_key: Path,
    package: str,
    *,
    name: str = "hoist-test",
    version: str | None = None,
) -> str:
    """Install ``package`` into ``root`` from a signed apt repository; return its version.

    ``version``: that version of the package (``apt-get install <package>=<version>``),
    not the newest.

    Steps: ``public_key`` (armored, converted with ``gpg --dearmor``, or
    already binary) is written to ``/etc/apt/keyrings/<name>.gpg``; a deb822
    ``/etc/apt/sources.list.d/<name>.sources`` (Types: deb, URIs:
    ``repo_url``, Suites: ``distribution``, Components: ``component``,
    Signed-By: that keyring) is written; then ``apt-get update
    --error-on=any`` (any fetch or signature problem fails) and
    ``apt-get install -y <package>`` with
    ``DEBIAN_FRONTEND=noninteractive`` run inside. Dependencies come from the
    mirror in the root's ``/etc/apt/sources.list`` (written by debootstrap).

    Returns:
        The installed version, from ``dpkg-query -W -f='${Version}' <package>``.

    Raises:
        AssertionError: an apt or dpkg-query command failed (see
            :meth:`DebianRoot.run`).
        ValueError: ``public_key`` is not an OpenPGP key file.
        subprocess.CalledProcessError: ``gpg --dearmor`` failed.
    """
    keyring = f"/etc/apt/keyrings/{name}.gpg"
    host_keyring = root.path / keyring.lstrip("/")
    host_keyring.parent.mkdir(parents=True, exist_ok=True)
    host_keyring.write_bytes(_binary_keyring(public_key))
    host_keyring.chmod(0o644)
    root.write_text(
        f"/etc/apt/sources.list.d/{name}.sources",
        f"Types: deb\nURIs: {repo_url}\nSuites: {distribution}\n"
        f"Components: {component}\nSigned-By: {keyring}\n",
    )
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    root.run(["apt-get", "update", "--error-on=any"], env=env)
    root.run(["apt-get", "install", "-y", package if version is None else f"{package}={version}"], env=env)
    return root.run(["dpkg-query", "-W", "-f=${Version}", package]).stdout
