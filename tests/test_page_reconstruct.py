"""The Reconstruct page, run headless with Streamlit's AppTest on the tiny real models."""


import io

import numpy as np

from imagefiles import drawn
from pagetest import captions, images, open_page, png

PAGE = "pages/2_Reconstruct.py"
HELD_OUT, YOURS, WORST = "Held-out images", "Your image", "Worst reconstructions"  # the page's sections


def mse_values(caps: list[str]) -> list[float]:
    """The numbers of the "MSE 0.0123" captions (under the reconstructions), in order."""
    return [float(c[len("MSE "):]) for c in caps if c.startswith("MSE ")]


def test_without_a_model_the_page_says_to_train_first(monkeypatch, tmp_path):
    at = open_page(PAGE, monkeypatch, tmp_path)
    assert not at.exception
    assert at.title[0].value == "Reconstruct"  # titled like every page
    assert any("**Home**" in i.value and "**Train**" in i.value for i in at.info)  # where the links go
    assert any("Open **Home**" in c.value for c in at.caption) and any("Open **Train**" in c.value for c in at.caption)
    assert not at.image and not at.metric


def test_held_out_images_metrics_and_worst(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    assert not at.exception, at.exception
    assert at.title[0].value == "Reconstruct"
    values = {m.label: m.value for m in at.metric}
    assert values["Held-out MSE"] == f"{tiny_vae.metrics['mse']:.4f}"
    assert values["Held-out PSNR"].endswith(" dB") and float(values["Held-out SSIM"]) <= 1
    assert values["Compression"] == "392.0×"  # 28*28 pixels / latent 2

    # 8 random originals + 8 reconstructions, then the 6 worst: originals, reconstructions, heat maps.
    held = captions(at, HELD_OUT)
    assert len(held) == 8 + 8 and len(captions(at)) == 8 + 8 + 3 * 6
    assert len(captions(at, HELD_OUT, prefix="#")) == 8 and len(mse_values(held)) == 8
    worst = captions(at, WORST)
    assert len(worst) == 3 * 6 and worst.count("error map") == 6
    assert mse_values(worst) == sorted(mse_values(worst), reverse=True)  # the worst first
    assert min(mse_values(worst)) >= max(mse_values(held))  # no random image beats the worst six

    first = captions(at, HELD_OUT, prefix="#")
    at.button(key="rec_new").click().run()
    assert not at.exception
    assert captions(at, HELD_OUT, prefix="#") != first  # a new random set

    at.text_input(key="rec_idx").input("1, 2").run()
    assert captions(at, HELD_OUT, prefix="#") == ["#1", "#2"] and len(mse_values(captions(at, HELD_OUT))) == 2
    assert len(captions(at)) == 2 + 2 + 18

    at.slider(key="rec_k").set_value(3).run()
    assert captions(at, WORST).count("error map") == 3

    at.text_input(key="rec_idx").input("1, 999, x").run()
    assert not at.exception
    err = " ".join(e.value for e in at.error)
    assert "Expected indices in 0..119" in err and "999" in err and "x" in err
    assert captions(at, WORST).count("error map") == 3  # the rest of the page still works


def test_upload_bad_and_good_images(monkeypatch, models_dir, tiny_vae, tiny_ae):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)  # the conv AE this time
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Compression"] == "196.0×"  # 784 / latent 4

    at.file_uploader(key="rec_upload").upload("x.png", b"garbage", "image/png").run()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "x.png" in msg and "Expected an image file" in msg and "7 bytes" in msg

    # 50x40 RGBA (opaque): a white bar on black, digit-like; converted to 28x28 grayscale.
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[8:32, 20:30, :3] = 255
    at.file_uploader(key="rec_upload").clear().upload("bar.png", png(rgba), "image/png").run()
    assert not at.exception and not at.error
    (recon,) = captions(at, YOURS, "Reconstruction · MSE")
    assert captions(at, YOURS) == ["bar.png", recon, "Per-pixel error"] and recon.endswith(" dB")
    assert any("**bar.png** as the model sees it (28×28, MNIST's preparation)" in c.value for c in at.caption)
    assert any("held-out images' errors" in c.value for c in at.caption)
    assert not any("Invert colours" in c.value for c in at.caption)  # light on dark, like MNIST
    assert not at.checkbox(key="rec_invert").value and at.checkbox(key="rec_mnist").value  # an MNIST model

    # A dark bar on white (RGB): inverted by default, with the hint saying why; the same pixels as bar.png.
    at.file_uploader(key="rec_upload").clear().upload("paper.png", png(255 - rgba[..., :3]), "image/png").run()
    assert not at.exception and at.checkbox(key="rec_invert").value
    assert any("mostly light background" in c.value and "it is inverted" in c.value for c in at.caption)
    assert any("(28×28, inverted, MNIST's preparation)" in c.value for c in at.caption)
    assert captions(at, YOURS, "Reconstruction · MSE") == [recon]
    at.checkbox(key="rec_invert").uncheck().run()  # the user's choice sticks for this file
    assert not at.exception and not at.checkbox(key="rec_invert").value
    assert any("try **Invert colours**" in c.value for c in at.caption)
    assert captions(at, YOURS, "Reconstruction · MSE") != [recon]


