"""Issue 2, Done 3: a wheel built from the repo, in a fresh venv, renders from another folder and
carries the demo project templates."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from offline import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def tmp_path(tmp_path):
    """The render below writes generated secrets under tmp_path/state: they go with the test."""
    yield tmp_path
    shutil.rmtree(tmp_path / "state", ignore_errors=True)


def test_wheel_carries_templates_and_renders_elsewhere(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True)
    wheel = next((tmp_path / "dist").glob("ci_stack-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "ci_stack/templates/compose.yaml.j2" in names and "ci_stack/templates/jenkins/plugins.txt" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([venv / "bin" / "ci-stack", "--state-dir", str(tmp_path / "state"), "render"],
                            cwd=elsewhere, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "compose.yaml").is_file() and (tmp_path / "state" / "gogs" / "app.ini").is_file()
    assert "ci_stack/templates/projects/numbers/project.toml" in names
    assert "ci_stack/templates/projects/_pipeline/ci/build.sh" in names
    listed = subprocess.run([venv / "bin" / "ci-stack", "seed-repo", "--list"], cwd=elsewhere, capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["numbers", "site"]
