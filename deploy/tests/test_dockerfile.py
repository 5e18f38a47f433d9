"""The root Dockerfile, read statically (no Docker engine here, so images are not built in the
tests): built with uv from the lockfile, one package per image, non-root, no build tools in the
runtime stage, every workspace member known, every image name a real command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def _stages() -> dict[str, list[str]]:
    """Stage name -> its instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: dict[str, list[str]] = {}
    current = "(preamble)"
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if match:
            current = match[1] or f"(stage {len(stages)})"
            stages[current] = []
        stages.setdefault(current, []).append(line)
    return stages


def _members() -> list[str]:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += [str(p.parent.relative_to(REPO)) for p in REPO.glob(f"{pattern}/pyproject.toml")]
    return sorted(members)


def test_dependencies_come_from_the_lockfile_one_package_at_a_time() -> None:
    build = _stages()["build"]
    syncs = [line.split("uv sync", 1)[1] for line in build if "uv sync" in line]
    assert len(syncs) == 2
    for flags in syncs:
        for flag in ("--frozen", "--no-dev", '--package "${PACKAGE}"'):
            assert flag in flags, flags
    assert "--no-editable" in syncs[-1]
    assert any(line.startswith("COPY uv.lock") for line in build)


def test_every_workspace_member_manifest_is_copied_before_the_first_sync() -> None:
    build = _stages()["build"]
    first_sync = next(i for i, line in enumerate(build) if "uv sync" in line)
    copied = " ".join(build[:first_sync])
    for member in _members():
        assert f"COPY {member}/pyproject.toml" in copied, f"{member} is not in the Dockerfile"


def test_runtime_stages_run_as_non_root_without_build_tools() -> None:
    stages = _stages()
    assert list(stages)[-1] == "service", "the default target must be the service image"
    for name in ("service", "gateway"):
        instructions = stages[name]
        users = [line for line in instructions if line.startswith("USER")]
        assert users, f"{name} has no USER"
        assert users[-1] not in {"USER root", "USER 0"}, name
        text = " ".join(instructions)
        assert "/uv" not in text, f"{name} carries uv"
        assert "uv sync" not in text, f"{name} runs uv"
        assert not re.search(r"\b(gcc|build-essential|make)\b", text), f"{name} has build tools"
    assert any(line.startswith("COPY --from=build /app/.venv") for line in stages["service"])


def test_image_names_are_package_commands() -> None:
    # Compose and Kubernetes use one image per package, named after it; its entrypoint is the
    # package's command of the same name.
    scripts: dict[str, set[str]] = {}
    for member in _members():
        project = tomllib.loads((REPO / member / "pyproject.toml").read_text())["project"]
        scripts[project["name"]] = set(project.get("scripts", {}))
    for package, commands in scripts.items():
        if commands:
            assert package in commands, f"{package} has no command named after it"
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if image.startswith("fuelhub-") and not image.startswith("fuelhub-gateway"):
            package = image.split(":")[0]
            assert package in scripts, f"{name}: no workspace package {package}"
            build_args = service.get("build", {}).get("args", {})
            if build_args:
                assert build_args["PACKAGE"] == package, name


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    lines = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert "*" in lines, "allow-list: ignore everything, then re-include"
    for pattern in ("**/.venv", "**/.env", "**/*.pem", "**/*.key", "**/var/", "**/tests/"):
        assert pattern in lines, pattern