def test_a_dark_digit_on_paper_is_inverted_and_prepared_like_mnist(monkeypatch, models_dir, tiny_vae, tiny_ae):
    """A "3" drawn dark on a white 300x200 photo: detected, inverted, cropped and centred as MNIST's digits."""
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    at.file_uploader(key="rec_upload").upload("digit3_dark_on_white_paper.png", drawn("3"), "image/png").run()
    assert not at.exception and not at.error
    assert at.checkbox(key="rec_invert").value and at.checkbox(key="rec_mnist").value
    assert any("mostly light background" in c.value for c in at.caption)
    mine, recon, err = images(at, YOURS)
    assert mine.captions[0] == "digit3_dark….png"  # shortened: a long name would break inside a word
    assert recon.captions[0].startswith("Reconstruction · MSE ") and err.captions[0] == "Per-pixel error"
    assert all(el.value[0].startswith("data:image/png;base64,") for el in images(at))  # inline: no blank images


def test_held_out_images_not_in_memory(monkeypatch, models_dir, tiny_vae, tiny_ae):
    """A model trained on an upload that was not kept with it: no held-out images, the rest still works."""
    import ui

    monkeypatch.setattr(ui, "held_out", lambda entry: None)
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    assert not at.exception, at.exception
    assert any("are not available" in i.value for i in at.info)
    assert not at.image  # from the cached entry:
    assert {m.label: m.value for m in at.metric}["Held-out MSE"] == f"{tiny_vae.metrics['mse']:.4f}"
    assert at.get("file_uploader")


def test_a_retrain_under_the_same_key_shows_the_new_models_pictures(monkeypatch, tmp_path, mnist_small, media):
    """A stopped run resumed to completion keeps its key with new weights: the page must not serve the
    reconstructions it cached for the old weights."""
    import threading

    from PIL import Image

    from aecore.cache import ModelCache, train_or_load
    from aecore.config import ModelConfig
    from aecore.infer import Engine
    from ui import upscale

    cache = ModelCache(tmp_path)
    cfg = ModelConfig(kind="ae", arch="dense", latent_dim=2, epochs=4, patience=0, hidden_units=(32,),
                      batch_size=64, learning_rate=3e-3, limit=300)
    stop = threading.Event()
    stopped, _ = train_or_load(cfg, mnist_small, cache, stop_event=stop,
                               callbacks=[lambda e: stop.set() if e.phase == "batch" else None])
    at = open_page(PAGE, monkeypatch, tmp_path, stopped)
    at.text_input(key="rec_idx").input("0, 1").run()

    def reconstructions():
        assert not at.exception
        return [np.asarray(Image.open(io.BytesIO(media(el.value[0]))).convert("L"), np.float32)
                for el in images(at, HELD_OUT, prefix="MSE ")]  # the reconstructions of #0, #1

    before = reconstructions()
    complete, _ = train_or_load(cfg, mnist_small, cache, resume=True)
    assert complete.key == stopped.key and complete.version != stopped.version
    at.run()
    after = reconstructions()
    val = __import__("ui").held_out(complete)
    expected = [upscale(r, 112)[..., None].astype(np.float32)[..., 0]
                for r in Engine(cache.load(complete.key).model).reconstruct(val.images[:2])]
    for b, a, e in zip(before, after, expected):
        assert np.abs(a - e).mean() < 3  # the new model's reconstruction (JPEG-encoded by st.image)
        assert np.abs(b - e).mean() > 3 * np.abs(a - e).mean()  # and not the old one's
