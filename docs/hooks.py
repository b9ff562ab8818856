"""MkDocs hooks: the notebooks, the API pages and the command-line help come from the
repository itself at build time, so the site cannot drift from the code.

- every ``notebooks/*.ipynb`` becomes a page (rendered with its stored outputs by
  mkdocs-jupyter; ``make notebooks`` refreshes them);
- ``api/<package>.md``: one page per subpackage with every public module in it
  (mkdocstrings renders the docstrings);
- ``<!-- biosim-help -->`` in a page becomes the ``--help`` of every ``biosim`` command;
- ``<!-- biosim-benchmarks -->`` becomes the docstring of every benchmark script, and
  ``<!-- biosim-bench-table -->`` the table ``make bench`` writes to ``docs/performance.md``;
- the docstrings' Sphinx roles (``:class:`~biosim.core.Network```) are shown as code.
"""
from __future__ import annotations

import ast
import contextlib
import io
import re
import sys
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the CLI help of this checkout, whatever is installed
ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj|exc):<code>(~?)([^<]*)</code>")
PACKAGE = ROOT / "biosim"
#: the command-line modules get their own API page
CLI_MODULES = ["biosim.cli", "biosim.spec_cli"]


def _modules(folder: Path, prefix: str) -> list[str]:
    return [f"{prefix}.{f.stem}" for f in sorted(folder.glob("*.py"))
            if not f.stem.startswith("_") and f"{prefix}.{f.stem}" not in CLI_MODULES]


def api_pages() -> dict[str, list[str]]:
    """``{page name: [package, module, ...]}``: the top level (``biosim`` and its top-level
    modules), one page per subpackage (the package, then each public module), the CLI."""
    pages = {"biosim": ["biosim", *_modules(PACKAGE, "biosim")]}
    for pkg in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        pages[pkg.name] = [f"biosim.{pkg.name}", *_modules(pkg, f"biosim.{pkg.name}")]
    pages["command line"] = CLI_MODULES
    return pages


def _defined_in(path: Path) -> list[str]:
    """Public classes and functions defined (not imported) in a file."""
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            and not n.name.startswith("_")]


def _api_markdown(name: str, modules: list[str]) -> str:
    lines = [f"# `{name}`" if name != "command line" else "# Command-line modules", ""]
    for i, mod in enumerate(modules):
        # a package opens its page with its docstring and what its __init__ defines; what
        # it re-exports is documented in the module that defines it
        opts = ""
        if i == 0 and name != "command line":
            own = _defined_in(PACKAGE.parent / mod.replace(".", "/") / "__init__.py")
            opts = "\n    options:\n      members: " + (str(own) if own else "false")
        lines += [f"::: {mod}{opts}", ""]
    return "\n".join(lines)


def _api_file(name: str) -> str:
    return f"api/{name.replace(' ', '_')}.md"


def _notebook_title(path: Path) -> str:
    """The notebook's first heading (without the '#'), else its file name."""
    import json

    for cell in json.loads(path.read_text())["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and src.startswith("# "):
            return src.splitlines()[0][2:].strip()
    return path.stem


def on_config(config):
    # the "API reference" section of the nav lists every generated page (new packages too)
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and "Notebooks" in entry:   # every notebook, new ones too
            entry["Notebooks"] = [{_notebook_title(nb): f"notebooks/{nb.name}"}
                                  for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))]
        if isinstance(entry, dict) and "API reference" in entry:
            entry["API reference"] = [
                {("Command-line modules" if n == "command line" else
                  "biosim" if n == "biosim" else f"biosim.{n}"): _api_file(n)}
                for n in api_pages()]
    return config


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files, config):
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{nb.name}", str(ROOT), config["site_dir"],
                          config["use_directory_urls"]))
    for name, modules in api_pages().items():
        files.append(File.generated(config, _api_file(name),
                                    content=_api_markdown(name, modules)))
    return files


def _help() -> str:
    from biosim.cli import build_parser

    parser, _ = build_parser()
    out = [("biosim", parser)]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        out.append((f"biosim {name}", p))
        inner = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
        for a in inner:
            out += [(f"biosim {name} {n}", q) for n, q in a.choices.items()]
    text = []
    for title, p in out:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            p.print_help()
        text += [f"## `{title}`", "", "```text", buf.getvalue().rstrip(), "```", ""]
    return "\n".join(text)


def _benchmarks() -> str:
    text = []
    for f in sorted((ROOT / "benchmarks").glob("*.py")):
        doc = ast.get_docstring(ast.parse(f.read_text())) or ""
        text += [f"### `benchmarks/{f.name}`", "", "```text", doc, "```", ""]
    return "\n".join(text)


def _bench_table() -> str:
    path = ROOT / "docs" / "performance.md"
    if not path.is_file():
        return "Run `make bench` to measure them on your machine and write the table here."
    text = path.read_text().split("\n", 1)[1]      # without its title
    return text.replace("](figures/", "](../figures/")


def on_page_markdown(markdown, page, config, files):
    if "<!-- biosim-bench-table -->" in markdown:
        markdown = markdown.replace("<!-- biosim-bench-table -->", _bench_table())
    if "<!-- biosim-help -->" in markdown:
        markdown = markdown.replace("<!-- biosim-help -->", _help())
    if "<!-- biosim-benchmarks -->" in markdown:
        markdown = markdown.replace("<!-- biosim-benchmarks -->", _benchmarks())
    return markdown


def on_page_content(html, page, config, files):
    # ":class:`~a.b.C`" in a docstring: show "C" (or "a.b.C" without the tilde) as code
    return ROLE.sub(lambda m: "<code>%s</code>" % (m.group(2).rsplit(".", 1)[-1] if m.group(1)
                                                     else m.group(2)), html)
