"""The documentation site (issue 19): `make docs` builds it offline with warnings as errors
(broken internal links and anchors included); every public class and function of biosim is
in the API reference; every notebook is rendered with its outputs."""
import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import biosim

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs tools are in the dev extra")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                        str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def public_objects():
    """``(module, name, object)`` for every public class and function: a module's
    ``__all__`` where it has one, else what it defines without a leading underscore."""
    out = []
    for info in pkgutil.walk_packages(biosim.__path__, "biosim."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n, o in vars(module).items() if not n.startswith("_")
                     and getattr(o, "__module__", None) == module.__name__]
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj) or hasattr(obj, "py_func"):
                out.append((module.__name__, name, obj))
    return out


def test_every_public_class_and_function_is_in_the_api_reference(site):
    ids = set()
    for page in (site / "api").rglob("*.html"):
        ids |= set(re.findall(r'id="(biosim[\w.]*)"', page.read_text()))
    objects = public_objects()
    assert len(objects) > 200
    missing = sorted(f"{m}.{n}" for m, n, obj in objects
                     if f"{obj.__module__}.{obj.__qualname__}" not in ids)
    assert not missing, f"{len(missing)} public names missing from the API pages: {missing}"


def test_every_notebook_is_rendered_with_outputs(site):
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        unrun = [k for k, c in enumerate(cells) if c.get("execution_count") is None]
        assert not unrun, f"{nb.name}: code cells {unrun} not executed; run `make notebooks`"
        assert sum(len(c["outputs"]) for c in cells) >= 2, nb.name
        html = (site / "notebooks" / nb.stem / "index.html").read_text()
        assert "jp-OutputArea-output" in html, nb.name
        if any("image/png" in o.get("data", {}) for c in cells for o in c["outputs"]):
            assert "data:image/png;base64," in html, nb.name
        assert "Try changing" in html, f"{nb.name}: no 'Try changing' prompt"


def test_command_line_page_lists_every_command_and_no_other(site):
    html = (site / "guide" / "cli" / "index.html").read_text()
    from biosim.cli import COMMANDS

    for name in COMMANDS:
        assert f"biosim {name}" in html
    assert "biosim bench " not in html and "--version" in html
