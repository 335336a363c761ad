"""Tests for aecore.data, the Dataset type: fingerprints, validation and the deterministic split; and that
none of the data modules imports keras, TensorFlow, scikit-learn or Streamlit. No network."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aecore import data as D
from aecore.builtin_data import load_dataset

# -----------------------------------------------------------------------------
# module hygiene

@pytest.mark.parametrize("module", ["data", "builtin_data", "images", "uploads"])
def test_module_does_not_import_keras_tensorflow_or_sklearn(module):
    # each module first in a fresh interpreter: also shows that they import in any order (no import cycle)
    code = (f"import aecore.{module}, aecore.data, aecore.builtin_data, aecore.images, aecore.uploads, sys; "
            "bad = [k for k in sys.modules if k.split('.')[0] in ('keras', 'tensorflow', 'sklearn', 'streamlit')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(D.__file__).parents[1])
    assert r.returncode == 0, r.stdout + r.stderr


# -----------------------------------------------------------------------------
# fingerprint and split

def test_fingerprint_stable_and_sensitive():
    a, b = load_dataset("digits", limit=300), load_dataset("digits", limit=300)
    assert a.fingerprint == b.fingerprint == D.fingerprint(a.images, a.labels, "digits")
    images = a.images.copy()
    images[7, 3, 4, 0] = 1.0 - images[7, 3, 4, 0]
    changed = D.dataset_from_arrays(images, a.labels, a.class_names, name="digits")
    assert changed.fingerprint != a.fingerprint
    assert D.dataset_from_arrays(a.images, a.labels, name="other").fingerprint != a.fingerprint
    assert D.dataset_from_arrays(a.images, None, name="digits").fingerprint != a.fingerprint
    sub = a.subset(np.arange(10))
    assert len(sub) == 10 and sub.fingerprint == D.fingerprint(a.images[:10], a.labels[:10], sub.name)


def test_split_deterministic_sizes_disjoint():
    n = 1000
    images = np.zeros((n, 4, 4, 1), np.float32)
    images[:, 0, 0, 0] = np.arange(n) / n  # each image carries its index
    ds = D.dataset_from_arrays(images, np.arange(n) % 7, name="toy")
    train, val = D.split_dataset(ds)
    assert (len(train), len(val)) == (800, 200)
    ti = np.round(train.images[:, 0, 0, 0] * n).astype(int)
    vi = np.round(val.images[:, 0, 0, 0] * n).astype(int)
    assert not set(ti) & set(vi) and set(ti) | set(vi) == set(range(n))
    train2, val2 = D.split_dataset(ds)
    assert train2.fingerprint == train.fingerprint and val2.fingerprint == val.fingerprint
    assert set(np.unique(val.labels)) == set(range(7))
    unlabelled = D.dataset_from_arrays(images, name="toy")
    assert [len(p) for p in D.split_dataset(unlabelled, 0.25)] == [750, 250]
    for bad in (0, 1, 1.5, -0.1, "0.2", True):
        with pytest.raises(ValueError, match="Expected val_fraction"):
            D.split_dataset(ds, bad)
    with pytest.raises(ValueError, match="at least 1 image"):
        D.split_dataset(D.dataset_from_arrays(images[:1]))


def test_split_olivetti_every_person_in_both_parts(offline_olivetti):
    train, val = D.split_dataset(load_dataset("olivetti", data_dir=offline_olivetti.parent))
    assert np.bincount(train.labels, minlength=40).tolist() == [8] * 40
    assert np.bincount(val.labels, minlength=40).tolist() == [2] * 40


def test_dataset_from_arrays_validation():
    ds = D.dataset_from_arrays(np.full((2, 5, 6), 255, np.uint8), [0, 3])
    assert ds.images.shape == (2, 5, 6, 1) and ds.images.max() == 1.0 and ds.class_names == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="Expected images of shape"):
        D.dataset_from_arrays(np.zeros((2, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"Expected float images with values in \[0, 1\]"):
        D.dataset_from_arrays(np.full((2, 5, 5), 2.0))
    with pytest.raises(ValueError, match="Expected images of dtype"):
        D.dataset_from_arrays(np.zeros((2, 5, 5), np.int32))
    with pytest.raises(ValueError, match="Expected integer labels"):
        D.dataset_from_arrays(np.zeros((2, 5, 5)), [0, 1, 2])
    with pytest.raises(ValueError, match="Expected class_names"):
        D.dataset_from_arrays(np.zeros((2, 5, 5)), [0, 5], ["a", "b"])
