"""The README's Python examples type-check under mypy --strict, so the docs cannot drift
from the types; so do the typing promises in tests/typecheck/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme import README, SKIP, python_blocks

ROOT = README.parent
TYPECHECK = Path(__file__).parent / "typecheck"


def test_blocks_are_found_and_few_are_skipped() -> None:
    """The extractor sees every python block, and only blocks marked with the skip comment
    are left out (there are at most two of those)."""
    text = "intro\n```python\nx = 1\n```\n" + SKIP + "\n\n```python\ny\n```\n"
    assert python_blocks(text) == [(2, "x = 1\n", True), (7, "y\n", False)]
    blocks = python_blocks()
    assert len(blocks) >= 8
    assert sum(not checked for *_, checked in blocks) <= 2


def test_readme_examples_and_typing_promises_pass_mypy_strict(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every checked README block, each as its own module, and tests/typecheck/*.py pass
    `mypy --strict` with the project's configuration."""
    files = []
    for line, code, checked in python_blocks():
        if checked:
            path = tmp_path / f"readme_line_{line}.py"
            path.write_text(code, encoding="utf-8")
            files.append(path)
    for source in sorted(TYPECHECK.glob("*.py")):
        files.append(Path(shutil.copy(source, tmp_path / f"typecheck_{source.name}")))
    cache = request.config.cache
    cache_dir = cache.mkdir("mypy") if cache is not None else tmp_path / ".mypy_cache"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache_dir),
            *map(str, files),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    def readme_line(match: re.Match[str]) -> str:
        return f"README.md:{int(match.group(1)) + int(match.group(2))}:"

    report = re.sub(r"\S*readme_line_(\d+)\.py:(\d+):", readme_line, result.stdout)
    assert result.returncode == 0, report + result.stderr
