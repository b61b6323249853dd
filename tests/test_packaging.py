"""The install paths: uv.lock feeds `make run`, `make test` and the Docker image.

No Docker engine runs here, so the Dockerfile and docker-compose.yml are checked by
reading them (dockerfile-parse, PyYAML); the image's install step, a runtime-only sync of
the lock into a virtualenv of its own, is replayed with uv, and that virtualenv then
serves its pages and answers the image's HEALTHCHECK.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from app.cli import build_parser
from tests.server import ROOT, running_server

# Direct development requirements that the runtime needs anyway: uvicorn[standard]
# brings PyYAML (uvicorn reads YAML logging configs); the tests read docker-compose.yml.
ALSO_AT_RUNTIME = {"pyyaml"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def lock() -> dict[str, Any]:
    with (ROOT / "uv.lock").open("rb") as handle:
        return tomllib.load(handle)


@cache
def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def project_package() -> dict[str, Any]:
    name = normalize(pyproject()["project"]["name"])
    (package,) = (p for p in lock()["package"] if p["name"] == name)
    return package


def locked_closure(roots: Iterable[dict[str, Any]]) -> set[str]:
    """Every package name the lock installs for `roots` (its dependency entries), extras
    included. Markers are ignored, so this is the closure for every platform at once."""
    by_name: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for package in lock()["package"]:
        by_name[package["name"]].append(package)
    seen: set[tuple[str, str | None]] = set()
    pending = [(dep["name"], None) for dep in roots]
    pending += [(dep["name"], extra) for dep in roots for extra in dep.get("extra", ())]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        for package in by_name[name]:
            deps = (
                package.get("dependencies", [])
                if extra is None
                else package.get("optional-dependencies", {}).get(extra, [])
            )
            pending += [(dep["name"], None) for dep in deps]
            pending += [(dep["name"], e) for dep in deps for e in dep.get("extra", ())]
    return {name for name, _ in seen}


def runtime_closure() -> set[str]:
    return locked_closure(project_package()["dependencies"])


def dev_group() -> set[str]:
    """The `dev` dependency group's own requirements."""
    return {dep["name"] for dep in project_package()["dev-dependencies"]["dev"]}


def development_tools() -> set[str]:
    return dev_group() - ALSO_AT_RUNTIME


def test_runtime_dependencies_carry_no_test_or_lint_tool() -> None:
    shipped = runtime_closure() & dev_group()
    assert shipped <= ALSO_AT_RUNTIME, (
        f"{sorted(shipped - ALSO_AT_RUNTIME)} would be installed by `make run` and the image: "
        "development tools belong in [dependency-groups] dev, not [project] dependencies"
    )
    assert {"pytest", "ruff", "mypy", "hypothesis", "schemathesis"} <= development_tools()


# --- Dockerfile ---------------------------------------------------------------------------


def instructions() -> list[dict[str, Any]]:
    with (ROOT / "Dockerfile").open("rb") as handle:
        parsed = DockerfileParser(fileobj=handle)
        return [i for i in parsed.structure if i["instruction"] != "COMMENT"]


def stages() -> dict[str, list[dict[str, Any]]]:
    """Each stage's instructions by its name (`FROM ... AS name`), in order."""
    found: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for instruction in instructions():
        if instruction["instruction"] == "FROM":
            current = found.setdefault(instruction["value"].split()[-1], [])
        current.append(instruction)
    return found


def values(stage: list[dict[str, Any]], kind: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == kind]


def copied_sources(stage: list[dict[str, Any]]) -> Iterator[str]:
    """The build-context paths a stage's COPY instructions read."""
    for value in values(stage, "COPY"):
        *sources, _destination = shlex.split(value)
        if not any(source.startswith("--from=") for source in sources):
            yield from (source for source in sources if not source.startswith("--"))


def sync_commands(stage: list[dict[str, Any]]) -> list[list[str]]:
    commands = []
    for value in values(stage, "RUN"):
        words = shlex.split(value)
        if "uv" in words and "sync" in words:
            commands.append(words[words.index("uv") :])
    return commands


def test_image_installs_the_locked_runtime_dependencies_only() -> None:
    build = stages()["build"]
    syncs = sync_commands(build)
    assert syncs, "the build stage installs nothing with `uv sync`"
    for command in syncs:
        assert "--locked" in command or "--frozen" in command, command
        assert "--no-dev" in command, command
        assert not {"--dev", "--all-groups", "--group", "--only-dev"} & set(command), command
    # The lock and pyproject.toml are in the image before the first sync.
    first_sync = next(i for i, step in enumerate(build) if "uv sync" in step["value"])
    before = list(copied_sources(build[:first_sync]))
    assert {"uv.lock", "pyproject.toml"} <= set(before), before
    # pip installs uv alone, at the version pyproject.toml pins.
    pip_installs = [v for v in values(build, "RUN") if "pip install" in v]
    assert pip_installs, "uv is not installed in the build stage"
    for value in pip_installs:
        assert re.fullmatch(r'pip install "uv\$\(.*\["required-version"\].*\)"', value), value
    pin = pyproject()["tool"]["uv"]["required-version"]
    assert re.fullmatch(r"==\d+\.\d+\.\d+", pin), f"uv is pinned loosely: {pin}"


