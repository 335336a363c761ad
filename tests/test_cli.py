"""Tests for the command line (`python -m aecore`), run as a real subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, models_dir):
    env = {**os.environ, "AECORE_MODELS_DIR": str(models_dir)}
    return subprocess.run([sys.executable, "-m", "aecore", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_datasets_lists_the_offline_sources(tmp_path):
    r = cli("datasets", models_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert set(lines) == {"mnist", "fashion_mnist", "olivetti", "digits"}
    assert "offline" in lines["mnist"] and "shared/data/mnist" in lines["mnist"]
    assert "sklearn (bundled)" in lines["digits"]


def test_train_list_eval_morph_export_delete(tmp_path):
    r = cli("train", "--dataset", "mnist", "--kind", "vae", "--arch", "dense", "--latent-dim", "2",
            "--epochs", "4", "--batch-size", "32", "--learning-rate", "0.003", "--hidden-units", "32", "--limit", "400",
            models_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert len(key) == 16 and "epoch 4/4" in r.stderr  # progress bar
    again = cli("train", "--dataset", "mnist", "--kind", "vae", "--arch", "dense", "--latent-dim", "2",
                "--epochs", "4", "--batch-size", "32", "--learning-rate", "0.003", "--hidden-units", "32",
                "--limit", "400", "--quiet", models_dir=tmp_path)
    assert again.stdout.startswith("cached:") and again.stdout.strip().splitlines()[-1] == key

    listed = json.loads(cli("list", "--json", models_dir=tmp_path).stdout)
    assert [e["key"] for e in listed["entries"]] == [key]

    ev = cli("eval", key, "--json", models_dir=tmp_path)
    assert ev.returncode == 0, ev.stderr
    metrics = json.loads(ev.stdout)
    assert {"mse", "psnr", "ssim", "recon", "kl"} <= set(metrics)
    assert 0 < metrics["mse"] < 0.08 and metrics["psnr"] > 11  # well below a grey image's error

    gif = tmp_path / "walk.gif"
    m = cli("morph", key, "--a", "3", "--b", "7", "--steps", "8", "--out", str(gif), "--bounce", models_dir=tmp_path)
    assert m.returncode == 0, m.stderr
    with Image.open(gif) as im:
        assert im.is_animated and im.n_frames >= 8 and im.info.get("loop") == 0

    out = tmp_path / "m.keras"
    assert cli("export", key, "--out", str(out), models_dir=tmp_path).returncode == 0 and out.stat().st_size > 0
    assert cli("delete", key, models_dir=tmp_path).returncode == 0
    assert cli("list", "--json", models_dir=tmp_path).stdout.count(key) == 0


@pytest.mark.parametrize("args,fragment", [
    (["train", "--latent-dim", "0"], "latent_dim an integer in 1..1024"),
    (["train", "--dataset", "cifar"], "Expected a dataset name"),
    (["train", "--epochs", "many"], "invalid int value"),
    (["train", "--kind", "gan"], "kind in"),
    (["bogus"], "invalid choice"),
    (["eval", "0123456789abcdef"], "not in"),
    (["morph", "nothex", "--out", "x.gif"], "16 hex"),
    (["train", "--filters", "a,b"], "comma-separated integers"),
    (["train", "--images", "/nonexistent/folder"], "Expected"),
])
def test_bad_flags_give_one_line_and_nonzero_exit(tmp_path, args, fragment):
    r = cli(*args, models_dir=tmp_path)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert fragment in r.stderr


def test_ctrl_c_keeps_a_stopped_run_that_resume_completes(tmp_path):
    import signal
    import time

    flags = ["train", "--dataset", "mnist", "--arch", "dense", "--latent-dim", "2", "--epochs", "40",
             "--batch-size", "32", "--hidden-units", "32", "--limit", "400", "--patience", "0"]
    env = {**os.environ, "AECORE_MODELS_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "aecore", *flags], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = ""
    deadline = time.monotonic() + 120
    while "epoch 3/40" not in err and time.monotonic() < deadline:  # read the progress bar as it goes
        err += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
    proc.send_signal(signal.SIGINT)  # Ctrl-C: stop after this batch, keep the run
    out, rest = proc.communicate(timeout=120)
    assert proc.returncode == 0, err + rest
    assert out.startswith("stopped: dense AE, latent 2, mnist (stopped by you after epoch ")
    key = out.strip().splitlines()[-1]

    done = int(out.split("stopped by you after epoch ")[1].split()[0])
    stopped_at = done + 1  # the epoch in progress at the stop, which a resume runs again
    assert stopped_at >= 3
    listed = json.loads(cli("list", "--json", models_dir=tmp_path).stdout)["entries"]
    assert [(e["key"], e["epochs_run"], e["stopped"]) for e in listed] == [(key, done, "user")]

    resumed = cli(*flags, "--resume", models_dir=tmp_path)  # continues; never served as the full run
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("trained: dense AE, latent 2, mnist (40 epochs)")
    assert f"epoch {stopped_at}/40" in resumed.stderr and "epoch 1/40" not in resumed.stderr  # not from scratch
    listed = json.loads(cli("list", "--json", models_dir=tmp_path).stdout)["entries"]
    assert [(e["key"], e["epochs_run"], e["stopped"]) for e in listed] == [(key, 40, "completed")]


QUICK = ["train", "--dataset", "mnist", "--arch", "dense", "--latent-dim", "2", "--epochs", "3", "--batch-size", "64",
         "--hidden-units", "16", "--limit", "200", "--patience", "0"]


def test_progress_piped_to_a_log_is_one_line_per_epoch(tmp_path):
    r = cli(*QUICK, models_dir=tmp_path)  # stdout and stderr captured: neither is a terminal
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "\r" not in r.stdout
    progress = [line for line in r.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in progress] == ["1/3", "2/3", "3/3"], r.stderr
    assert all(" loss " in line and " ETA " in line for line in progress)


def test_progress_on_a_terminal_is_a_live_bar(tmp_path):
    import pty

    leader, follower = pty.openpty()  # stderr on a terminal
    env = {**os.environ, "AECORE_MODELS_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "aecore", *QUICK, "--epochs", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    err = b""
    try:
        while True:  # read as it goes, so a full terminal buffer never blocks the child
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal's other end
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(leader)
        proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    text = err.decode(errors="replace")
    assert "\r[" in text and "] epoch 2/2 loss " in text  # redrawn in place


def test_train_through_a_cluster_prints_the_same_progress_and_ctrl_c_keeps_the_run(tmp_path):
    """`--cluster local`: trained in a worker process of a local Dask cluster started for the run; the progress
    lines, Ctrl-C and the entry are those of an in-process run (which resumes it)."""
    import signal
    import time

    flags = ["train", "--dataset", "mnist", "--arch", "dense", "--latent-dim", "2", "--epochs", "40",
             "--batch-size", "32", "--hidden-units", "32", "--limit", "400", "--patience", "0"]
    env = {**os.environ, "AECORE_MODELS_DIR": str(tmp_path), "AECORE_MAX_TRAININGS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "aecore", *flags, "--cluster", "local"], cwd=ROOT, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    err = ""
    deadline = time.monotonic() + 120
    while "epoch 3/40" not in err and time.monotonic() < deadline and proc.poll() is None:
        err += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C as a terminal sends it, workers included: stop, keep the run
    out, rest = proc.communicate(timeout=120)
    err += rest
    assert proc.returncode == 0, err
    progress = [line.split()[1] for line in err.splitlines() if line.startswith("epoch ")]
    assert progress[:3] == ["1/40", "2/40", "3/40"] and "Traceback" not in err, err
    assert out.startswith("stopped: dense AE, latent 2, mnist (stopped by you after epoch "), out
    key = out.strip().splitlines()[-1]
    done = int(out.split("stopped by you after epoch ")[1].split()[0])

    resumed = cli(*flags, "--resume", models_dir=tmp_path)  # in this process, from the same store
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("trained: dense AE, latent 2, mnist (40 epochs)")
    assert resumed.stdout.strip().splitlines()[-1] == key
    assert f"epoch {done + 1}/40" in resumed.stderr and "epoch 1/40" not in resumed.stderr
    assert not list(tmp_path.glob(".*.tmp"))


def test_compare_prints_the_compare_pages_table(models_dir, tiny_vae, tiny_ae):
    """`compare KEY KEY` prints one row per model with the measures of aecore.compare; a lone key is refused."""
    r = cli("compare", tiny_vae.key, tiny_ae.key, models_dir=models_dir)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if tiny_vae.key in line or tiny_ae.key in line]
    assert len(rows) == 2 and "dense VAE, latent 2" in r.stdout and "conv AE, latent 4" in r.stdout
    assert "5-NN" in r.stdout and "active" in r.stdout.lower()
    lone = cli("compare", tiny_vae.key, models_dir=models_dir)
    assert lone.returncode == 2 and "Expected" in lone.stderr and len(lone.stderr.strip().splitlines()) == 1
