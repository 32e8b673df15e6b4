"""The layering of ../shared/ARCHITECTURE.md is a contract: lint-imports checks it (see .importlinter)."""
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = ("core", "keras_parts", "engine", "results", "charts")


def test_the_tree_shows_the_layers():
    for layer in LAYERS:
        assert (ROOT / "dlcore" / layer / "__init__.py").is_file(), layer
    loose = sorted(p.name for p in (ROOT / "dlcore").glob("*.py"))
    assert loose == ["__init__.py", "data.py", "run.py", "train.py"], "only the package and the commands sit at the top"


def test_lint_imports_keeps_every_contract():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (bash scripts/install_test_deps.sh installs it)")
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
