"""The pinned environment works: torch and torchvision load together, and the pins agree."""
import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def test_torchvision_imports_and_transforms():
    import torchvision
    from torchvision.transforms import v2

    image = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(v2.functional.horizontal_flip(image), image.flip(-1))
    resized = v2.Resize((4, 6), antialias=True)(image)
    assert resized.shape == (3, 4, 6) and resized.dtype == torch.uint8
    assert torchvision.__version__.startswith("0.")


def _pins(lines):
    return {re.split(r"[=<>~!]", line.strip(" -"), maxsplit=1)[0].lower(): line.strip(" -")
            for line in lines if re.match(r"^\s*-?\s*[A-Za-z].*==", line)}


def test_environment_yml_has_the_same_pins_as_requirements():
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    conda = (ROOT / "environment.yml").read_text()
    pip_section = conda.split("- pip:", 1)[1].splitlines()
    assert _pins(pip_section) == requirements
    assert "torch===2.13.0" in requirements.values()


def test_environment_key_ignores_what_is_on_pythonpath(tmp_path):
    """The cached environment is keyed by requirements.txt and the interpreter's version only: a
    `sitecustomize` on PYTHONPATH that prints something must not change the key (it would
    trigger a 2.6 GB reinstall)."""
    import os
    import subprocess

    script = ROOT / "scripts" / "setup_env.sh"
    (tmp_path / "sitecustomize.py").write_text("print('hello from sitecustomize')\n")

    def key(pythonpath: str | None) -> str:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        out = subprocess.run(["bash", str(script), "--key"], env=env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    plain = key(None)
    assert len(plain) == 16 and plain == key(str(tmp_path))
