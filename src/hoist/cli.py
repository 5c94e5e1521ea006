"""The ``hoist`` command: ``init``, ``plan``, ``release``.

Thin: it parses arguments, opens the project, calls the library, and turns a
:class:`~hoist.errors.HoistError` into an ``error:``/``hint:`` pair and its exit
code (a traceback only with ``-v``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from . import __version__, pipeline
from .ci import should_release
from .errors import HoistError, NothingToDo, PreflightError
from .lock import DEFAULT_LOCK, write_lock
from .manifest import Manifest
from .planning import remote_state
from .rebuild import rebuild
from .session import open_project
from .status import release_states
from .targets import Secrets
from .ui import UI
from .version import CalVer, versions_from_tags


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hoist", description="Release a Python application as YY.MM.NN: sdist, wheel and .deb, to a PyPI index, an apt repository and git.")
    parser.add_argument("--version", action="version", version=f"hoist {__version__}")
    parser.add_argument("-C", "--directory", type=Path, default=Path.cwd(), help="the project (default: the current directory)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show command output and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="write debian/, tasks.py, a Jenkinsfile and [tool.hoist] for this project")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")

    plan = sub.add_parser("plan", help="print what a release would do, changing nothing")
    plan.add_argument("--local", action="store_true", help="use local targets even if targets are configured")

    release = sub.add_parser("release", help="release HEAD of the release branch")
    release.add_argument("--local", action="store_true", help="use local targets even if targets are configured")
    release.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    release.add_argument("--dry-run", action="store_true", help="run the checks and builds, change nothing outside the build")

    lock = sub.add_parser("lock", help="pin every dependency with hashes into a lock file (uv pip compile)")
    lock.add_argument("--upgrade", action="store_true", help="take the newest allowed versions")

    rebuild = sub.add_parser("rebuild", help="rebuild a released version and compare its sha256 with the targets'")
    rebuild.add_argument("version", help="the released version, e.g. 26.11.0")
    rebuild.add_argument("--local", action="store_true", help="use local targets even if targets are configured")

    status = sub.add_parser("status", help="the state of each target for a version (default: the newest release)")
    status.add_argument("version", nargs="?", help="a release version, e.g. 26.11.0")
    status.add_argument("--local", action="store_true", help="use local targets even if targets are configured")

    ci = sub.add_parser("ci", help="decisions for CI jobs")
    ci_sub = ci.add_subparsers(dest="ci_command", required=True, metavar="CI_COMMAND")
    ci_sub.add_parser(
        "should-release",
        help="exit 0 if this build should release HEAD, 1 if not (release commits, other branches); prints why",
    )
    return parser


def print_plan(ctx, plan) -> None:
    ui = ctx.ui
    kind = "resume" if plan.resume else "release"
    ui.line(f"{kind} {ctx.config.name} {plan.version} (tag {plan.tag}) from {plan.base[:12]}", style="bold")
    for name, lines in pipeline.describe(ctx, plan):
        ui.line(f"  {name}:")
        for line in lines:
            ui.line(f"    {line}")
    ui.table("targets", ["target", "where"], [list(row) for row in ctx.targets.describe()])


def print_summary(ctx, plan) -> None:
    ui = ctx.ui
    manifest = ctx.dist / "release.json"
    rows = [[a.kind, a.path, f"{a.size:,}", a.sha256[:16]] for a in ctx.artifact_records()]
    ui.table(f"released {ctx.config.name} {plan.version}", ["artifact", "path", "bytes", "sha256"], rows)
    ui.table("targets", ["target", "state"], [[n, s["state"]] for n, s in ctx.target_states.items()])
    ui.line(f"manifest: {manifest}")
    local = ctx.targets.local
    if local is not None:
        ui.line(f"git remote: {local.git_remote}")
        ui.line(f"index: pip install --find-links {local.index_dir} {ctx.config.name}=={plan.version}")
        ui.line("apt: on a Debian server, as root:")
        ui.line(f"  install -D -m 644 {local.public_key} /etc/apt/keyrings/{local.public_key.name}")
        ui.line(f"  echo 'deb [signed-by=/etc/apt/keyrings/{local.public_key.name}] {local.apt_dir.as_uri()} "
                f"{plan.distribution} {plan.component}' > /etc/apt/sources.list.d/{ctx.config.package}.list")
        ui.line(f"  apt-get update && apt-get install {ctx.config.package}")


def show_status(ctx, version: str | None) -> int:
    """Print each target's state for *version*; exit status 0 when all hold it."""
    prefix = ctx.config.tag_prefix
    remote = remote_state(ctx)
    tags = {**{t: "" for t in ctx.git.local_tags()}, **remote.tags}
    known = versions_from_tags(tags, prefix)
    if version is None:
        if not known:
            raise PreflightError("there is no release yet", "hoist release makes the first")
        chosen = known[-1]
    else:
        chosen = CalVer.parse(version)
        if chosen is None or chosen not in known:
            raise PreflightError(f"{version} is not a released version", f"released: {', '.join(map(str, known[-5:])) or 'none'}")
    tag = chosen.tag(prefix)
    commit = remote.tags.get(tag) or ctx.git.out("rev-list", "-n", "1", tag)
    expected = {}
    manifest_path = ctx.dist / "release.json"
    if manifest_path.exists():
        manifest = Manifest.read(manifest_path)
        if manifest.version == str(chosen):
            expected = {a.filename: a.sha256 for a in manifest.artifacts}
    states = release_states(ctx, str(chosen), tag, commit, expected)
    ctx.ui.table(f"{ctx.config.name} {chosen}", ["target", "state", "detail"], [[s.target, s.state, s.detail] for s in states])
    complete = all(s.state == "published" for s in states)
    ctx.ui.line(f"{chosen}: " + ("published on every target" if complete else "incomplete: hoist release on its tag finishes it"))
    return 0 if complete else 1


