"""``biosim vpr make-synthetic`` and ``biosim vpr baseline`` on the shell."""
import json

from biosim.cli import main


def test_make_synthetic_then_baseline(tmp_path, capsys):
    assert main(["vpr", "make-synthetic", "--places", "30", "--conditions", "summer,winter",
                 "--seed", "3", "--out", str(tmp_path / "route")]) == 0
    assert len(list((tmp_path / "route/winter").glob("*.png"))) == 30
    out = tmp_path / "res"
    assert main(["vpr", "baseline", "--reference", str(tmp_path / "route/summer"),
                 "--query", str(tmp_path / "route/winter"), "--sequence", "5",
                 "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    # well above chance (1/30), below perfect, and sequences help (issue 7's synthetic band)
    assert 0.15 < report["sad"]["R@1"] < 0.95
    assert report["sad+seq5"]["R@1"] > report["sad"]["R@1"]
    assert (out / "pr_curve.png").stat().st_size > 5000
    assert (out / "similarity.png").stat().st_size > 5000
    assert "R@100P" in capsys.readouterr().out


def test_baseline_missing_folder_is_one_clear_line(tmp_path, capsys):
    assert main(["vpr", "baseline", "--reference", str(tmp_path / "nope"),
                 "--query", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "folder" in err and "\n" not in err
