"""An apt repository on a server: aptly's REST API (``aptly api serve``), the server signs.

CI agents hold no aptly, no database and no signing key: they upload the
.deb into a directory of the API's own that is unique to the run, add it to
the local repository, snapshot the repository under a name unique to the run,
and publish the snapshot or switch the distribution to it (aptly docs, "REST
API": ``/api/files``, ``/api/repos``, ``/api/publish``).  Behind a web server
that adds basic authentication (``HOIST_APT_API_USERNAME`` and
``HOIST_APT_API_PASSWORD``; ``HOIST_APT_API_CA`` for a private CA bundle).

Several agents publish at once, and aptly 1.5.0 (Debian 12) can lose a
package from a publication when publishes race (aptly issue 1125, fixed in
1.6.3); a switch to a snapshot taken before another agent's add would also
drop that package.  So after its switch a release reads the publication back
as apt does, through ``url``, and publishes again (a new snapshot of the
repository) while a package that the repository holds is missing from it:
the last switch is always followed by such a check, so the publication ends
complete.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from debian.debian_support import Version

from ..config import AptTarget
from ..errors import ConflictError, PreflightError, PublishError
from ..manifest import Artifact
from ..redaction import without_userinfo
from ..secrets import APT_API_PASSWORD_VAR, APT_API_USERNAME_VAR
from .apt import Held, PublishedRepository, conflict_message, deb_architecture
from .base import CONFLICT, MISSING, Env, ReleaseRef, TargetState

#: The API's CA bundle, when a private CA signs its certificate.
CA_VAR = "HOIST_APT_API_CA"

#: Publishes after the first, at most, while the publication lacks a package of the repository.
REPAIRS = 5

#: How long a read waits for another agent to repair a publication that
#: lacks a package the repository holds, in seconds.
CONVERGE_SECONDS = 60.0

#: Answers of a busy web server in front of the API, and how long to try again, in seconds.
BUSY = (502, 503, 504)
BUSY_SECONDS = 300.0

#: Seconds for one API request (a publish of a large repository takes a while).
TIMEOUT = 300.0


def api_prefix(prefix: str) -> str:
    """*prefix* as a URL path segment of the API (aptly docs: ``_`` for ``/``, ``__`` for ``_``, ``:`` before it)."""
    return ":" + prefix.replace("_", "__").replace("/", "_")


class ApiError(PublishError):
    """The API answered with an error status (:attr:`status`)."""

    def __init__(self, message: str, hint: str, status: int) -> None:
        super().__init__(message, hint)
        self.status = status


class AptlyApi:
    """A client of aptly's REST API.

    :param url: the API's base URL (``https://apt.example/api``).
    :param auth: (username, password) for the web server in front, or None.
    :param ca: a CA bundle to verify the server with, or None for the system's.
    """

    def __init__(self, url: str, auth: tuple[str, str] | None = None, ca: str | None = None) -> None:
        self.url = without_userinfo(url).rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth
        self.session.verify = ca or True
        self.session.trust_env = False  # no proxy, no netrc: the credentials are the ones given

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> requests.Response:
        """One request; the answer, whose status is one of *ok* (or 404, which callers read).

        A web server in front that answers 502, 503 or 504 is busy (or gives
        writers their turn one at a time, as ``packaging/nginx-apt.conf``
        does): the request is sent again after a short random pause, for up to
        :data:`BUSY_SECONDS`.  A file upload is read again for each try.

        :raises PublishError: the API cannot be reached, refuses the
            credentials (401, 403), stays busy, or answers with another error.
        """
        url = f"{self.url}{path}"
        deadline = time.monotonic() + BUSY_SECONDS
        pause = 0.05
        while True:
            for handle in (kwargs.get("files") or {}).values():
                handle[1].seek(0)
            try:
                response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                raise PublishError(f"the aptly API at {self.url} is down or unreachable: {type(exc).__name__}",
                                   "check tool.hoist.apt.api_url and that `aptly api serve` and its web server "
                                   "run") from None
            if response.status_code not in BUSY or time.monotonic() > deadline:
                break
            time.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 1.5, 2.0)
        if response.status_code in (401, 403):
            raise PublishError(
                f"the aptly API at {self.url} refused the credentials ({response.status_code})",
                f"set {APT_API_USERNAME_VAR} and {APT_API_PASSWORD_VAR} to a login of the web server in front of it")
        if response.status_code not in (*ok, 404):
            raise ApiError(f"the aptly API answered {response.status_code} to {method} {path}: "
                           f"{_error(response)}", "read aptly's message; `aptly api serve` logs it too",
                           response.status_code)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of a successful answer; None for 404."""
        response = self.call(method, path, **kwargs)
        return None if response.status_code == 404 else response.json()


