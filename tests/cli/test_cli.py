"""The command line: one-line errors with exit status 2, `rfbench list`, `rfbench run` end to end."""

import subprocess
import sys

import pytest

from rfbench.cli import main


@pytest.mark.parametrize("argv,message", [
    (["run", "toy3d"], "unknown suite 'toy3d'"),
    (["run", "toy2d", "--models", "2-rff"], "unknown model '2-rff'"),
    (["run", "toy2d", "--samplers", "huen"], "Did you mean 'heun'"),
    (["run", "toy2d", "--nfe", "0,2"], "--nfe must be a list of positive integers"),
    (["run", "toy2d", "--device", "tpu"], "--device must be 'cpu', 'cuda' or 'cuda:N'"),
    (["train", "analytic-gmm-rf"], "is analytic; only trained models can be trained"),
    (["train", "1-rf", "--data", "mnist"], "cannot be trained on dataset 'mnist'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "run" else [])) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("rfbench: error:") and len(err.splitlines()) == 1


def test_cli_list_shows_orders_and_nfe_per_step(capsys):
    assert main(["list", "samplers"]) == 0
    text = capsys.readouterr().out
    assert "heun" in text and "2 (odd NFE: last step Euler)" in text and "order" in text


def test_cli_run_end_to_end(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rfbench.cli", "run", "toy2d", "--models", "analytic-gmm-rf",
                           "--samplers", "euler", "--nfe", "2,4", "--out", str(tmp_path), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "2 cells (2 computed" in proc.stdout
    assert (tmp_path / "results.csv").exists() and (tmp_path / "results.md").exists()
