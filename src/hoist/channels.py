"""Release channels: the distributions of the one apt repository that a release moves through.

With ``[tool.hoist] channels = ["staging", "production"]`` a release is
published to the first channel; ``hoist promote VERSION --to CHANNEL`` makes
another channel publish that very .deb (the same pool file, the same sha256:
nothing is rebuilt), and ``hoist rollback CHANNEL`` makes a channel publish
an earlier release again.  A promoted channel publishes one version of the
package, so that a server pinned to it (``hoist server-setup``) installs
exactly that version, downgrading when the channel moved back.

Every move is recorded in the git remote, as a commit on
``refs/hoist/channels/<channel>`` (an empty tree, the facts as trailers, see
git-interpret-trailers(1)): ``git log refs/hoist/channels/production`` is the
audit log.  The record is pushed first, with the channel's previous record
as the expected value (``--force-with-lease``), so that two moves of one
channel never interleave, the way the release push claims a version; the
apt publication follows, and a second run of the same command completes a
move whose publication did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from debian.debian_support import Version

from .context import Context
from .errors import ConfigError, PreflightError, PublishError, PushRejectedError
from .targets.apt.repository import AptRepository, ChannelState, Held, apt_repository
from .targets.base import MISSING, WITHDRAWN, TargetState
from .version import CalVer, versions_from_tags

#: The ref that records the moves of one channel in the git remote.
RECORD_REF = "refs/hoist/channels/{}"

#: The trailers of a record (git-interpret-trailers(1)).
TRAILERS = ("Hoist-Channel", "Hoist-Action", "Hoist-Version", "Hoist-Previous", "Hoist-Sha256")


@dataclass(frozen=True)
class Move:
    """One recorded move of a channel.

    :ivar channel: the channel (apt distribution).
    :ivar action: ``promote`` or ``rollback``.
    :ivar version: the version the channel publishes after it.
    :ivar previous: the version it published before (``""``: none).
    :ivar sha256: the sha256 of the .deb it publishes.
    :ivar commit: the record's commit id.
    :ivar who: ``Name <email>`` of whoever moved it.
    :ivar when: the time, ISO 8601.
    """

    channel: str
    action: str
    version: str
    previous: str
    sha256: str
    commit: str = ""
    who: str = ""
    when: str = ""

    def message(self) -> str:
        """The record's commit message."""
        subject = (f"roll back {self.channel} to {self.version}" if self.action == "rollback"
                   else f"promote {self.version} to {self.channel}")
        values = (self.channel, self.action, self.version, self.previous or "none", self.sha256)
        return subject + "\n\n" + "".join(f"{k}: {v}\n" for k, v in zip(TRAILERS, values))


@dataclass(frozen=True)
class ChannelReport:
    """A channel as ``hoist status`` shows it.

    :ivar name: the channel.
    :ivar state: what apt reads from its publication.
    :ivar recorded: its newest recorded move, or None.
    """

    name: str
    state: ChannelState
    recorded: Move | None

    @property
    def version(self) -> str | None:
        current = self.state.current
        return current.version if current else None

    first: bool = False

    @property
    def agrees(self) -> bool:
        """The publication holds what the record says (or nothing is recorded);
        in the first channel, which releases feed, a release newer than
        everything the record names supersedes it."""
        if self.recorded is None or self.recorded.version == self.version:
            return True
        known = [v for v in (self.recorded.version, self.recorded.previous) if v]
        return self.first and self.version is not None and all(Version(self.version) > Version(v) for v in known)

    def record(self) -> dict:
        current = self.state.current
        return {
            "version": self.version, "sha256": current.sha256 if current else None,
            "versions": [h.version for h in self.state.held], "problem": self.state.problem,
            "recorded": None if self.recorded is None else {
                "version": self.recorded.version, "action": self.recorded.action, "commit": self.recorded.commit,
                "who": self.recorded.who, "when": self.recorded.when},
            "agrees": self.agrees,
        }