def test_image_runs_the_build_stage_venv_as_an_unprivileged_user() -> None:
    *_, runtime = stages().values()
    assert not any(re.search(r"\b(pip|uv)\b", v) for v in values(runtime, "RUN"))
    assert values(runtime, "COPY") == ["--from=build /opt/venv /opt/venv"]
    assert values(runtime, "USER")[-1] not in {"root", "0"}
    (healthcheck,) = values(runtime, "HEALTHCHECK")
    assert "CMD" in healthcheck.split()


def test_files_the_image_copies_are_in_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = {source for stage in stages().values() for source in copied_sources(stage)}
    assert "uv.lock" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
        parts = Path(source).parts
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        excluded = [p for p in ignored for prefix in prefixes if fnmatch.fnmatch(prefix, p)]
        assert not excluded, f".dockerignore leaves {source} out of the build ({excluded})"


def image_commands() -> dict[str, list[str]]:
    """The commands the image runs: its CMD and each compose service built from it."""
    (cmd,) = values(instructions(), "CMD")
    commands = {"Dockerfile CMD": json.loads(cmd)}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if "build" in service:
            commands[f"compose service {name}"] = service["command"]
    return commands


def test_commands_of_the_image_and_compose_services_exist_in_the_cli() -> None:
    commands = image_commands()
    assert {"compose service api", "compose service worker", "compose service migrate"} <= set(
        commands
    )
    parser = build_parser()
    for where, command in commands.items():
        assert command[:3] == ["python", "-m", "app"], f"{where}: {command}"
        try:
            parser.parse_args(command[3:])
        except SystemExit:
            pytest.fail(f"{where}: `{shlex.join(command)}` is not a valid command")


# --- the image's install, replayed --------------------------------------------------------


def uv_binary() -> str:
    """The uv `make` installed (it passes its path), else one on PATH."""
    found = os.environ.get("ITEMSVC_UV") or shutil.which("uv")
    if not found:
        pytest.skip("no uv: run the tests with `make test`")
    return found


def healthcheck_command() -> list[str]:
    (healthcheck,) = values(instructions(), "HEALTHCHECK")
    return list(json.loads(healthcheck.split("CMD", 1)[1]))


async def run(command: list[str], *, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
async def test_runtime_install_from_the_lock_serves_and_answers_the_healthcheck(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "DATABASE_URL"}}
    sync_env = {**env, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    sync = sync_commands(stages()["build"])[-1]  # the image's final install, as written
    command = [uv_binary(), *sync[1:]]
    command[command.index("--python") + 1] = sys.executable
    status, output = await run(command, env=sync_env, cwd=ROOT)
    assert status == 0, output

    # Served from outside the repository, so the installed package is what runs.
    workdir = tmp_path / "app"
    workdir.mkdir()
    app_env = {**env, "DATA_DIR": str(workdir / "data"), "PATH": f"{venv / 'bin'}:{env['PATH']}"}
    probe = "import app, importlib.metadata as m; print(app.__file__)\n"
    probe += "print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"
    status, output = await run(
        [str(venv / "bin" / "python"), "-c", probe], env=app_env, cwd=workdir
    )
    assert status == 0, output
    module, *installed = output.split()
    assert Path(module).is_relative_to(venv), module
    assert not development_tools() & {normalize(name) for name in installed}
    assert runtime_closure() | {project_package()["name"]} >= {normalize(n) for n in installed}

    status, output = await run(["python", "-m", "app", "migrate"], env=app_env, cwd=workdir)
    assert status == 0, output
    healthcheck = healthcheck_command()
    async with running_server(
        tmp_path / "server.log",
        {"DATA_DIR": app_env["DATA_DIR"]},
        unset=("DATABASE_URL",),
        python=str(venv / "bin" / "python"),
        cwd=workdir,
    ) as server:
        status, output = await run(
            healthcheck, env={**app_env, "PORT": str(server.port)}, cwd=workdir
        )
        assert status == 0, output
        # The pages' templates and static files (vendored viewers included) are installed.
        async with httpx.AsyncClient(base_url=server.url) as client:
            page = await client.get("/docs")
            assert page.status_code == 200, page.text
            assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
            assert len(assets) >= 2, page.text
            for asset in assets:
                assert (await client.get(asset)).status_code == 200, asset
    status, _ = await run(healthcheck, env={**app_env, "PORT": str(server.port)}, cwd=workdir)
    assert status != 0, "the healthcheck passes with no server"
