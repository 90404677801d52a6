"""Store in notebooks/*.ipynb the outputs that nbval checks, and nothing else.

Usage: python scripts/store_check_outputs.py EXECUTED.ipynb SOURCE.ipynb

Copies the outputs of the cells marked `# NBVAL_CHECK_OUTPUT` from a notebook executed in the
smoke profile (`make notebooks`) into the source notebook and clears every other output, so
the committed notebooks stay small and `pytest --nbval-lax` has the expected values to compare.
"""
import sys

import nbformat

MARK = "# NBVAL_CHECK_OUTPUT"

executed, source = (nbformat.read(path, as_version=4) for path in sys.argv[1:3])
checked = [cell for cell in executed.cells if cell.cell_type == "code" and MARK in cell.source]
targets = [cell for cell in source.cells if cell.cell_type == "code" and MARK in cell.source]
if [c.source for c in checked] != [c.source for c in targets]:
    sys.exit("the checked cells of the two notebooks differ: execute the current source notebook first")
for cell in source.cells:
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
for target, cell in zip(targets, checked):
    target.outputs = [output for output in cell.outputs if output.output_type == "stream" and output.name == "stdout"]
    target.execution_count = cell.execution_count  # nbval only compares cells that have run
nbformat.write(source, sys.argv[2])
print(f"stored the outputs of {len(targets)} checked cell(s) in {sys.argv[2]}")
