"""The apt repository on a server: aptly's REST API (``aptly api serve``), the server signs.

CI agents hold no aptly, no database and no signing key: they upload the
.deb into a directory of the API's own that is unique to the run, add it to
the local repository, snapshot it under a name unique to the run, and
publish the snapshot or switch the distribution to it (aptly docs, "REST
API": ``/api/files``, ``/api/repos``, ``/api/snapshots``, ``/api/publish``).
Behind a web server that adds basic authentication
(``HOIST_APT_API_USERNAME`` and ``HOIST_APT_API_PASSWORD``;
``HOIST_APT_API_CA`` for a private CA bundle).

Several agents publish at once with no lock between them, and aptly 1.5.0
(Debian 12) can lose a package from a publication when publishes race
(aptly issue 1125, fixed in 1.6.3): this transport is :attr:`concurrent`,
so the publish algorithm reads each publish back and repairs it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from ... import http
from ...errors import ConflictError, PreflightError, PublishError
from ...redaction import without_userinfo
from ...secrets import APT_API_PASSWORD_VAR, APT_API_USERNAME_VAR
from .settings import AptSettings
from .transport import PackageRef, Published, Transport

#: The API's CA bundle, when a private CA signs its certificate.
CA_VAR = "HOIST_APT_API_CA"


class TransientError(PublishError):
    """The server failed (5xx) in a way that another try may not."""


def api_prefix(prefix: str) -> str:
    """*prefix* as a URL path segment of the API (aptly docs: ``_`` for ``/``, ``__`` for ``_``, ``:`` before it)."""
    return ":" + prefix.replace("_", "__").replace("/", "_")


def _error(response: requests.Response) -> str:
    """aptly's own message (its JSON ``error``), else the status line: never a proxy's HTML page."""
    try:
        body = response.json()
    except ValueError:
        return http.status_line(response)
    message = body.get("error") if isinstance(body, dict) else None
    return str(message)[:300] if message else http.status_line(response)


class AptlyApi:
    """A client of aptly's REST API.

    :param url: the API's base URL (``https://apt.example/api``).
    :param auth: (username, password) for the web server in front, or None.
    :param ca: a CA bundle to verify the server with, or None for the system's.
    :param tell: called with a line each time a busy or unreachable server is asked again.
    """

    def __init__(self, url: str, auth: tuple[str, str] | None = None, ca: str | None = None,
                 tell: Callable[[str], None] | None = None) -> None:
        self.url = without_userinfo(url).rstrip("/")
        # No proxy, no netrc: the credentials are the ones given.
        self.session = http.session(auth, ca or True, trust_env=False, retry=http.policy(http.PATIENT, tell=tell))

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> requests.Response:
        """One request, with the retry policy of :mod:`hoist.http`; the answer,
        whose status is one of *ok* (or 404, which callers read).

        :raises PublishError: the API cannot be reached or refuses the
            credentials (401, 403); :class:`TransientError` for a server
            error (5xx), :class:`PublishError` for another refusal.
        """
        try:
            response = self.session.request(method, f"{self.url}{path}",
                                            timeout=(http.CONNECT_TIMEOUT, http.READ_TIMEOUT), **kwargs)
        except requests.RequestException as exc:
            raise PublishError(f"the aptly API at {self.url} is down or unreachable: {type(exc).__name__}",
                               "check tool.hoist.apt.api_url and that `aptly api serve` and its web server "
                               "run") from None
        if response.status_code in (401, 403):
            raise PublishError(
                f"the aptly API at {self.url} refused the credentials ({response.status_code})",
                f"set {APT_API_USERNAME_VAR} and {APT_API_PASSWORD_VAR} to a login of the web server in front of it")
        if response.status_code not in (*ok, 404):
            error = TransientError if response.status_code >= 500 else PublishError
            raise error(f"the aptly API answered {response.status_code} to {method} {path}: {_error(response)}",
                        "read aptly's message; `aptly api serve` logs it too")
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of a successful answer; None for 404."""
        response = self.call(method, path, **kwargs)
        return None if response.status_code == 404 else response.json()


