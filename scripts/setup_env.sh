#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment.
#
# The environment is keyed by the SHA-256 of requirements.txt and lives in
# ${PATCHLIB_ENV_CACHE:-$HOME/.cache/patchlib}/venv-<hash>; `.venv` in the project is a
# symlink to it. A fresh clone with unchanged pins therefore reuses the cached
# environment instead of downloading torch (~2.6 GB) again. An environment is only
# reused once its `.complete` marker exists, so an interrupted install is redone.
# `setup_env.sh --key` prints the key and exits. The interpreter is asked for its version in
# isolated mode (-I), so nothing on PYTHONPATH or in user site-packages can change the key.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
hash=$( (cat requirements.txt; "$PYTHON" -I -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
if [ "${1:-}" = "--key" ]; then echo "$hash"; exit 0; fi
cache=${PATCHLIB_ENV_CACHE:-$HOME/.cache/patchlib}
venv="$cache/venv-$hash"

if [ ! -f "$venv/.complete" ]; then
    echo "setup: creating $venv (first run with these pins: several minutes)"
    rm -rf "$venv"
    mkdir -p "$cache"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r requirements.txt
    # Fail here, not in a notebook, if torch and torchvision do not work together.
    "$venv/bin/python" -c 'import torch, torchvision.transforms.v2.functional as TF; TF.horizontal_flip(torch.zeros(3, 4, 4))'
    touch "$venv/.complete"
else
    echo "setup: reusing $venv"
fi
ln -sfn "$venv" .venv
# patchlib itself is not installed into the (shared) environment: the Makefile puts this
# checkout on PYTHONPATH, so two clones never fight over one editable install.
