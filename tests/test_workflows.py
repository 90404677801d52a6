"""The GitHub Actions workflows (they cannot run here): they parse, and every command they run
exists: `make` targets in the Makefile, scripts in the repository."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _commands(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def test_there_is_a_test_and_a_book_workflow():
    assert {path.stem for path in WORKFLOWS} >= {"test", "book"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_its_commands_exist(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow["jobs"] and all(job.get("steps") or job.get("needs") for job in workflow["jobs"].values())
    targets = subprocess.run(["make", "-qp"], cwd=REPO, capture_output=True, text=True).stdout
    known = set(re.findall(r"^([A-Za-z][\w-]*):", targets, flags=re.M))
    for command in _commands(workflow):
        for target in re.findall(r"\bmake (\w[\w-]*)", command):
            assert target in known, f"{path.name} runs 'make {target}', which the Makefile does not define"
        for script in re.findall(r"(?:bash )?((?:\.ci|scripts)/[\w./-]+)", command):
            assert (REPO / script).exists(), f"{path.name} runs {script}, which does not exist"


def test_the_test_workflow_runs_what_ci_runs():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "test.yml").read_text())
    assert "bash .ci/run" in _commands(workflow)
    assert "make test" in (REPO / ".ci" / "run").read_text()
