"""Project hygiene: licence, version, command line (issue 19)."""
import re
import tomllib
from pathlib import Path

import pytest

import biosim
from biosim.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"biosim {biosim.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", biosim.__version__)


def test_license_matches_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_help_names_only_existing_commands(capsys):
    """The top-level help once advertised a `biosim bench` that did not exist."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    listed = set(re.search(r"\{([a-z,-]+)\}", out).group(1).split(","))
    assert listed == {"run", "sweep", "vpr"}
    assert "bench" not in out.replace("bench-nordland", "")
