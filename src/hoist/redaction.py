"""One redaction for everything that leaves hoist: console, errors, tracebacks, JSON, the manifest.

Two kinds of secret are hidden: the values hoist knows of (the environment's
passwords and passphrase, :mod:`hoist.secrets`), and the userinfo of every
URL (``https://user:password@host/`` becomes ``https://***@host/``), since a
remote's or an index's URL may carry credentials as git and pip accept them
(RFC 3986 §3.2.1 deprecates it; tools still take it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

#: Secrets shorter than this are not redacted: replacing every "ab" in the
#: output would hide everything and protect nothing.
MIN_SECRET_LENGTH = 4

#: ``scheme://userinfo@``: the userinfo ends at the last ``@`` before the host's path.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#\s'\"<>]*)@")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """*text* with every URL's userinfo and every secret of at least
    :data:`MIN_SECRET_LENGTH` characters replaced by ``***`` (longest first)."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, "***")
    return text


def without_userinfo(url: str) -> str:
    """*url* without its userinfo (``https://u:p@host/x`` gives ``https://host/x``); other text as it is."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(SplitResult(parts.scheme, host, parts.path, parts.query, parts.fragment))


def userinfo(url: str) -> tuple[str, str] | None:
    """The (username, password) that *url* carries, percent-decoded, or None."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return None
    user, _, password = parts.netloc.rpartition("@")[0].partition(":")
    return unquote(user), unquote(password)
