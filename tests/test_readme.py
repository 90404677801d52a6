"""The README's "Use patchlib from Python" section runs as written."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_python_blocks(section: str = "## Use patchlib from Python") -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf8")
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


@pytest.mark.slow
def test_the_readme_python_section_runs(tmp_path):
    blocks = readme_python_blocks()
    assert blocks, "the README has no python block in its 'Use patchlib from Python' section"
    results = tmp_path / "results"
    shutil.copytree(REPO / "results", results, ignore=shutil.ignore_patterns("checkpoints", "*-smoke-*"))
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    # The README's code reads stored records only: no data root (CI's real data would be decoded to
    # compare fingerprints, which costs half a minute on a cold cache and tests nothing here).
    env = os.environ | {"PYTHONPATH": str(REPO), "PATCHLIB_RESULTS": str(results),
                        "PATCHLIB_DATA": str(tmp_path / "no-data")}
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "torch.Size([2, 10])" in run.stdout
    assert "pos_embed_distance reproduced" in run.stdout  # a claim read from the committed record
