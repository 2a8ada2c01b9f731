"""Packaging a user can trust: the sdist carries what the README names, the wheel
registers the pytest plugin, the README's pytest example passes verbatim in a fresh
project, and a missing extra says how to install it.

The fresh projects are virtualenvs made here, offline: the wheel built from this
checkout is installed with pip (``--no-deps --no-index``), and its dependencies, pytest
and pytest-asyncio are linked in from this environment, so nothing else is on the path.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.readme import README, block_containing

ROOT = README.parent
#: The SDK's wheel alone, from the file: no dependency resolution, no index.
OFFLINE = ("--quiet", "--no-deps", "--no-index")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel of this checkout, built offline with hatchling."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


def named_in_readme() -> set[str]:
    """Paths of this checkout that the README names in backticks (`benchmarks/README.md`)."""
    text = README.read_text(encoding="utf-8")
    names = set(re.findall(r"`([\w.][\w.-]*(?:/[\w.-]+)*/?)`", text))
    return {n.rstrip("/") for n in names if n not in (".", "..") and (ROOT / n).exists()}


def test_sdist_carries_what_the_readme_names(dist: Path) -> None:
    """Every file or folder of the checkout the README names is in the sdist, with the
    license, the benchmarks, the tests and the CI script."""
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        files = [name.split("/", 1)[1] for name in tar.getnames() if "/" in name]
    # Folders count as carried when files under them are.
    members = {str(Path(f).parents[i]) for f in files for i in range(len(Path(f).parts) - 1)}
    members.update(files)
    named = named_in_readme()
    assert {"LICENSE", "benchmarks/README.md", "tests/README.md", ".ci/run"} <= named
    required = named | {
        "LICENSE",
        "CHANGELOG.md",
        "benchmarks/__main__.py",
        "lyra_mavera/py.typed",
        "tests/conftest.py",
    }
    assert required <= members, required - members


def test_wheel_has_license_urls_and_the_pytest_plugin(dist: Path) -> None:
    """The wheel's metadata says MIT, carries the license file and the project URLs, and
    registers lyra_mavera.testing._pytest_plugin under pytest11."""
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{info}/METADATA").decode()
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert "License-Expression: MIT" in metadata
    assert any(n.startswith(info) and n.endswith("/LICENSE") for n in names)
    assert "Project-URL: " in metadata
    assert "[pytest11]\nlyra_mavera = lyra_mavera.testing._pytest_plugin" in entry_points
    assert "lyra_mavera/testing/_pytest_plugin.py" in names


def test_readme_does_not_send_users_to_an_index_it_is_not_on() -> None:
    """Until a release, the README installs from a checkout, never `pip install lyra-mavera`
    from an index."""
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"pip install ['\"]?lyra[-_]mavera", text)
    assert "pip install ." in text


def test_contrib_arq_without_the_extra_names_the_install_command() -> None:
    """With arq missing, importing lyra_mavera.contrib.arq raises an ImportError that
    names `pip install 'lyra-mavera[arq]'`."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["arq"] = None  # as if the arq extra were not installed
        try:
            import lyra_mavera.contrib.arq
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("imported without arq")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'lyra-mavera[arq]'" in out


# -- fresh projects ----------------------------------------------------------------


def _closure(roots: Iterable[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``roots`` need (markers evaluated, no extras)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        found[name] = dist = importlib.metadata.distribution(name)
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(found.values())


def _sdk_requirements() -> list[str]:
    """The SDK's own dependencies (no extras)."""
    reqs = [Requirement(r) for r in importlib.metadata.requires("lyra-mavera") or ()]
    return [r.name for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def fresh_env(where: Path, wheel: Path, packages: Iterable[str]) -> Path:
    """A new virtualenv with the SDK's wheel installed by pip and ``packages`` (with their
    dependencies) linked from this environment; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for dist in _closure([*packages, *_sdk_requirements()]):
        assert dist.files is not None, dist.metadata["Name"]
        for top in {f.parts[0] for f in dist.files} - {"..", "__pycache__"}:
            if not (site / top).exists():
                (site / top).symlink_to(Path(str(dist.locate_file(top))))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", *OFFLINE, str(wheel)],
        check=True,
        capture_output=True,
    )
    return python


def run_pytest(python: Path, project: Path) -> subprocess.CompletedProcess[str]:
    """pytest in ``project``, with nothing from this checkout or its configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    return subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.slow
def test_readme_pytest_example_passes_verbatim_in_a_fresh_project(
    dist: Path, tmp_path: Path
) -> None:
    """The README's FakeServer test file, copied as it is into a project that has only the
    SDK, pytest and pytest-asyncio (strict mode, no configuration), passes."""
    (wheel,) = dist.glob("*.whl")
    python = fresh_env(tmp_path / "venv", wheel, ["pytest", "pytest-asyncio"])
    where = subprocess.run(
        [str(python), "-c", "import lyra_mavera; print(lyra_mavera.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the wheel, not this checkout
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_example.py").write_text(block_containing("lyra_mavera_fake"))
    result = run_pytest(python, project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "mode=strict" in output.lower().replace("mode.strict", "strict"), output
    assert re.search(r"\b3 passed\b", output) and "skipped" not in output, output


@pytest.mark.slow
def test_plugin_leaves_pytest_alone_without_pytest_asyncio(dist: Path, tmp_path: Path) -> None:
    """Without pytest-asyncio the plugin still loads: a plain test runs, and the
    synchronous clock fixture is the SDK's clock during the test."""
    (wheel,) = dist.glob("*.whl")
    python = fresh_env(tmp_path / "venv", wheel, ["pytest"])
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_clock.py").write_text(
        textwrap.dedent(
            """
            from lyra_mavera.testing import FakeClock, get_clock

            def test_clock(lyra_mavera_clock: FakeClock) -> None:
                assert get_clock() is lyra_mavera_clock and lyra_mavera_clock.virtual

            def test_other() -> None:
                assert get_clock() is not None
            """
        )
    )
    result = run_pytest(python, project)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr
