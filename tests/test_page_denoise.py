"""The Denoise page, run headless with Streamlit's AppTest on the tiny real models."""

import io

import numpy as np
import pytest
from PIL import Image

from imagefiles import drawn
from pagetest import captions, open_page, png

PAGE = "pages/3_Denoise.py"


def download_png(at, media) -> tuple[str, tuple[int, int]]:
    """Mode and size of the PNG behind the page's one download button, which must be named denoised.png."""
    buttons = at.get("download_button")
    assert len(buttons) == 1
    file = media.file(buttons[0].proto.url)
    assert file.filename == "denoised.png"
    im = Image.open(io.BytesIO(file.content))
    assert im.format == "PNG"
    return im.mode, im.size


def metric_values(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def tiny_dae(mnist_small, tmp_path_factory):
    """A dense denoising AE (masking noise at 0.5), 1 epoch, in a cache folder of its own."""
    from aecore.cache import ModelCache, train_or_load
    from aecore.config import ModelConfig

    root = tmp_path_factory.mktemp("dae_models")
    cfg = ModelConfig(kind="dae", arch="dense", latent_dim=8, epochs=1, batch_size=64, hidden_units=(64,),
                      limit=600, noise="masking", noise_level=0.5)
    entry, _ = train_or_load(cfg, mnist_small, ModelCache(root))
    return root, entry


def test_without_a_model_the_page_says_to_train_first(monkeypatch, tmp_path):
    at = open_page(PAGE, monkeypatch, tmp_path)
    assert not at.exception
    assert at.title[0].value == "Denoise" and any("**Train**" in i.value for i in at.info)
    assert not at.image and not at.metric and not at.get("download_button")


def test_held_out_samples_noise_controls_and_scores(monkeypatch, models_dir, tiny_vae, tiny_ae, media):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    assert at.title[0].value == "Denoise"
    assert any('"dae"' in i.value for i in at.info)  # a plain AE: says a denoising model does best
    assert at.slider(key="dn_level").value == pytest.approx(0.3) and at.selectbox(key="dn_noise").value == "gaussian"
    assert at.selectbox(key="dn_noise").format_func("salt_pepper") == "Salt & pepper"

    values = metric_values(at)
    noisy_psnr, den_psnr = float(values["Noisy PSNR"][:-3]), float(values["Denoised PSNR"][:-3])
    assert 5 < noisy_psnr < 30 and 5 < den_psnr < 40
    assert 0 <= float(values["Denoised SSIM"]) <= 1
    caps = captions(at)
    assert len(caps) == 3 * 3  # three samples: clean, noisy, denoised
    assert [len(captions(at, prefix=p)) for p in ("Clean #", "Noisy · PSNR", "Denoised · PSNR")] == [3, 3, 3]
    assert len(at.get("download_button")) == 1
    assert download_png(at, media) == ("L", (3 * 28, 28))  # the three denoised digits side by side

    at.run()  # the same seed gives the same noise
    assert captions(at) == caps
    clean, noisy = captions(at, prefix="Clean "), captions(at, prefix="Noisy ")
    at.number_input(key="dn_seed").set_value(7).run()
    assert captions(at, prefix="Clean ") == clean and captions(at, prefix="Noisy ") != noisy  # new noise only

    at.slider(key="dn_level").set_value(0.0).run()  # no noise: noisy == clean
    assert metric_values(at)["Noisy PSNR"] == "100.0 dB" and metric_values(at)["Noisy SSIM"] == "1.000"

    at.slider(key="dn_level").set_value(0.5)
    at.selectbox(key="dn_noise").set_value("salt_pepper").run()
    assert not at.exception
    assert float(metric_values(at)["Noisy PSNR"][:-3]) < noisy_psnr  # half the pixels black or white

    at.text_input(key="dn_idx").input("4").run()
    assert len(captions(at)) == 3 and captions(at, prefix="Clean ") == ["Clean #4"]
    assert at.get("download_button")[0].proto.label == "Download the denoised PNG"

    at.text_input(key="dn_idx").input("4, -1").run()
    assert not at.exception and not at.image
    assert any("Expected indices in 0..119" in e.value and "-1" in e.value for e in at.error)


def test_a_denoising_model_sets_the_defaults(monkeypatch, tiny_dae):
    root, entry = tiny_dae
    at = open_page(PAGE, monkeypatch, root)
    assert not at.exception, at.exception
    assert not any('"dae"' in i.value for i in at.info)
    assert at.selectbox(key="dn_noise").value == "masking" and at.slider(key="dn_level").value == pytest.approx(0.5)
    assert "Denoised PSNR" in metric_values(at)


def test_upload_bad_and_good_images(monkeypatch, models_dir, tiny_vae, tiny_ae, media):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    at.radio(key="dn_source").set_value("Upload an image").run()
    assert not at.exception and not at.image and not at.get("download_button")

    at.file_uploader(key="dn_upload").upload("x.png", b"garbage", "image/png").run()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "x.png" in msg and "Expected an image file" in msg and "7 bytes" in msg
    assert not at.image

    # 50x40 RGBA (opaque): a white bar on black, digit-like; converted to 28x28 grayscale.
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[8:32, 20:30, :3] = 255
    at.file_uploader(key="dn_upload").clear().upload("bar.png", png(rgba), "image/png").run()
    assert not at.exception and not at.error
    assert captions(at, prefix="Clean ") == ["Clean bar.png"] and len(captions(at, prefix="Denoised · PSNR")) == 1
    assert metric_values(at)["Denoised PSNR"].endswith(" dB")
    assert at.get("download_button")[0].proto.label == "Download the denoised PNG"
    assert download_png(at, media) == ("L", (28, 28))



def test_a_dark_digit_is_inverted_and_an_unlike_image_warned_about(monkeypatch, models_dir, tiny_vae, tiny_ae):
    """The same upload as on every page: a dark "3" on paper is inverted by default (as on Reconstruct), and an
    image the model reconstructs worse than 95% of the held-out ones gets the "unlike the training data" warning."""
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    at.radio(key="dn_source").set_value("Upload an image").run()
    at.file_uploader(key="dn_upload").upload("digit3.png", drawn("3"), "image/png").run()
    assert not at.exception and not at.error
    assert at.checkbox(key="dn_invert").value and at.checkbox(key="dn_mnist").value
    assert any("mostly light background" in c.value and "it is inverted" in c.value for c in at.caption)
    assert captions(at, prefix="Clean ") == ["Clean digit3.png (inverted)"] and "Denoised PSNR" in metric_values(at)
    assert not any("unlike the training data" in w.value for w in at.warning)

    noise = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)  # nothing like a digit
    at.file_uploader(key="dn_upload").clear().upload("noise.png", png(noise), "image/png").run()
    assert not at.exception and not at.error
    (warning,) = [w.value for w in at.warning if "unlike the training data" in w.value]
    assert "higher than 100% of the held-out images'" in warning or "higher than 9" in warning
    assert "Denoised PSNR" in metric_values(at)  # the page still shows its result


def test_held_out_images_not_in_memory(monkeypatch, models_dir, tiny_vae, tiny_ae):
    """A model trained on an upload that was not kept with it: says so and offers the upload."""
    import ui

    monkeypatch.setattr(ui, "held_out", lambda entry: None)
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    assert not at.exception, at.exception
    assert any("are not available" in i.value for i in at.info)
    assert not at.image and not at.metric
    at.radio(key="dn_source").set_value("Upload an image").run()
    assert not at.exception and at.get("file_uploader")
