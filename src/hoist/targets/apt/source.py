"""The apt source a server uses: one file, one keyring path, written one way.

Every way hoist tells a server to read the repository (the release summary,
``hoist serve``, ``hoist server-setup``) renders the same deb822 source
(sources.list(5), "DEB822-STYLE FORMAT") into the same file,
``/etc/apt/sources.list.d/<package>.sources``, with the same keyring,
``/usr/share/keyrings/<package>-archive-keyring.gpg`` (where Debian's own
archive keyrings live).  A server set up by one and then by another ends
with one source: apt refuses two ``Signed-By`` values for one URI and suite.
"""

from __future__ import annotations

from debian.deb822 import Deb822

from ...redaction import without_userinfo

#: Where a server keeps the repository's public key.
KEYRING_DIR = "/usr/share/keyrings"

#: Where a server keeps the repository's source.
SOURCES_DIR = "/etc/apt/sources.list.d"


def keyring_name(package: str) -> str:
    """The file name of *package*'s repository key: ``<package>-archive-keyring.gpg``."""
    return f"{package}-archive-keyring.gpg"


def keyring_path(package: str) -> str:
    """Where a server keeps *package*'s repository key."""
    return f"{KEYRING_DIR}/{keyring_name(package)}"


def sources_path(package: str) -> str:
    """Where a server keeps *package*'s apt source."""
    return f"{SOURCES_DIR}/{package}.sources"


def render_source(package: str, url: str, suite: str, component: str, comment: str = "") -> str:
    """The deb822 source of *package*'s repository at *url* (userinfo
    removed: a password never goes into a server's files), *suite* and
    *component*, signed by the key at :func:`keyring_path`.

    :param comment: a first line saying who wrote it (without ``#``), or ``""``.
    """
    source = Deb822()
    source["Types"] = "deb"
    source["URIs"] = without_userinfo(url)
    source["Suites"] = suite
    source["Components"] = component
    source["Signed-By"] = keyring_path(package)
    return (f"# {comment}\n" if comment else "") + source.dump()


def setup_commands(package: str, url: str, suite: str, component: str, key: str) -> list[str]:
    """Shell commands that set a Debian server up by hand (as root) to
    install *package* from the repository: its key from *key* (a URL, or a
    path on this machine to copy), then the source of :func:`render_source`.
    """
    keyring = keyring_path(package)
    fetch_key = (f"curl -fsSLo {keyring} {without_userinfo(key)}" if "://" in key
                 else f"install -D -m 644 {key} {keyring}    # copied from this machine")
    text = render_source(package, url, suite, component).rstrip("\n").replace("\n", "\\n")
    return [fetch_key, f"printf '{text}\\n' > {sources_path(package)}",
            f"apt-get update && apt-get install {package}"]
