"""The import-linter contracts in pyproject.toml (`make test` runs them on the code) fail on an upward import."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
        ],
        cwd=root,
        env={"PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_import_from_the_runtime_up_into_the_flows_breaks_the_build(tmp_path):
    for name in ("engine", "webapp"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("static", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    step = tmp_path / "engine" / "runtime" / "step.py"
    step.write_text(step.read_text() + "\nfrom engine.flows import timers  # a step firing timers itself\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "engine.runtime.step -> engine.flows.timers" in result.stdout, result.stdout
