"""The example application's systemd unit is hardened, as systemd measures it.

``systemd-analyze security --offline=true <unit file>`` (systemd-analyze(1))
reads the unit file alone, no running systemd needed, and rates the exposure
its settings leave from 0.0 (safe) to 10.0 (exposed).  Debian 12's systemd 252
rates the unit 1.1; the test holds it at 3.0 or lower, so a setting that is
dropped or misspelt (systemd ignores unknown keys, with a warning) shows.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import EXAMPLE

UNIT = EXAMPLE / "systemd" / "hoist-hello.service"

#: The highest exposure the example's unit may have (systemd-analyze's scale, 0.0-10.0).
MAX_EXPOSURE = 3.0

_OVERALL = re.compile(r"^→ Overall exposure level for (?P<unit>\S+): (?P<exposure>\d+\.\d+) ", re.MULTILINE)


def overall_exposure(report: str) -> float:
    """The figure of the "Overall exposure level" line of a ``systemd-analyze security`` report.

    :raises ValueError: the report has no such line.
    """
    match = _OVERALL.search(report)
    if match is None:
        raise ValueError(f"no 'Overall exposure level' line in:\n{report[-2000:]}")
    return float(match["exposure"])


@pytest.mark.parametrize(("line", "exposure"), [
    ("→ Overall exposure level for hoist-hello.service: 1.1 OK 🙂\n", 1.1),
    ("x\n→ Overall exposure level for a@b.service: 9.6 UNSAFE 😨\n", 9.6),
    ("→ Overall exposure level for hoist-hello.service: 10.0 UNSAFE 😨\n", 10.0),
])
def test_overall_exposure_reads_the_overall_line(line: str, exposure: float) -> None:
    assert overall_exposure(line) == exposure


def test_overall_exposure_refuses_a_report_without_it() -> None:
    with pytest.raises(ValueError, match="Overall exposure level"):
        overall_exposure("Failed to load unit\n")


def test_the_example_unit_is_hardened() -> None:
    """Exposure 3.0 or lower, and every line of the unit understood."""
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == "", proc.stderr  # e.g. "Unknown key 'UMaskk' in section [Service], ignoring."
    exposure = overall_exposure(proc.stdout)
    assert exposure <= MAX_EXPOSURE, proc.stdout