class Channels:
    """The channels of a project: reading them, and moving one.

    :param ctx: the project.
    :raises ConfigError: the project has no channels, or no apt repository.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.names = ctx.config.channels
        if not self.names:
            raise ConfigError("this project has no channels",
                              'add  channels = ["staging", "production"]  to [tool.hoist]: a release goes to the '
                              "first, hoist promote moves it on")
        self.apt: AptRepository = apt_repository(ctx.targets.all, "a channel")
        self.git = ctx.targets.git

    # -- reading ------------------------------------------------------------------------

    def version(self, text: str) -> str:
        """The release version that *text* names: ``26.12.1`` or its tag ``v26.12.1``.

        :raises PreflightError: *text* names no release version (``YY.MM.NN``).
        """
        prefix = self.ctx.config.tag_prefix
        bare = text.removeprefix(prefix) if prefix and text.startswith(prefix) else text
        if CalVer.parse(bare) is None:
            example = "26.12.0"
            raise PreflightError(f"{text!r} is not a release version",
                                 f"name one as YY.MM.NN or as its tag, e.g. {example} or {prefix}{example} "
                                 "(hoist status lists them)")
        return bare

    def _check_name(self, channel: str) -> None:
        if channel not in self.names:
            raise PreflightError(f"there is no channel {channel!r}",
                                 f"the channels of tool.hoist.channels are: {', '.join(self.names)}")

    def history(self, channel: str) -> list[Move]:
        """The recorded moves of *channel*, newest first (fetched from the git remote)."""
        ref = RECORD_REF.format(channel)
        tip = self._remote_tip(channel)
        if tip is None:
            return []
        # Only the objects: no ref or FETCH_HEAD of the repository changes.
        self.ctx.git("fetch", "--quiet", "--no-write-fetch-head", self.git.remote, ref)
        fields = "%H%x00%an <%ae>%x00%aI%x00" + "%x00".join(f"%(trailers:key={t},valueonly)" for t in TRAILERS)
        out = self.ctx.git("log", "-z", f"--format={fields}%x00", tip).stdout
        values = [v.strip() for v in out.split("\0")]
        moves = []
        width = 3 + len(TRAILERS) + 1
        for i in range(0, len(values) - width + 1, width):
            commit, who, when, name, action, version, previous, sha = values[i:i + width - 1]
            moves.append(Move(name, action, version, "" if previous == "none" else previous, sha, commit, who, when))
        return moves

    def _remote_tip(self, channel: str) -> str | None:
        return self.git.ref(RECORD_REF.format(channel))

    def report(self) -> list[ChannelReport]:
        """Every channel: what apt reads from it, and its newest record."""
        reports = []
        for name in self.names:
            history = self.history(name)
            reports.append(ChannelReport(name, self.apt.channel(name), history[0] if history else None,
                                         first=name == self.names[0]))
        return reports

    def withdrawn_by(self, channel: str, version: str, history: list[Move] | None = None) -> Move | None:
        """The rollback of *channel* that withdrew *version* and still stands,
        or None: a rollback to W withdraws every version above W up to what
        the channel published then, until a promote of one of them.

        :param history: the channel's moves, newest first, when read already.
        """
        standing: Move | None = None
        for move in reversed(self.history(channel) if history is None else history):  # oldest first
            if move.action == "rollback" and move.previous and \
                    Version(move.version) < Version(version) <= Version(move.previous):
                standing = move
            elif move.action == "promote" and standing is not None and Version(move.version) >= Version(version):
                standing = None
        return standing

    # -- moving -------------------------------------------------------------------------

    def _released(self, version: str) -> Held:
        """The repository's .deb of *version*.

        :raises PreflightError: *version* was never released, or the
            repository no longer holds it.
        """
        tag = f"{self.ctx.config.tag_prefix}{version}"
        commit = self.git.refs().tags.get(tag)
        if commit is None:
            raise PreflightError(f"{version} was never released: the git remote has no tag {tag}",
                                 "hoist status lists the releases and what each channel holds")
        # Only the objects: no ref or FETCH_HEAD of the repository changes.
        self.ctx.git("fetch", "--quiet", "--no-write-fetch-head", self.git.remote, f"refs/tags/{tag}")
        if self.ctx.git.release_marker(commit) != version:
            raise PreflightError(f"{version} was not made by a hoist release: its tag {tag} is on {commit[:12]}, "
                                 "which is not its release commit (no Hoist-Release trailer of it)",
                                 "promote a version that hoist released (hoist status lists them)")
        held = self.apt.in_repository(version)
        if held is None:
            raise PreflightError(f"the apt repository no longer holds {self.ctx.config.package} {version}",
                                 "promote a version it holds (retention, tool.hoist.apt.keep, removed this one)")
        recorded = self.apt.recorded_sha256(version, held.filename)
        if recorded is not None and recorded != held.sha256:
            raise PreflightError(f"the apt repository's {held.filename} has sha256 {held.sha256}, but the release's "
                                 f"signed SHA256SUMS says {recorded}: it is not the .deb that release built",
                                 "promote a version whose .deb is the release's own (hoist status checks them)")
        return held

    def promote(self, version: str, channel: str) -> Move:
        """Make *channel* publish *version*: record the move in the git remote,
        then publish.

        :raises PreflightError: an unknown channel, or a version that was
            never released or is no longer in the repository (nothing is changed).
        :raises PushRejectedError: another move of the channel was recorded at the same time.
        """
        self._check_name(channel)
        version = self.version(version)
        history = self.history(channel)
        withdrawn = self.withdrawn_by(channel, version, history)
        if withdrawn is not None:
            raise PreflightError(f"{version} was withdrawn from {channel} by {withdrawn.who}, {withdrawn.when} "
                                 f"(rolled back to {withdrawn.version}): it is not published there again",
                                 f"release a new version with the fix; hoist status shows what {channel} publishes")
        return self._move(channel, version, "promote", history)

    def rollback(self, channel: str, version: str | None = None) -> Move:
        """Make *channel* publish an earlier release again: *version*, or the
        version it published before the current one.

        :raises PreflightError: an unknown channel, no earlier version, or a
            version that is not older than the current one.
        """
        self._check_name(channel)
        version = None if version is None else self.version(version)
        current = self.apt.channel(channel).current
        history = self.history(channel)
        if version is None and history and history[0].action == "rollback":
            # The newest move is a rollback: this one finishes it (a run stopped before its publish), never a
            # second one; going further back names the version.
            last = history[0]
            self.ctx.ui.line(f"    the newest move of {channel} is the rollback to {last.version} by {last.who}, "
                             f"{last.when}: completing it (to go further back: hoist rollback {channel} --to VERSION)")
            return self._move(channel, last.version, "rollback", history)
        if current is None:
            raise PreflightError(f"the channel {channel} publishes no version of {self.ctx.config.package}",
                                 f"promote a release to it first: hoist promote VERSION --to {channel}")
        if version is None:
            version = self._before(channel, current.version, history)
        elif Version(version) >= Version(current.version):
            raise PreflightError(f"{version} is not older than {current.version}, which {channel} publishes",
                                 f"to move {channel} forward: hoist promote {version} --to {channel}")
        return self._move(channel, version, "rollback", history)

    def _before(self, channel: str, current: str, history: list[Move]) -> str:
        """The version *channel* published before *current*: the newest
        recorded one older than it (in *history*, newest first) that no
        rollback left (for the first channel, which releases feed, the newest
        older release)."""
        left = {m.previous for m in history if m.action == "rollback"}
        for move in history:
            if Version(move.version) < Version(current) and move.version not in left:
                return move.version
        if channel == self.names[0]:
            older = [v for v in self._release_versions() if Version(v) < Version(current) and v not in left]
            if older:
                return older[-1]
        raise PreflightError(f"{channel} published no version before {current}",
                             f"name one: hoist rollback {channel} --to VERSION")

    def _release_versions(self) -> list[str]:
        return [str(v) for v in versions_from_tags(self.git.refs().tags, self.ctx.config.tag_prefix)]

    def _move(self, channel: str, version: str, action: str, history: list[Move]) -> Move:
        """Record (unless the newest record is this very move, by *history*:
        the channel's moves, newest first) and publish."""
        held = self._released(version)
        state = self.apt.channel(channel)
        if history and history[0].version == version and history[0].sha256 == held.sha256:
            move = history[0]
            self.ctx.ui.line(f"    the git remote records {channel} at {version} already ({move.commit[:12]})")
        else:
            before = state.current.version if state.current else ""
            move = self._record(Move(channel, action, version, before, held.sha256),
                                history[0].commit if history else None)
        if state.current is not None and state.current == held and len(state.held) == 1:
            self.ctx.ui.line(f"    {channel} publishes {held.filename} already (same sha256)")
        else:
            self.apt.put(channel, version)
        after = self.apt.channel(channel).current
        if after is None or after.sha256 != held.sha256:
            raise PublishError(f"{channel} does not publish {held.filename} with sha256 {held.sha256} after the move "
                               f"(apt reads {after.filename + ' ' + after.sha256 if after else 'nothing'})",
                               "run the same command again: it completes the move")
        self._settle(channel, move)
        return move

    def _settle(self, channel: str, move: Move) -> None:
        """After publishing *move*: when another move of *channel* was recorded
        meanwhile (compare-and-swap on the record let it in), the channel
        publishes what the newest record says, so that the record and apt
        agree whichever command published last.

        :raises PushRejectedError: this move was superseded (the message says by whom).
        """
        tip = self._remote_tip(channel)
        if tip is None or tip == move.commit:
            return
        newest = self.history(channel)[0]
        if newest.version != move.version:
            self.apt.put(channel, newest.version)
        raise PushRejectedError(
            f"another move of {channel} was recorded while this one published: {newest.action} to "
            f"{newest.version} by {newest.who}, {newest.when}; {channel} publishes {newest.version}, as its record says",
            "run hoist status, then decide again")

    def _record(self, move: Move, parent: str | None) -> Move:
        """Commit *move* on the channel's ref and push it with *parent* as the expected value."""
        git = self.ctx.git
        tree = self.ctx.runner.run(["git", "mktree"], cwd=git.root, input="").stdout.strip()  # the empty tree
        commit = git("commit-tree", tree, *(["-p", parent] if parent else []), "-m", move.message()).stdout.strip()
        ref = RECORD_REF.format(move.channel)
        lease = f"--force-with-lease={ref}:{parent or ''}"
        result = git("push", "--porcelain", lease, self.git.remote, f"{commit}:{ref}", mutates=True, check=False)
        if not result.ok:
            raise PushRejectedError(
                f"the git remote refused the record of {move.channel}: {self.ctx.runner.redact(result.stderr.strip())}",
                "another move of this channel was recorded meanwhile: run hoist status, then decide again")
        name, email = git.ident()
        return Move(move.channel, move.action, move.version, move.previous, move.sha256, commit,
                    f"{name} <{email}>", datetime.now(timezone.utc).isoformat(timespec="seconds"))


def withdrawal(ctx: Context, version: str) -> Move | None:
    """The standing rollback of the first channel (which releases feed) that
    withdrew *version*, or None (no channels, or not withdrawn).

    :raises PreflightError: the git remote cannot be read.
    """
    if not ctx.config.channels:
        return None
    return Channels(ctx).withdrawn_by(ctx.config.channels[0], version)


def accounted(ctx: Context, version: str, states: list[tuple[Any, TargetState]]) -> tuple[TargetState, ...]:
    """Each target's state of *version*, where the apt repository's
    ``missing`` becomes ``withdrawn`` when the first channel's record rolled
    the version back: the record is what the channel should publish."""
    missing = [t for t, s in states if "deb" in t.kinds and s.state == MISSING]
    move = withdrawal(ctx, version) if missing else None
    if move is None:
        return tuple(s for _, s in states)
    return tuple(TargetState(s.target, WITHDRAWN, f"withdrawn from {move.channel} by {move.who}, {move.when} "
                                                  f"(rolled back to {move.version})",
                             {**s.facts, "withdrawn_by": move.commit}) if t in missing else s
                 for t, s in states)
