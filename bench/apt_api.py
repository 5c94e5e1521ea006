"""Publish time through aptly's REST API with 1, 100 and 1,000 versions in the repository.

Starts the test suite's apt server (``aptly api serve`` behind nginx with
``packaging/``'s site, on 127.0.0.1), fills a repository with N versions of a
small package, then times hoist's API target publishing one more version
(upload, add, snapshot, switch, read back as apt; median of 3), and prints
each against the 1-version case.  Run by hand: ``.venv/bin/python bench/apt_api.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import requests

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "src")]

from aptserver import PASSWORD, USER, running_apt_server  # noqa: E402
from hoist.manifest import Artifact  # noqa: E402
from hoist.runner import Runner  # noqa: E402
from hoist.targets.apt import AptRepository, AptSettings  # noqa: E402
from hoist.targets.apt.api import ApiTransport, AptlyApi  # noqa: E402
from hoist.targets.base import Env, ReleaseRef  # noqa: E402
from test_apt_server import ARCH, DISTRIBUTION, make_deb  # noqa: E402


class QuietUI:
    def line(self, text: str, style: str = "") -> None:
        pass


def fill(server, work: Path, repo: str, count: int) -> None:
    """*count* versions of bench-app in *repo*, published (untimed)."""
    server.create_repo(repo, DISTRIBUTION)
    directory = f"fill-{repo}"
    work = work / directory
    work.mkdir()
    for n in range(count):
        deb = make_deb(work, "bench-app", f"1.{n}")
        with deb.open("rb") as handle:
            requests.post(f"http://127.0.0.1:{server.api_port}/api/files/{directory}",
                          files={"file": (deb.name, handle)}, timeout=60).raise_for_status()
        deb.unlink()
    server.api("POST", f"/repos/{repo}/file/{directory}")


def publish_once(server, work: Path, repo: str, version: str) -> float:
    work = work / f"{repo}-{version}"
    work.mkdir()
    deb = make_deb(work, "bench-app", version)
    settings = AptSettings(repo=repo, url=server.url, public_key=str(server.public_key), api_url=server.api_url,
                         prefix=repo)
    env = Env(SimpleNamespace(package="bench-app", root=work, valid_days=None, channels=()), Runner(), None, QuietUI(),
              None)
    target = AptRepository(settings, env, ApiTransport(settings, AptlyApi(server.api_url, (USER, PASSWORD))))
    release = ReleaseRef(version, "", None, DISTRIBUTION, "main")
    start = time.perf_counter()
    target.publish(release, target.plan(release), [Artifact.of("deb", deb)])
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hoist-bench-api-") as tmp:
        work = Path(tmp)
        with running_apt_server(work) as server:
            # Each size in a repository of its own, published at a prefix of its own.
            rows = []
            for count in (1, 100, 1000):
                repo = f"bench{count}"
                fill(server, work, repo, count)
                times = []
                for i in range(3):
                    original = server.url
                    times.append(publish_once(_at_prefix(server, repo), work, repo, f"2.{i}"))
                    assert server.url == original
                rows.append((count, statistics.median(times)))
            base = rows[0][1]
            print(f"aptly API publish of one more version ({ARCH}, median of 3; aptly 1.5.0 behind nginx):")
            for count, seconds in rows:
                print(f"  {count:>5} versions in the repository: {seconds:6.2f} s  ({seconds / base:4.1f}x the 1-version case)")


def _at_prefix(server, prefix: str):
    """The server as seen at a publish prefix: its published tree is under <url>/<prefix>/."""
    view = SimpleNamespace(**{k: getattr(server, k) for k in ("api_port", "public_key", "api_url")})
    view.url = f"{server.url}{prefix}/"
    return view


if __name__ == "__main__":
    main()
