"""aecore.directions on synthetic codes whose answers are known: class means, the direction between two
classes, walking along it, code arithmetic, and the argument checks."""

import numpy as np
import pytest

from aecore.directions import along, arithmetic, class_direction, class_means


@pytest.fixture
def clusters():
    """Three classes of codes (D = 3) scattered symmetrically around known means: labels 2, 5 and 9."""
    means = {2: np.array([0.0, 1.0, -1.0]), 5: np.array([3.0, -2.0, 0.5]), 9: np.array([-4.0, 0.0, 2.0])}
    offsets = np.array([[1, 0, 0], [-1, 0, 0], [0, 2, -1], [0, -2, 1]], np.float64)  # they sum to zero
    codes = np.concatenate([m + offsets for m in means.values()]).astype(np.float32)
    labels = np.repeat(list(means), len(offsets))
    order = np.random.default_rng(0).permutation(len(codes))  # mixed up: the functions must group by label
    return codes[order], labels[order], means


def test_class_means_are_the_cluster_centres(clusters):
    codes, labels, means = clusters
    got = class_means(codes, labels)
    assert list(got) == [2, 5, 9] and all(v.dtype == np.float32 and v.shape == (3,) for v in got.values())
    for c, m in means.items():
        np.testing.assert_allclose(got[c], m, atol=1e-6)


def test_the_direction_is_the_difference_of_the_means_and_walks_from_one_class_to_the_other(clusters):
    codes, labels, means = clusters
    d = class_direction(codes, labels, 2, 5)
    assert d.dtype == np.float32 and d.shape == (3,)
    np.testing.assert_allclose(d, means[5] - means[2], atol=1e-6)
    np.testing.assert_allclose(class_direction(codes, labels, np.int64(5), 2), -d, atol=1e-6)
    np.testing.assert_allclose(along(means[2], d, [1.0])[0], means[5], atol=1e-6)  # A's mean lands on B's

    z = codes[0]
    path = along(z, d, [0, 0.5, 1, -1, 2])
    assert path.dtype == np.float32 and path.shape == (5, 3)
    np.testing.assert_allclose(path, [z, z + d / 2, z + d, z - d, z + 2 * d], atol=1e-5)
    assert along(z, d, 0.25).shape == (1, 3)  # one amount


def test_arithmetic_is_exact(clusters):
    codes = clusters[0]
    za, zb, zc = codes[0], codes[1], codes[2]
    got = arithmetic(za, zb, zc)
    assert got.dtype == np.float32 and got.shape == (3,)
    np.testing.assert_allclose(got, za.astype(np.float64) - zb + zc, atol=1e-6)
    np.testing.assert_array_equal(arithmetic(za, za, zc), zc)  # A − A + C is C
    np.testing.assert_allclose(arithmetic(codes[:4], codes[4:8], codes[8:]), codes[:4] - codes[4:8] + codes[8:],
                               atol=1e-5)  # batches, row by row


def test_bad_arguments_say_what_was_expected_and_received(clusters):
    codes, labels, _ = clusters
    with pytest.raises(ValueError, match=r"^Expected a label among \[2, 5, 9\], received 7\.$"):
        class_direction(codes, labels, 2, 7)
    with pytest.raises(ValueError, match=r"Expected a label among \[2, 5, 9\], received '2'\."):
        class_direction(codes, labels, "2", 5)
    with pytest.raises(ValueError, match=r"^Expected two different labels, received 5 twice\.$"):
        class_direction(codes, labels, 5, 5)
    with pytest.raises(ValueError, match=r"Expected integer labels shaped \(12,\), one per code, received int64 "
                                         r"labels shaped \(11,\)"):
        class_direction(codes, labels[:11], 2, 5)
    with pytest.raises(ValueError, match=r"Expected integer labels .* received float64"):
        class_means(codes, labels.astype(np.float64))
    with pytest.raises(ValueError, match=r"Expected codes shaped \(N, D\) with N >= 1, received shape \(12,\)"):
        class_means(codes[:, 0], labels)
    bad = codes.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Expected finite codes, received NaN or Inf."):
        class_means(bad, labels)
    with pytest.raises(ValueError, match=r"Expected a direction shaped like z \(3,\), received shape \(2,\)\."):
        along(codes[0], codes[1, :2], [1])
    with pytest.raises(ValueError, match="Expected finite ts, received NaN or Inf."):
        along(codes[0], codes[1], [0, np.inf])
    with pytest.raises(ValueError, match=r"Expected three codes of one shape, \(D,\) or \(N, D\), received shapes "
                                         r"\(3,\), \(3,\) and \(2,\)\."):
        arithmetic(codes[0], codes[1], codes[2, :2])
    with pytest.raises(ValueError, match="Expected finite codes, received NaN or Inf."):
        arithmetic(codes[0], codes[1], bad[0])
