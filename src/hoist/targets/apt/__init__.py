"""The apt repository, one package: what hoist knows about apt and aptly.

``repository``   the target: one publish algorithm, one channel move, read back as apt reads
``transport``    what a transport of it does, and the values they pass
``cli``          an aptly root on this machine (aptly's CLI, a file lock, signed here)
``api``          aptly's REST API on a server (many writers, repairs, the server signs)
``signing``      every gpg call: the session, detached signatures, ``Valid-Until``
``publication``  a published distribution as apt reads it (InRelease, Packages)
``source``       the apt source a server uses, rendered one way
``settings``     ``[tool.hoist.apt]``, declared once
"""

from __future__ import annotations

from .repository import AptRepository, ChannelState, Held
from .settings import AptSettings

__all__ = ["AptRepository", "AptSettings", "ChannelState", "Held"]
