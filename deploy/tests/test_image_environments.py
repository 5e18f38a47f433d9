"""Replays the Dockerfile's build stage without Docker, one package at a time: the files the
build stage copies, the same `uv sync` commands (read from the Dockerfile), then every module of
the package imported inside that environment alone. An undeclared dependency that the workspace's
shared virtualenv hides (postmodern-mono's point) fails here, as it would in the image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", "tests", ".pytest_cache", "var")
# Test helpers (`testing`) ship inside some packages but import pytest, and `__main__` runs the
# command: neither is imported by a running service.
IMPORT_ALL = """
import importlib, pkgutil, sys
failed = []
for top in sys.argv[1:]:
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in {"testing", "__main__"} or ".migrations." in info.name + ".":
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _build_stage() -> list[str]:
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if re.match(r"FROM .* AS build$", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("FROM "))
    return [line for line in lines[start:end] if line and not line.startswith("#")]


def _packages() -> dict[str, Path]:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    found = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for manifest in REPO.glob(f"{pattern}/pyproject.toml"):
            project = tomllib.loads(manifest.read_text())
            if project["project"].get("scripts"):
                found[project["project"]["name"]] = manifest.parent
    return found


PACKAGES = sorted(_packages())
# Packages whose image environment is known not to import (none now; an entry is an xfail that
# must start failing once fixed).
KNOWN_BROKEN: dict[str, str] = {}


@pytest.mark.slow
@pytest.mark.parametrize(
    "package",
    [
        pytest.param(p, marks=pytest.mark.xfail(reason=KNOWN_BROKEN[p], strict=True))
        if p in KNOWN_BROKEN
        else p
        for p in PACKAGES
    ],
)
def test_image_environment_imports_the_whole_package(package: str, tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    src = tmp_path / "src"
    src.mkdir()
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"),
        "UV_LINK_MODE": "copy",
        "UV_PYTHON_DOWNLOADS": "0",
        "UV_COMPILE_BYTECODE": "0",
        "VIRTUAL_ENV": "",
    }
    syncs = 0
    for line in _build_stage():
        copy = re.match(r"COPY (?!--from)(.+)", line)
        if copy:
            *sources, destination = copy[1].split()
            for source in sources:
                origin = REPO / source
                if origin.is_dir():
                    shutil.copytree(origin, src / destination, ignore=IGNORED, dirs_exist_ok=True)
                    continue
                target = src / destination
                if destination.endswith("/"):
                    target = target / origin.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
        sync = re.search(r"uv sync (.+)$", line)
        if sync:
            flags = sync[1].replace('"${PACKAGE}"', package).split()
            result = subprocess.run(
                [uv, "sync", "--quiet", *flags], cwd=src, env=env, capture_output=True,
                text=True, timeout=600, check=False,
            )  # fmt: skip
            assert result.returncode == 0, f"uv sync {' '.join(flags)}:\n{result.stderr}"
            syncs += 1
    assert syncs == 2
    manifest = tomllib.loads((_packages()[package] / "pyproject.toml").read_text())
    venv = tmp_path / "venv"
    for script in manifest["project"]["scripts"]:
        assert (venv / "bin" / script).exists(), f"{script} not installed"
    modules = [
        Path(p).name for p in manifest["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    ]
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", IMPORT_ALL, *modules],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"{package}: modules that fail to import alone:\n{result.stdout}{result.stderr}"
    )
