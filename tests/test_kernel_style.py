"""Kernels are pure functions over small records: no numba kernel of the package takes more
than 12 arguments (state and parameters travel as NamedTuples)."""
import ast
from pathlib import Path

import biosim

MAX_ARGS = 12


def _kernels():
    root = Path(biosim.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    "jit" in ast.unparse(d) for d in node.decorator_list):
                yield f"{path.relative_to(root)}:{node.name}", len(node.args.args)


def test_the_scan_finds_the_kernels():
    names = dict(_kernels())
    assert "neurons/fused.py:_run_steps" in names and len(names) > 30


def test_no_kernel_takes_more_than_twelve_arguments():
    wide = {name: n for name, n in _kernels() if n > MAX_ARGS}
    assert not wide, f"kernels with more than {MAX_ARGS} arguments (pass records): {wide}"
