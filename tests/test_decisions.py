"""The decisions of a release, table-driven, with no git and no tools (hoist.decisions)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hoist import decisions
from hoist.decisions import AHEAD, BEHIND, DIVERGED, NO_BRANCH, SAME, Sync
from hoist.version import CalVer, next_version

HEAD = "a" * 40
NEWER = "b" * 40


@pytest.mark.parametrize(
    ("tags", "now", "expected"),
    [
        pytest.param([], "2026-12-02", "26.12.0", id="first release"),
        pytest.param(["v26.12.0"], "2026-12-02", "26.12.1", id="next serial"),
        pytest.param(["v26.12.9"], "2026-12-31", "26.12.10", id="serials compare as numbers"),
        pytest.param(["v26.11.4"], "2026-12-01", "26.12.0", id="a new month starts at 0"),
        pytest.param(["v26.12.0", "v26.12.1", "x26.12.5", "v26.12.01"], "2026-12-02", "26.12.2", id="other tags ignored"),
        pytest.param(["v26.12.3"], "2027-01-01", "27.1.0", id="january without zero padding"),
    ],
)
def test_next_version(tags: list[str], now: str, expected: str) -> None:
    moment = datetime.fromisoformat(now).replace(tzinfo=timezone.utc)
    assert str(next_version(tags, moment, "v")) == expected


@pytest.mark.parametrize(
    ("tagged", "marker", "expected"),
    [
        pytest.param([], None, None, id="new release"),
        pytest.param([CalVer(26, 12, 0)], None, CalVer(26, 12, 0), id="resume a tagged HEAD"),
        pytest.param([], CalVer(26, 12, 1), CalVer(26, 12, 1), id="resume a release commit whose tag was lost"),
        pytest.param([CalVer(26, 12, 0), CalVer(26, 12, 2)], CalVer(26, 12, 2), CalVer(26, 12, 2), id="newest tag wins"),
    ],
)
def test_head_version(tagged: list[CalVer], marker: CalVer | None, expected: CalVer | None) -> None:
    assert decisions.head_version(tagged, marker) == expected


@pytest.mark.parametrize(
    ("relation", "released", "release_commit_ahead", "ci", "expected"),
    [
        pytest.param(NO_BRANCH, False, False, False, Sync.GO, id="a new remote"),
        pytest.param(SAME, False, False, False, Sync.GO, id="in sync"),
        pytest.param(AHEAD, False, False, True, Sync.GO, id="HEAD ahead: the push fast-forwards"),
        pytest.param(BEHIND, True, False, False, Sync.RESUME, id="a pushed release that later commits build on"),
        pytest.param(BEHIND, False, True, False, Sync.RELEASED_ELSEWHERE, id="lost race: another run released HEAD"),
        pytest.param(BEHIND, False, True, True, Sync.RELEASED_ELSEWHERE, id="lost race in CI"),
        pytest.param(BEHIND, False, False, True, Sync.SUPERSEDED, id="a CI build that master moved past"),
        pytest.param(BEHIND, False, False, False, Sync.BEHIND, id="a maintainer behind the remote"),
        pytest.param(DIVERGED, False, False, True, Sync.BEHIND, id="diverged, even in CI"),
    ],
)
def test_sync(relation: str, released: bool, release_commit_ahead: bool, ci: bool, expected: Sync) -> None:
    assert decisions.sync(relation, head_released_on_remote=released,
                          only_a_release_commit_ahead=release_commit_ahead, ci=ci) is expected


@pytest.mark.parametrize(
    ("tag_on_remote", "expected"),
    [
        pytest.param(None, False, id="tag not claimed: a real conflict"),
        pytest.param(HEAD, False, id="our own tag: a real conflict"),
        pytest.param(NEWER, True, id="another run claimed the version: plan again"),
    ],
)
def test_lost_race(tag_on_remote: str | None, expected: bool) -> None:
    assert decisions.lost_race(tag_on_remote, HEAD) is expected


@pytest.mark.parametrize(
    ("branch", "marker", "released_as", "newer", "release", "reason"),
    [
        pytest.param("feature", None, None, None, False, "feature is not the release branch 'master': tests only", id="other branch"),
        pytest.param(None, None, None, None, False, "a detached HEAD is not the release branch 'master': tests only", id="detached"),
        pytest.param("master", "26.12.0", None, None, False, f"HEAD {HEAD[:12]} is hoist's release commit of 26.12.0: nothing to release", id="release commit"),
        pytest.param("master", None, "v26.12.0", None, False, f"HEAD {HEAD[:12]} is released already as v26.12.0", id="released"),
        pytest.param("master", None, None, NEWER, False, f"master is at {NEWER[:12]} on the remote, which contains HEAD {HEAD[:12]}: its build releases it", id="superseded"),
        pytest.param("master", None, None, None, True, f"HEAD {HEAD[:12]} on master is not released yet: release it", id="release"),
    ],
)
def test_should_release(branch: str | None, marker: str | None, released_as: str | None, newer: str | None,
                        release: bool, reason: str) -> None:
    decision = decisions.should_release(branch, "master", HEAD, marker=marker, released_as=released_as,
                                        remote_head_contains_head=newer)
    assert (decision.release, decision.reason) == (release, reason)


@pytest.mark.parametrize(
    ("manifest", "built", "expected"),
    [
        pytest.param(None, [], True, id="a fresh clone: released elsewhere"),
        pytest.param(None, ["26.11.3"], True, id="only older artifacts here"),
        pytest.param(None, ["26.12.0"], False, id="built here, stopped before the manifest"),
        pytest.param(("26.12.0", HEAD, True), ["26.12.0"], True, id="recorded as published"),
        pytest.param(("26.12.0", HEAD, False), ["26.12.0"], False, id="recorded as incomplete"),
        pytest.param(("26.12.0", NEWER, True), ["26.12.0"], False, id="recorded for another commit"),
        pytest.param(("26.11.3", HEAD, True), ["26.12.0"], False, id="the manifest of an older release"),
    ],
)
def test_finished_here(manifest: tuple[str, str, bool] | None, built: list[str], expected: bool) -> None:
    assert decisions.finished_here("26.12.0", HEAD, manifest=manifest, built_versions=built) is expected
