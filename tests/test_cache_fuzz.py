"""Malformed cache entries: a generated fuzz set of mutations of one real entry (wrong types,
missing fields, truncations, huge declared sizes, compressed or doctored arrays), run through
the cache API, every page and the command line. A bad entry is listed as unreadable with its
reason and can be deleted; nothing else changes, nothing raises."""

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from aecore.cache import CacheError, ModelCache, train_or_load
from aecore.config import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
CFG = ModelConfig(kind="ae", arch="dense", latent_dim=2, epochs=1, hidden_units=(16,), batch_size=64, limit=300)


def _npy(value) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(value), allow_pickle=False)
    return buf.getvalue()


def _raw_npy(descr: str, shape: tuple, payload: bytes = b"\0" * 64) -> bytes:
    """An .npy member whose header declares `descr` and `shape`, followed by `payload` (not what it declares)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def _write(path: Path, members: dict, compress: bool = False) -> None:
    """An npz-like zip of `name -> bytes or array` members."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, value in members.items():
            z.writestr(f"{name}.npy", value if isinstance(value, bytes) else _npy(value))


def mutations(good: Path) -> dict[str, callable]:
    """name -> function(path) that writes one mutated copy of the entry `good` at path."""
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))
    raw = good.read_bytes()
    out = {}

    def with_meta(change):
        def write(path):
            m = json.loads(json.dumps(meta))
            change(m)
            _write(path, {**arrays, "__meta__": np.array(json.dumps(m))})
        return write

    def set_field(field, value):
        return with_meta(lambda m: m.__setitem__(field, value))

    def set_config(field, value):
        return with_meta(lambda m: m["config"].__setitem__(field, value))

    for field in ("format", "key", "config", "history", "metrics", "image_shape", "created", "seconds",
                  "stopped", "best_epoch", "n_weights", "checksum"):
        out[f"missing {field}"] = with_meta(lambda m, f=field: m.pop(f))
    for field, value in [("created", "yesterday"), ("created", None), ("seconds", -5), ("seconds", "1"),
                         ("stopped", "maybe"), ("stopped", None), ("best_epoch", 10**6), ("best_epoch", "3"),
                         ("best_epoch", True), ("metrics", "x"), ("metrics", {"mse": "0.1"}),
                         ("metrics", {"mse": None}), ("metrics", []), ("history", None), ("history", {"loss": "x"}),
                         ("history", {"loss": [None]}), ("history", []), ("history", {"loss": [0.1] * 100_001}),
                         ("image_shape", [28, 28, 2]), ("image_shape", [0, 28, 1]), ("image_shape", [28, 28]),
                         ("image_shape", "28x28"), ("image_shape", [28.0, 28, 1]),
                         ("image_shape", [100000, 100000, 1]), ("n_weights", 10**12), ("n_weights", -1),
                         ("n_weights", 0), ("n_weights", "4"), ("n_weights", 999), ("format", 99), ("key", "zz"),
                         ("key", "0" * 16), ("checksum", "x"), ("checksum", "0" * 64), ("config", "x"),
                         ("config", {}), ("dataset_description", 5), ("resume", {"epoch": -1}), ("resume", "x"),
                         ("epochs_done", 10**9)]:
        out[f"{field}={json.dumps(value)[:30]}"] = set_field(field, value)
    for field, value in [("hidden_units", None), ("hidden_units", [8192] * 8), ("latent_dim", "2"),
                         ("beta", float("inf")), ("nonsense", 1), ("filters", "abc")]:
        out[f"config.{field}={json.dumps(value)[:30]}"] = set_config(field, value)
    out["meta not JSON"] = lambda p: _write(p, {**arrays, "__meta__": np.array("{")})
    out["meta a JSON list"] = lambda p: _write(p, {**arrays, "__meta__": np.array("[]")})
    out["meta a float array"] = lambda p: _write(p, {**arrays, "__meta__": np.zeros(3, np.float32)})
    out["meta declares 10^12 chars"] = lambda p: _write(p, {**arrays, "__meta__": _raw_npy("<U1000000", (10**6,))})
    out["w000 declares 10^12 elements"] = lambda p: _write(p, {**arrays, "w000": _raw_npy("<f4", (10**6, 10**6))})
    out["w000 declares an object array"] = lambda p: _write(p, {**arrays, "w000": _raw_npy("|O", (3,))})
    out["w000 of another shape"] = lambda p: _write(p, {**arrays, "w000": np.zeros((3, 3), np.float32)})
    out["w000 of integers"] = lambda p: _write(p, {**arrays, "w000": arrays["w000"].astype(np.int32)})
    out["w001 missing"] = lambda p: _write(p, {k: v for k, v in arrays.items() if k != "w001"})
    out["compressed members"] = lambda p: _write(p, arrays, compress=True)
    for share in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
        out[f"truncated at {share:.0%}"] = lambda p, s=share: p.write_bytes(raw[: int(len(raw) * s)])
    out["one byte short"] = lambda p: p.write_bytes(raw[:-1])
    out["not a zip"] = lambda p: p.write_bytes(b"PK\x03\x04 not really a zip " * 10)
    return out


@pytest.fixture(scope="module")
def good_entry(mnist_small, tmp_path_factory):
    cache = ModelCache(tmp_path_factory.mktemp("good"))
    entry, _ = train_or_load(CFG, mnist_small, cache)
    return entry


