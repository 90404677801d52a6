"""Test-session settings shared by the unit tests and nbval's notebook runs.

Notebook kernels (and `make` subprocesses) inherit this process's environment: pointing
PATCHLIB_RESULTS at a fresh temporary folder makes every test compute its results instead of
reading, or overwriting, the ones in results/.
"""
import os
import tempfile

os.environ["PATCHLIB_RESULTS"] = tempfile.mkdtemp(prefix="patchlib-test-results-")
