"""The tree guard in tests/conftest.py fails a run that rewrites a tracked file or leaves a
new file in the checkout (a test once copied screenshots into docs/ on every run)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).parents[1] / "conftest.py"


def _repo_with_a_test(root: Path, body: str) -> Path:
    root.mkdir()
    (root / "tests").mkdir()
    shutil.copy(CONFTEST, root / "tests" / "conftest.py")
    (root / "data.txt").write_text("tracked\n")
    (root / "tests" / "test_probe.py").write_text(
        "from pathlib import Path\n\n\ndef test_probe():\n" + body)
    for command in (["init", "-q"], ["add", "."],
                    ["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(root), *command], check=True, capture_output=True)
    return root


def _run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=root, capture_output=True, text=True, timeout=120)


def test_a_run_that_rewrites_a_tracked_file_fails_and_names_it(tmp_path: Path) -> None:
    root = _repo_with_a_test(tmp_path / "repo", "    Path('data.txt').write_text('changed')\n")
    result = _run(root)
    assert result.returncode == 1, result.stdout
    assert "1 passed" in result.stdout and "data.txt" in result.stdout


def test_a_run_that_leaves_a_new_file_fails(tmp_path: Path) -> None:
    root = _repo_with_a_test(tmp_path / "repo", "    Path('shot.png').write_bytes(b'x')\n")
    result = _run(root)
    assert result.returncode == 1 and "shot.png" in result.stdout, result.stdout


def test_a_run_that_writes_only_its_tmp_path_passes(tmp_path: Path) -> None:
    root = _repo_with_a_test(tmp_path / "repo", "    assert Path('data.txt').read_text()\n")
    assert _run(root).returncode == 0