class ApiTransport(Transport):
    """An aptly repository on a server, reached through its REST API.

    :param settings: the ``[tool.hoist.apt]`` settings (``api_url``, ``prefix``).
    :param api: the API's client.
    """

    concurrent = True

    def __init__(self, settings: AptSettings, api: AptlyApi) -> None:
        self.settings = settings
        self.api = api
        self.repo = settings.repo
        self.prefix = settings.prefix

    @classmethod
    def from_environment(cls, settings: AptSettings, tell: Callable[[str], None] | None = None) -> ApiTransport:
        """With the login and CA bundle of the environment (see :mod:`hoist.secrets`); *tell*
        is called with a line each time a busy or unreachable server is asked again."""
        user, password = os.environ.get(APT_API_USERNAME_VAR), os.environ.get(APT_API_PASSWORD_VAR)
        return cls(settings, AptlyApi(settings.api_url, (user, password or "") if user else None,
                                      os.environ.get(CA_VAR) or None, tell))

    def describe(self) -> str:
        return f"aptly's REST API at {self.api.url}"

    def check(self, distribution: str, component: str) -> None:
        """The API answers and accepts the credentials, and the repository exists.

        :raises PublishError: the API is down or refuses the credentials.
        :raises PreflightError: the server has no such repository.
        """
        self.api.json("GET", "/version")
        self.ensure_repository(distribution, component)

    def ensure_repository(self, distribution: str, component: str) -> None:
        if self.api.json("GET", f"/repos/{quote(self.repo)}") is None:
            raise PreflightError(
                f"the aptly server has no repository {self.repo!r}",
                f"create it through the API: POST {self.api.url}/repos with {{\"Name\": \"{self.repo}\", "
                f"\"DefaultDistribution\": \"{distribution}\", \"DefaultComponent\": \"{component}\"}} "
                "(or `aptly repo create` on the server while the API is stopped: it holds aptly's database)")

    def _listed(self, path: str, query: str) -> list[PackageRef]:
        params = {"format": "details", **({"q": query} if query else {})}
        return [PackageRef.from_fields(p) for p in self.api.json("GET", path, params=params) or []]

    def packages(self, query: str = "") -> list[PackageRef]:
        return self._listed(f"/repos/{quote(self.repo)}/packages", query)

    def snapshot_packages(self, snapshot: str, query: str = "") -> list[PackageRef]:
        return self._listed(f"/snapshots/{quote(snapshot)}/packages", query)

    def add(self, deb: Path) -> None:
        """Upload *deb* into a directory unique to this run and add it to the repository.

        :raises ConflictError: aptly's report lists it as failed, or warns of a conflict.
        """
        directory = f"hoist-{uuid.uuid4().hex[:16]}"
        try:
            with deb.open("rb") as handle:
                self.api.call("POST", f"/files/{directory}", files={"file": (deb.name, handle)})
            report = self.api.json("POST", f"/repos/{quote(self.repo)}/file/{directory}") or {}
        finally:
            self.api.call("DELETE", f"/files/{directory}")
        failed = report.get("FailedFiles") or []
        warnings = (report.get("Report") or {}).get("Warnings") or []
        if failed or warnings:
            raise ConflictError(f"aptly did not add {deb.name}: {'; '.join([*failed, *warnings])[:400]}",
                                "a package is never overwritten: release a new version")

    def restore(self, refs: Sequence[PackageRef]) -> None:
        self.api.json("POST", f"/repos/{quote(self.repo)}/packages", json={"PackageRefs": [r.key for r in refs]})

    def remove(self, refs: Sequence[PackageRef]) -> None:
        self.api.json("DELETE", f"/repos/{quote(self.repo)}/packages", json={"PackageRefs": [r.key for r in refs]})

    def snapshot_repository(self, name: str) -> str:
        unique = f"{name}-{uuid.uuid4().hex[:8]}"
        self.api.json("POST", f"/repos/{quote(self.repo)}/snapshots", json={"Name": unique})
        return unique

    def snapshot_of(self, name: str, refs: Sequence[PackageRef]) -> str:
        unique = f"{name}-{uuid.uuid4().hex[:8]}"
        self.api.json("POST", "/snapshots", json={"Name": unique, "PackageRefs": sorted(r.key for r in refs)})
        return unique

    def publications(self) -> list[Published]:
        return [Published(p.get("Prefix") or ".", p.get("Distribution") or "",
                          {s.get("Component", ""): s.get("Name", "") for s in p.get("Sources") or []},
                          p.get("SourceKind") == "snapshot")
                for p in self.api.json("GET", "/publish") or []]

    def publish(self, distribution: str, component: str, snapshot: str, *, first: bool,
                origin: str, label: str) -> None:
        signing: dict[str, Any] = {"Batch": True, **({"GpgKey": self.settings.gpg_key} if self.settings.gpg_key else {})}
        prefix = api_prefix(self.prefix)
        if first:
            answer = self.api.call("POST", f"/publish/{prefix}", ok=(200, 201, 400), json={
                "SourceKind": "snapshot", "Sources": [{"Component": component, "Name": snapshot}],
                "Distribution": distribution, "Signing": signing, "AcquireByHash": True,
                "Origin": origin, "Label": label})
            if answer.status_code != 400:
                return
            # Another agent published the distribution first: switch it instead.
        self.api.json("PUT", f"/publish/{prefix}/{quote(distribution)}", json={
            "Snapshots": [{"Component": component, "Name": snapshot}], "Signing": signing, "AcquireByHash": True})
