"""The gpg-agent of hoist's own GnuPG home is stopped by the last of the
signing sessions open at once, never under another session's feet."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hoist.runner import Runner
from hoist.targets.apt.signing import gpg_session


def agent_running(home: Path) -> bool:
    """Whether a gpg-agent answers on *home*'s socket (without starting one)."""
    probe = subprocess.run(["gpg-connect-agent", "--homedir", str(home), "--no-autostart", "GETINFO pid", "/bye"],
                           capture_output=True, text=True, check=True)  # exits 0 with or without an agent
    return any(line.startswith("D ") for line in probe.stdout.splitlines())


def test_the_last_session_stops_the_agent(tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    runner = Runner()
    try:
        with gpg_session(runner, home):
            subprocess.run(["gpgconf", "--homedir", str(home), "--launch", "gpg-agent"], check=True)
            with gpg_session(runner, home):
                assert agent_running(home)
            assert agent_running(home), "a session that ended stopped the agent another session uses"
        assert not agent_running(home), "the last session left its gpg-agent running"
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
