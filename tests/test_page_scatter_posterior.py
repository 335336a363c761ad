"""The Latent Scatter page's "Inside a VAE": a chosen image's posterior ellipses, the prior's circles, decoded
posterior samples and the KL caption (AppTest, the real tiny VAE of latent 2; the plain AE shows none of it)."""

import re

import numpy as np
from test_page_latent_scatter import PAGE, array, chart, hover_images, point_traces

from pagetest import captions, open_page

RINGS = ["posterior 1σ", "posterior 2σ", "prior 1σ", "prior 2σ"]


def rings(spec: dict) -> dict:
    return {t["name"]: np.stack([array(t["x"]), array(t["y"])], axis=1).astype(float)
            for t in spec["data"] if t["name"] in RINGS}


def test_a_vae_point_shows_its_posterior_and_the_prior(monkeypatch, models_dir, tiny_vae, tiny_ae):
    from aecore.builtin_data import load_dataset
    from aecore.cache import ModelCache
    from aecore.infer import Engine
    from aecore.train import prepare_data

    eng = Engine(ModelCache(models_dir).load(tiny_vae.key).model)
    val = prepare_data(tiny_vae.config, load_dataset("mnist", limit=600))[1]
    z_mean, z_log_var = (np.asarray(a, np.float64) for a in eng.model.encoder(val.images[7:8], training=False))
    mu, sigma = z_mean[0], np.exp(0.5 * z_log_var[0])

    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    assert not at.exception, at.exception
    assert not rings(chart(at)) and not captions(at, prefix="posterior")  # nothing before a point is chosen
    at.number_input(key="sct_point").set_value(7).run()
    assert not at.exception, at.exception

    spec = chart(at)
    drawn = rings(spec)
    assert sorted(drawn) == sorted(RINGS)
    names = [t["name"] for t in spec["data"]]
    assert max(names.index(r) for r in RINGS) < names.index("#7")  # the ring of the chosen point stays on top
    assert min(names.index(r) for r in RINGS) > max(names.index(t["name"]) for t in point_traces(spec))
    assert all(t.get("hoverinfo") == "skip" for t in spec["data"] if t["name"] in RINGS)
    # Latent 2: the map is the code, so the 1σ ellipse is centred on the point with half-widths σ.
    one = drawn["posterior 1σ"]
    centre = (one.max(axis=0) + one.min(axis=0)) / 2
    np.testing.assert_allclose(centre, mu, atol=1e-3)
    np.testing.assert_allclose((one.max(axis=0) - one.min(axis=0)) / 2, sigma, rtol=1e-2)
    np.testing.assert_allclose(((one - mu) / sigma) ** 2 @ [1, 1], 1.0, atol=1e-3)  # on the contour
    np.testing.assert_allclose((drawn["posterior 2σ"].max(axis=0) - mu), 2 * sigma, rtol=1e-2)
    for k in (1, 2):
        np.testing.assert_allclose(np.linalg.norm(drawn[f"prior {k}σ"], axis=1), k, atol=1e-4)
    # The hover images still map (trace, point) -> held-out index: the rings carry no points.
    hov = hover_images(at)
    assert hov["traces"][:len(point_traces(spec))] == [array(t["customdata"]).tolist() for t in point_traces(spec)]
    assert [hov["traces"][names.index(r)] for r in RINGS] == [[], [], [], []]

    # Under the point's details: the posterior mean decoded and 6 samples drawn from it, and the KL caption.
    point = f"Point #7 · {val.labels[7]}"
    row = captions(at, point, "posterior mean") + captions(at, point, "sample ")
    assert len(row) == 1 + 6
    assert any("Posterior samples" in c.value for c in at.caption)
    kl_caption = next(c.value for c in at.caption if "KL to the prior" in c.value)
    kl = float(re.search(r"KL to the prior ([0-9.]+) nats", kl_caption).group(1))
    expected = 0.5 * np.sum(sigma ** 2 + mu ** 2 - 1 - np.log(sigma ** 2))
    assert abs(kl - expected) < 2e-3, (kl, expected)
    assert float(re.search(r"Mean σ ([0-9.]+)", kl_caption).group(1)) == round(float(sigma.mean()), 3)

    # A plain AE (latent 4, PCA): no posterior, no error.
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    at.number_input(key="sct_point").set_value(7).run()
    assert not at.exception, at.exception
    assert not rings(chart(at)) and "#7" in [t["name"] for t in chart(at)["data"]]
    assert not captions(at, prefix="posterior") and not captions(at, prefix="sample ")
    assert not any("Posterior samples" in c.value or "KL to the prior" in c.value for c in at.caption)
