"""The package's layers (documented in ``biosim/__init__.py``), read from the source with
``ast``: every import, also those inside functions and ``importlib.import_module("...")``
with a literal name, goes down the layers or stays in its own package.

0. ``biosim.core``: imports only itself;
1. ``biosim.neurons``: core;
2. the families (``FAMILIES``): core, neurons and themselves, never another family;
3. the top: ``biosim`` itself, ``biosim.plot``, the command line (``biosim.cli``,
   ``biosim.spec_cli``, every ``biosim.<family>.cli``), ``biosim.warmup``: anything.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "biosim"
FAMILIES = {"reservoir", "memory", "oscillators", "dendrites", "vpr", "sweep"}
TOP = {"plot", "cli", "spec_cli", "warmup"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[int, str]:
    """(layer, group) of a module of biosim; modules of one group may import each other."""
    parts = module.split(".")
    if len(parts) == 1:
        return 3, "top"
    head = parts[1]
    if head in TOP or (head in FAMILIES and parts[-1] == "cli"):
        return 3, "top"
    if head == "core":
        return 0, "core"
    if head == "neurons":
        return 1, "neurons"
    if head in FAMILIES:
        return 2, head
    raise AssertionError(f"{module}: a package the layers do not know; add it to "
                         f"FAMILIES or TOP in {Path(__file__).name} and biosim/__init__.py")


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, imported biosim module) of every import in ``source``."""
    found = []
    base = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                stem = base[:len(base) - node.level + 1]
                target = ".".join(stem + ([node.module] if node.module else []))
            else:
                target = node.module
            # ``from biosim import plot`` imports the module biosim.plot; the version string
            # is metadata that any layer may read
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub != "biosim.__version__":
                    found.append((node.lineno, sub if is_module(sub) else target))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return [(line, name) for line, name in found
            if name == "biosim" or name.startswith("biosim.")]


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    here, group = layer(module)
    bad = []
    for line, target in imports(source, module, is_package):
        there, other = layer(target)
        if other != group and there >= here:
            bad.append(f"{module}:{line} imports {target} (layer {here} {group} -> "
                       f"layer {there} {other})")
    return bad


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_layers_hold():
    bad = []
    for path in modules():
        bad += violations(path.read_text(), module_name(path), path.name == "__init__.py")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_every_subpackage_has_a_layer():
    for path in modules():
        layer(module_name(path))


@pytest.mark.parametrize("module, source, n_bad", [
    ("biosim.core.spec", "from biosim.neurons import LIF", 1),
    ("biosim.core.spec", "def f():\n    from biosim import plot", 1),
    ("biosim.core.spec", "import importlib\nimportlib.import_module('biosim.reservoir')", 1),
    ("biosim.core.spec", "from biosim import core\nfrom biosim.core import io", 0),
    ("biosim.core.spec", "import biosim", 1),
    ("biosim.core.io", "from biosim import __version__", 0),
    ("biosim.vpr.recognizer", "from biosim.sweep import sweep", 1),
    ("biosim.vpr.recognizer", "from ..memory import cliques", 1),
    ("biosim.vpr.recognizer", "from . import datasets\nfrom biosim.neurons import LIF", 0),
    ("biosim.neurons.lif", "from biosim.reservoir import Reservoir", 1),
    ("biosim.vpr.cli", "from biosim import plot\nfrom biosim.vpr import datasets", 0),
    ("biosim.spec_cli", "from biosim.reservoir import spec", 0),
])
def test_the_check_sees_each_kind_of_import(module, source, n_bad):
    """The check itself: each way of importing across the layers is caught."""
    assert len(violations(source, module)) == n_bad