def _error(response: requests.Response) -> str:
    try:
        return str(response.json().get("error") or response.text)[:300]
    except ValueError:
        return response.text[:300]


@dataclass(frozen=True)
class ApiPublishPlan:
    """Through *api_url*: upload the .deb into a directory of its own, add it
    to *repo*, snapshot the repository, publish or switch *distribution* at
    *prefix*; read it back through *url*; keep the newest *keep* versions
    (0: all)."""

    api_url: str
    repo: str
    distribution: str
    component: str
    prefix: str
    url: str
    signing_key: str
    keep: int


class AptlyApiRepository(PublishedRepository):
    """An aptly repository on a server, reached through its REST API."""

    def __init__(self, settings: AptTarget, env: Env, api: AptlyApi) -> None:
        super().__init__(settings, env)
        self.api = api

    @classmethod
    def from_settings(cls, settings: AptTarget, env: Env) -> AptlyApiRepository:
        user, password = os.environ.get(APT_API_USERNAME_VAR), os.environ.get(APT_API_PASSWORD_VAR)
        return cls(settings, env, AptlyApi(settings.api_url, (user, password or "") if user else None,
                                           os.environ.get(CA_VAR) or None))

    # -- reading -----------------------------------------------------------------------

    def _packages(self, query: str) -> list[dict[str, str]]:
        """The repository's packages that match aptly's package *query*, with their fields."""
        found = self.api.json("GET", f"/repos/{quote(self.settings.repo)}/packages",
                              params={"q": query, "format": "details"})
        return found or []

    def _held(self, package: str, version: str, architecture: str) -> dict[str, str] | None:
        matches = self._packages(f"Name (= {package}), $Version (= {version}), $Architecture (= {architecture})")
        return matches[0] if matches else None

    def _publications(self) -> list[dict[str, Any]]:
        return self.api.json("GET", "/publish") or []

    def _published(self, distribution: str) -> dict[str, Any] | None:
        return next((p for p in self._publications()
                     if p.get("Prefix") == self.settings.prefix and p.get("Distribution") == distribution), None)

    def state(self, release: ReleaseRef, artifacts: Sequence[Artifact] = ()) -> TargetState:
        """As apt sees the publication; and a conflict when the repository
        (through the API) holds another file under the .deb's name.

        When the repository holds the release but the publication does not
        list it, another agent's publish may have just switched to a snapshot
        taken before this one's add; that agent repairs it (see the module's
        docstring), so the publication is read again for up to
        :data:`CONVERGE_SECONDS` before the release counts as missing.
        """
        deb = next((a for a in artifacts if a.kind == "deb"), None)
        held = None
        if deb is not None:
            held = self._held(self.env.config.package, release.version, deb_architecture(deb.filename))
            if held is not None and held.get("SHA256") != deb.sha256:
                return TargetState(self.name, CONFLICT, conflict_message(deb.filename, held["SHA256"], deb.sha256),
                                   {"api_url": self.api.url, "repo": self.settings.repo})
        deadline = time.monotonic() + CONVERGE_SECONDS
        while True:
            state = super().state(release, artifacts)
            if state.state != MISSING or held is None or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        return TargetState(state.target, state.state, state.detail, {**state.facts, "api_url": self.api.url})

    # -- the interface -----------------------------------------------------------------

    def plan(self, release: ReleaseRef) -> ApiPublishPlan:
        s = self.settings
        return ApiPublishPlan(self.api.url, s.repo, release.distribution, release.component, s.prefix,
                              without_userinfo(s.url), s.gpg_key or "(the server's default key)", s.keep)

    def check(self, release: ReleaseRef) -> None:
        """The API answers and accepts the credentials, the repository exists,
        and a publication that exists already verifies with the public key
        through *url* (so that what servers read is what the API publishes).

        :raises PublishError: the API is down or refuses the credentials.
        :raises PreflightError: no such repository; *url* does not serve the
            publication, or the public key does not verify it.
        """
        self.api.json("GET", "/version")
        if self.api.json("GET", f"/repos/{quote(self.settings.repo)}") is None:
            raise PreflightError(
                f"the aptly server has no repository {self.settings.repo!r}",
                f"create it through the API: POST {self.api.url}/repos with {{\"Name\": \"{self.settings.repo}\", "
                f"\"DefaultDistribution\": \"{release.distribution}\", \"DefaultComponent\": \"{release.component}\"}} "
                "(or `aptly repo create` on the server while the API is stopped: it holds aptly's database)")
        if self._published(release.distribution) is None:
            return
        publication = self._publication(release, self._architecture(()))
        if not publication.signed:
            raise PreflightError(
                f"the published {release.distribution} at {without_userinfo(self.settings.url)} is not what apt "
                f"would accept: {publication.problem}",
                "check tool.hoist.apt.url (where the web server serves aptly's public directory) and "
                "tool.hoist.apt.public_key (the server's signing key)")

    def publish(self, plan: ApiPublishPlan, artifacts: Sequence[Artifact]) -> None:
        """Add the .deb unless the repository has it (the same sha256: skipped;
        another: a conflict), then snapshot and publish or switch until the
        publication holds it and everything it held before, and apply retention.

        :raises ConflictError: the repository holds another file under the .deb's name.
        :raises PublishError: the API refused, or the publication is still
            incomplete after :data:`REPAIRS` publishes.
        """
        deb = next(a for a in artifacts if a.kind == "deb")
        version = deb.filename.split("_")[1]
        held = self._held(self.env.config.package, version, deb_architecture(deb.filename))
        if held is not None and held.get("SHA256") != deb.sha256:
            raise ConflictError(conflict_message(deb.filename, held["SHA256"], deb.sha256),
                                "a published package is never overwritten: release a new version")
        if held is not None:
            self.env.ui.line(f"    the repository has {deb.filename} already (same sha256)")
        release = ReleaseRef(version, "", None, plan.distribution, plan.component)
        self._publish_until_complete(plan, release, deb)
        if plan.keep:
            self._retain(plan, release, deb)

    # -- channels ----------------------------------------------------------------------

    def in_repository(self, version: str) -> Held | None:
        package = self.env.config.package
        held = self._held(package, version, self._architecture(()))
        if held is None:
            return None
        return Held(version, f"{package}_{version}_{held['Architecture']}.deb", held["SHA256"])

    def put(self, channel: str, component: str, version: str) -> None:
        """A snapshot of the channel's packages (aptly's ``POST /snapshots``
        with ``PackageRefs``) with the package's other versions left out and
        the repository's *version* in, published to the channel."""
        package = self.env.config.package
        held = self._held(package, version, self._architecture(()))
        if held is None:
            raise PublishError(f"the apt repository does not hold {package} {version}",
                               "promote a version the repository still holds (hoist status lists the channels)")
        current = self._publication_packages(channel, component)
        refs = sorted(k for k, p in current.items() if p.get("Package") != package) + [held["Key"]]
        name = f"{self.settings.repo}-{channel}-{package}-{version}-{uuid.uuid4().hex[:8]}"
        self.api.json("POST", "/snapshots", json={"Name": name, "PackageRefs": refs,
                                                  "Description": f"{package} {version} in {channel}"})
        self._switch(self.plan(ReleaseRef(version, "", None, channel, component)), name)

    def _add(self, deb: Artifact) -> None:
        """Upload *deb* into a directory unique to this run and add it to the repository."""
        directory = f"hoist-{self.env.config.package}-{uuid.uuid4().hex[:16]}"
        try:
            with deb.path.open("rb") as handle:
                self.api.call("POST", f"/files/{directory}", files={"file": (deb.filename, handle)})
            report = self.api.json("POST", f"/repos/{quote(self.settings.repo)}/file/{directory}")
        finally:
            self.api.call("DELETE", f"/files/{directory}")
        failed = (report or {}).get("FailedFiles") or []
        warnings = ((report or {}).get("Report") or {}).get("Warnings") or []
        if failed or any("conflict" in w.lower() for w in warnings):
            raise ConflictError(f"aptly did not add {deb.filename}: {'; '.join([*failed, *warnings])[:400]}",
                                "a package is never overwritten: release a new version")

    def _snapshot(self) -> str:
        name = f"{self.settings.repo}-{self.env.config.package}-{uuid.uuid4().hex[:12]}"
        self.api.json("POST", f"/repos/{quote(self.settings.repo)}/snapshots", json={"Name": name})
        return name

    def _switch(self, plan: ApiPublishPlan, snapshot: str) -> None:
        signing: dict[str, Any] = {"Batch": True, **({"GpgKey": self.settings.gpg_key} if self.settings.gpg_key else {})}
        prefix = api_prefix(plan.prefix)
        if self._published(plan.distribution) is None:
            answer = self.api.call("POST", f"/publish/{prefix}", ok=(200, 201, 400), json={
                "SourceKind": "snapshot", "Sources": [{"Component": plan.component, "Name": snapshot}],
                "Distribution": plan.distribution, "Signing": signing, "AcquireByHash": True,
                "Origin": self.settings.release_origin, "Label": self.settings.release_label})
            if answer.status_code != 400:
                return
            # Another agent published the distribution first: switch it instead.
        self.api.json("PUT", f"/publish/{prefix}/{quote(plan.distribution)}", json={
            "Snapshots": [{"Component": plan.component, "Name": snapshot}], "Signing": signing, "AcquireByHash": True})

    def _repository(self) -> dict[str, dict[str, str]]:
        """The repository's packages, by aptly key."""
        return {p["Key"]: p for p in self._packages("")}

    def _publication_packages(self, distribution: str, component: str) -> dict[str, dict[str, str]]:
        """The packages of the snapshot *distribution* publishes in *component*, by aptly key."""
        published = self._published(distribution)
        source = next((s for s in (published or {}).get("Sources") or [] if s.get("Component") == component), None)
        if published is None or source is None or published.get("SourceKind") != "snapshot":
            return {}
        listed = self.api.json("GET", f"/snapshots/{quote(source['Name'])}/packages", params={"format": "details"})
        return {p["Key"]: p for p in listed or []}

    def _publish_until_complete(self, plan: ApiPublishPlan, release: ReleaseRef, deb: Artifact,
                                dropped: frozenset[str] = frozenset()) -> None:
        """Snapshot the repository and switch to it until the publication, as
        apt reads it, holds *deb* and every package that the repository or an
        earlier publication held (but *dropped*, which retention removes).

        aptly 1.5.0 loses packages when agents add or publish at once: an add
        whose read of the repository preceded another's can drop that other
        package from the repository, and concurrent publishes fail or mix their
        files.  Each round therefore puts back into the repository what a
        publication seen in this run held and the repository lost (aptly keeps
        the packages themselves; only the repository's list lost them), adds
        *deb* again if it was lost, and publishes again; a server error of a
        publish is retried the same way, after a short random pause.
        """
        must: dict[str, dict[str, str]] = {}
        architecture = deb_architecture(deb.filename)
        problem = ""
        for attempt in range(1 + REPAIRS):
            if attempt:
                self.env.ui.line(f"    {problem}: publishing again (repair {attempt} of {REPAIRS})")
                time.sleep(random.uniform(0.2, 1.0) * attempt)
            try:
                must.update({k: p for k, p in self._publication_packages(plan.distribution, plan.component).items()
                             if k not in dropped})
                if self._held(self.env.config.package, release.version, architecture) is None:
                    self._add(deb)
                repository = self._repository()
                lost = sorted(k for k in must if k not in repository)
                if lost:
                    self.api.json("POST", f"/repos/{quote(self.settings.repo)}/packages", json={"PackageRefs": lost})
                self._switch(plan, self._snapshot())
            except ApiError as exc:
                if exc.status < 500:
                    raise
                problem = exc.message
                continue
            wanted = {**must, **self._repository()}
            missing = self._missing(release, architecture, wanted.values(), deb)
            if not missing:
                return
            problem = f"the publication lacks {', '.join(missing[:5])}"
        raise PublishError(
            f"the publication of {plan.distribution} is still incomplete after {REPAIRS} repairs: {problem}",
            "run hoist release again (it resumes); if it persists, read the aptly server's log")

    def _missing(self, release: ReleaseRef, architecture: str, wanted: Any, deb: Artifact) -> list[str]:
        """Of *wanted* (package fields) of *architecture* or ``all``, and *deb*,
        what the publication as apt reads it lacks (by package, version and sha256)."""
        publication = self._publication(release, architecture)
        seen = ({(p["Package"], p["Version"], p["SHA256"]) for p in publication.packages.values()}
                if publication.signed else set())
        needed = {(p["Package"], p["Version"], p.get("SHA256", "")) for p in wanted
                  if p.get("Architecture") in (architecture, "all")}
        needed.add((self.env.config.package, release.version, deb.sha256))
        return sorted(f"{name}_{version}" for name, version, sha in needed - seen)

    def _retain(self, plan: ApiPublishPlan, release: ReleaseRef, deb: Artifact) -> None:
        """Remove all but the newest *keep* versions of the package: never the
        one released, never one that another published distribution still
        holds; then publish again so that the publication drops them too
        (aptly issue 291).  Old snapshots and pool files stay until the
        server's administrator runs ``aptly db cleanup``."""
        package = self.env.config.package
        held = self._packages(f"Name (= {package})")
        versions = sorted({p["Version"] for p in held}, key=Version, reverse=True)
        needed = {release.version}
        for publication in self._publications():
            if publication.get("Distribution") == plan.distribution and publication.get("Prefix") == plan.prefix:
                continue  # this distribution follows the repository: it keeps what the repository keeps
            for source in publication.get("Sources") or []:
                kind = "snapshots" if publication.get("SourceKind") == "snapshot" else "repos"
                listed = self.api.json("GET", f"/{kind}/{quote(source['Name'])}/packages",
                                       params={"q": f"Name (= {package})", "format": "details"}) or []
                needed.update(p["Version"] for p in listed)
        drop = [v for v in versions[plan.keep:] if v not in needed]
        if not drop:
            return
        keys = [p["Key"] for p in held if p["Version"] in drop]
        self.api.json("DELETE", f"/repos/{quote(self.settings.repo)}/packages", json={"PackageRefs": keys})
        self.env.ui.line(f"    kept the newest {plan.keep}; removed {', '.join(sorted(drop, key=Version))}")
        self._publish_until_complete(plan, release, deb, dropped=frozenset(keys))
