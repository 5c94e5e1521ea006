"""Read every target back, compare sha256, and write ``dist/release.json``.

The manifest says what *is* published: each target's state comes from reading
it (``git ls-remote``, the index's simple page, the apt ``Packages`` index and
the pool file), not from what the earlier steps meant to do.
"""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from .. import index
from ..aptly import read_publication
from ..context import Context, ReleasePlan
from ..errors import PublishError
from ..manifest import Manifest
from ..planning import remote_state
from .publish_apt import deb_architecture


def _url_sha256(url: str) -> str:
    """The sha256 of the file at *url* (``file://``, ``http(s)://``, or a path)."""
    if "://" not in url:
        url = Path(url).resolve().as_uri()
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as response:
        for block in iter(lambda: response.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Confirm:
    name = "confirm and write the manifest"

    def describe(self, ctx: Context, plan: ReleasePlan) -> list[str]:
        return ["read back git, the index and the apt repository; compare sha256", "write dist/release.json"]

    def skip(self, ctx: Context, plan: ReleasePlan) -> str | None:
        return None

    def run(self, ctx: Context, plan: ReleasePlan) -> None:
        manifest = Manifest(
            name=ctx.config.name,
            version=str(plan.version),
            tag=plan.tag,
            commit=ctx.git.head(),
            artifacts=ctx.artifact_records(),
            installed=ctx.installed,
        )
        states = target_states(ctx, plan, manifest)
        manifest.targets = ctx.target_states = states
        manifest.write(ctx.dist / "release.json")
        bad = {name: s for name, s in states.items() if s["state"] not in ("published", "not configured")}
        if bad:
            raise PublishError(
                "targets do not hold the release: " + ", ".join(f"{n} {s['state']}" for n, s in bad.items()),
                "run hoist release again to finish it; `hoist status` shows each target",
            )


def target_states(ctx: Context, plan: ReleasePlan, manifest: Manifest) -> dict[str, dict]:
    """Each target's state for *manifest*: ``published``, ``missing`` or ``conflict``."""
    states: dict[str, dict] = {}
    remote = remote_state(ctx)
    states["git"] = {
        "remote": ctx.targets.git.remote,
        "tag": plan.tag,
        "state": "published" if remote.tags.get(plan.tag) == manifest.commit else ("missing" if plan.tag not in remote.tags else "conflict"),
    }

    pypi = ctx.targets.pypi
    if pypi is None:
        states["pypi"] = {"state": "not configured"}
    else:
        held = index.project_files(pypi.index_url, ctx.config.name)
        files = {a.filename: a.sha256 for a in manifest.artifacts if a.kind in ("sdist", "wheel")}
        state = "published"
        for name, sha in files.items():
            if name not in held:
                state = "missing" if state == "published" else state
            elif held[name] and held[name] != sha:
                state = "conflict"
        local = ctx.targets.local
        states["pypi"] = {
            # For local targets: the pypiserver that hoist ran on 127.0.0.1 for this upload.
            "upload_url": ctx.upload_url or pypi.upload_url or None,
            "index": str(local.index_dir) if local else pypi.index_url,
            "files": {n: held.get(n) for n in files},
            "state": state,
        }

    apt = ctx.apt_target()
    if apt is None:
        states["apt"] = {"state": "not configured"}
    else:
        deb = manifest.artifact("deb")
        publication = read_publication(ctx.runner, apt.url, plan.distribution, plan.component,
                                       deb_architecture(deb.filename), apt.public_key)
        entry = publication.packages.get(deb.filename)
        state = "missing"
        if entry is not None and (publication.signed or entry["SHA256"] != deb.sha256):
            pool_sha = _url_sha256(f"{apt.url.rstrip('/')}/{entry['Filename']}")
            state = "published" if entry["SHA256"] == deb.sha256 == pool_sha else "conflict"
        states["apt"] = {
            "url": apt.url,
            "distribution": plan.distribution,
            "component": plan.component,
            "public_key": apt.public_key,
            "signed": publication.signed,
            "state": state,
        }
    return states