def show_rebuild(ctx, version: str) -> int:
    """Rebuild *version*, print the comparisons; exit status 0 when all agree."""
    comparisons, out = rebuild(ctx, version)
    rows = [[c.artifact, c.reference, {True: "same", False: "DIFFERENT", None: "not there"}[c.same],
             (c.theirs or "")[:16], c.ours[:16]] for c in comparisons]
    ctx.ui.table(f"rebuild of {version} in {out}", ["artifact", "against", "result", "theirs", "ours"], rows)
    different = [c for c in comparisons if c.same is False]
    if different and shutil.which("diffoscope"):
        ctx.ui.line("diffoscope can show what differs, e.g.: diffoscope <published file> " + str(out / different[0].artifact))
    ctx.ui.line(f"{version}: " + ("reproducible: every artifact is byte-identical" if not different else f"{len(different)} difference(s)"))
    return 1 if different else 0


def _ask(ctx, plan) -> bool:
    print_plan(ctx, plan)
    answer = input(f"Release {plan.version}? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ui = UI(verbose=args.verbose, secrets=Secrets.from_environment().values())
    try:
        if args.command == "init":
            from .init import init

            for line in init(args.directory, force=args.force):
                ui.line(line)
            return 0
        ctx = open_project(args.directory, ui, local=getattr(args, "local", False), dry_run=getattr(args, "dry_run", False))
        if args.command == "ci":
            decision = should_release(ctx)
            print(("release: " if decision.release else "no release: ") + decision.reason)
            return 0 if decision.release else 1
        if args.command == "lock":
            path = write_lock(ctx.runner, ctx.root, ctx.config.lock or DEFAULT_LOCK, upgrade=args.upgrade)
            ui.line(f"wrote {path.relative_to(ctx.root)}")
            if not ctx.config.lock:
                ui.line(f'hint: add  lock = "{DEFAULT_LOCK}"  to [tool.hoist], then commit both')
            return 0
        if args.command == "rebuild":
            return show_rebuild(ctx, args.version)
        if args.command == "status":
            return show_status(ctx, args.version)
        if args.command == "plan":
            print_plan(ctx, pipeline.prepare(ctx, fetch=False))
            return 0
        interactive = sys.stdin.isatty() and not args.yes and not args.dry_run
        plan = pipeline.release(ctx, confirm=(lambda p: _ask(ctx, p)) if interactive else None)
        if plan is None:
            ui.line("cancelled: nothing was changed")
            return 1
        print_summary(ctx, plan)
        return 0
    except NothingToDo as exc:
        ui.line(f"nothing to do: {exc.message}")
        if exc.hint:
            ui.line(f"hint: {exc.hint}")
        return 0
    except HoistError as exc:
        if args.verbose:
            ui.console.print_exception()
        ui.error(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        ui.error("interrupted", "run the same command again: the release resumes where it stopped")
        return 130
    except Exception as exc:  # a bug: say so plainly, traceback with -v
        if args.verbose:
            ui.console.print_exception()
        ui.error(f"unexpected {type(exc).__name__}: {exc}", "this is a bug in hoist: run again with -v and report the traceback")
        return 70


if __name__ == "__main__":
    sys.exit(main())
