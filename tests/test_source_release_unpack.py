"""What the unpacking of a source release refuses, below the signed list: a hostile or damaged file."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from hoist.errors import BuildError
from hoist.steps.source_release import DESCRIPTION, unpack


def source_release(path: Path, description: dict, files: dict[str, bytes], extra: dict[str, bytes] | None = None) -> Path:
    """A tar.gz of ``app-1.0-source-release/`` with *files* and the description, and *extra* at the archive's root."""
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, data in files.items():
            add(f"app-1.0-source-release/{name}", data)
        add(f"app-1.0-source-release/{DESCRIPTION}", json.dumps(description).encode())
        for name, data in (extra or {}).items():
            add(name, data)
    return path


def description(files: dict[str, bytes], sdist: str = "app-1.0.tar.gz") -> dict:
    return {"version": "1.0", "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()},
            "artifacts": {"sdist": {"file": sdist, "sha256": "0" * 64}}}


FILES = {"app-1.0.tar.gz": b"an sdist", "wheels/a-1.0-py3-none-any.whl": b"a wheel"}


def test_a_good_one_unpacks(tmp_path: Path) -> None:
    top, read = unpack(source_release(tmp_path / "s.tar.gz", description(FILES), FILES), tmp_path / "out")
    assert (top / "app-1.0.tar.gz").read_bytes() == b"an sdist" and read["version"] == "1.0"


@pytest.mark.parametrize(("name", "make", "message"), [
    ("an artifact outside", lambda d: {**d, "artifacts": {"sdist": {"file": "../x", "sha256": "0" * 64}}},
     "names '../x', which is not a file inside it"),
    ("a listed file outside", lambda d: {**d, "files": {**d["files"], "../../etc/x": "0" * 64}},
     "names '../../etc/x', which is not a file inside it"),
    ("no description keys", lambda d: {"version": "1.0"}, "is not a source release's description"),
])
def test_a_hostile_description(tmp_path: Path, name: str, make, message: str) -> None:
    path = source_release(tmp_path / "s.tar.gz", make(description(FILES)), FILES)
    with pytest.raises(BuildError, match=message):
        unpack(path, tmp_path / "out")


def test_a_file_at_the_root_that_nothing_lists(tmp_path: Path) -> None:
    path = source_release(tmp_path / "s.tar.gz", description(FILES), FILES, extra={"README": b"unlisted"})
    with pytest.raises(BuildError, match="is not a source release"):
        unpack(path, tmp_path / "out")


def test_a_truncated_file(tmp_path: Path) -> None:
    whole = source_release(tmp_path / "s.tar.gz", description(FILES), {**FILES, "big": bytes(range(256)) * 4000})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(BuildError, match="cannot unpack"):
        unpack(cut, tmp_path / "out")