@pytest.fixture(scope="module")
def fuzz_dir(good_entry, tmp_path_factory):
    """One folder holding the good entry and every mutation, each under a key-like name of its own."""
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(good_entry.path, folder / good_entry.path.name)
    names = {}
    for i, (what, write) in enumerate(mutations(good_entry.path).items()):
        name = f"{i:016x}.npz"
        write(folder / name)
        names[name] = what
    return folder, names


def test_the_fuzz_set_is_large_enough(good_entry):
    assert len(mutations(good_entry.path)) >= 50


def test_every_mutation_is_refused_alone_with_a_reason(good_entry, tmp_path):
    """Each mutation, stored under the real key: unreadable (or, if its record is fine, not loadable),
    always as a CacheError with a reason, never another exception."""
    for what, write in mutations(good_entry.path).items():
        folder = tmp_path / what.replace("/", "_")
        folder.mkdir()
        write(folder / good_entry.path.name)
        cache = ModelCache(folder)
        entries, problems = cache.list()
        if entries:  # only a wrong weight checksum passes the record and header checks; its weights never load
            assert what == f"checksum={json.dumps('0' * 64)[:30]}", what
            with pytest.raises(CacheError, match="checksum"):
                cache.load(good_entry.key)
            continue
        assert len(problems) == 1 and problems[0].name == good_entry.path.name, what
        assert problems[0].reason.startswith(f"Cache entry {good_entry.path.name}"), (what, problems[0].reason)
        for call in (cache.info, cache.load, cache.resume_state):
            with pytest.raises(CacheError):
                call(good_entry.key)
        assert cache.delete_file(good_entry.path.name) and not any(folder.iterdir())


def test_an_entry_of_an_earlier_format_is_said_to_be_older_not_corrupt(good_entry, tmp_path):
    from aecore.config import FORMAT_VERSION

    with np.load(good_entry.path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["format"] = FORMAT_VERSION - 1
    _write(tmp_path / good_entry.path.name, {**arrays, "__meta__": np.array(json.dumps(meta))})
    cache = ModelCache(tmp_path)
    entries, (problem,) = cache.list()
    assert not entries
    assert problem.reason == (f"Cache entry {good_entry.path.name} was saved by an earlier version of this app: "
                              f"expected format {FORMAT_VERSION}, received {FORMAT_VERSION - 1}. Its layers differ "
                              "from today's, so it cannot be loaded: train the model again (the same settings give "
                              "a new key).")
    with pytest.raises(CacheError, match="earlier version"):
        cache.load(good_entry.key)
    assert (tmp_path / good_entry.path.name).exists()  # left where it is, for the user to delete


def test_listing_the_fuzz_folder_keeps_the_good_entry(fuzz_dir, good_entry):
    folder, names = fuzz_dir
    entries, problems = ModelCache(folder).list()
    assert good_entry.key in [e.key for e in entries]
    assert [e.key for e in entries] == [good_entry.key]
    assert sorted(p.name for p in problems) == sorted(names)  # every mutation, named by its file


PAGES = ["home.py", "pages/1_Train.py", "pages/2_Reconstruct.py", "pages/3_Denoise.py",
         "pages/4_Latent_Scatter.py", "pages/5_Latent_Slider.py", "pages/6_Morph.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_the_fuzz_folder(fuzz_dir, good_entry, monkeypatch, page):
    folder, _ = fuzz_dir
    monkeypatch.setenv("AECORE_MODELS_DIR", str(folder))
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    at.session_state["active_model_key"] = good_entry.key
    at.run()
    assert not at.exception, at.exception
    assert sum("cannot be read" in w.value for w in at.sidebar.warning) == 1  # said once, in the sidebar
    if page == "pages/1_Train.py":
        listed = [c.value for c in at.caption if c.value.startswith("`") and ".npz`" in c.value]
        _, problems = ModelCache(folder).list()
        assert len(listed) == len(problems)


def test_the_train_page_deletes_an_unreadable_file_and_nothing_else(fuzz_dir, good_entry, monkeypatch, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(fuzz_dir[0], folder)
    monkeypatch.setenv("AECORE_MODELS_DIR", str(folder))
    before = ModelCache(folder).list()
    at = AppTest.from_file(str(ROOT / "pages/1_Train.py"), default_timeout=120).run()
    at.button(key="trn_delete_bad_0").click().run()
    assert not at.exception
    after = ModelCache(folder).list()
    assert len(after[1]) == len(before[1]) - 1 and [e.key for e in after[0]] == [e.key for e in before[0]]
    assert any(f"Deleted the unreadable file {before[1][0].name}" in s.value for s in at.success)


def test_the_cli_lists_and_deletes_with_the_fuzz_folder(fuzz_dir, good_entry, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(fuzz_dir[0], folder)
    env = {**os.environ, "AECORE_MODELS_DIR": str(folder)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "aecore", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    r = cli("list")
    _, problems = ModelCache(folder).list()
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert good_entry.key in r.stdout and r.stderr.count("unreadable: ") == len(problems)
    listed = json.loads(cli("list", "--json").stdout)
    assert {p["file"] for p in listed["problems"]} == {p.name for p in problems}
    bad = problems[0].name
    r = cli("eval", bad[:-4])
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert cli("delete", bad).returncode == 0 and not (folder / bad).exists()
