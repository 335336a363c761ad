"""The Morph page, run headless with Streamlit's AppTest on real tiny models."""

import io

import numpy as np
from PIL import Image

import ui
from imagefiles import drawn
from pagetest import captions, images, open_page, png

PAGE = "pages/6_Morph.py"


def gif_of(at, media) -> Image.Image:
    button = at.download_button(key="mph_gif_download")
    assert button.proto.label == "GIF"
    return Image.open(io.BytesIO(media(button.proto.url)))


def test_without_a_model_the_page_says_to_train_first(monkeypatch, tmp_path):
    at = open_page(PAGE, monkeypatch, tmp_path)
    assert not at.exception, at.exception
    assert at.title[0].value == "Morph" and any("**Train**" in i.value for i in at.info)
    assert not at.download_button


def test_gif_frames_bounce_and_mp4(monkeypatch, models_dir, tiny_vae, tiny_ae, media):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    assert not at.exception, at.exception
    assert at.title[0].value == "Morph"
    (a,), (b,) = captions(at, prefix="A: "), captions(at, prefix="B: ")
    assert a.startswith("A: #0 (") and b.startswith("B: #") and a.split("(")[1] != b.split("(")[1]  # B: another class
    assert len(captions(at, "Preview", "t = ")) == 8  # the preview strip, between the chosen originals:
    strip = captions(at, "Preview")
    assert strip[0] == "A (original)" and strip[9] == "B (original)" and strip[1] == "t = 0.00"
    assert any("reconstructions of A and B, not the images themselves" in c.value for c in at.caption)
    assert not at.warning

    gif = gif_of(at, media)  # default: 30 steps
    assert gif.is_animated and gif.n_frames == 30 and gif.size == (224, 224)
    assert gif.info["duration"] == 100 and gif.info.get("loop") == 0  # 10 fps, loops
    (shown,) = [el for el in images(at, "Preview", "#0 (") if " → " in el.captions[0]]
    assert media(shown.value[0])[:6] == b"GIF89a"  # the animation itself is on the page

    at.slider(key="mph_steps").set_value(12).run()
    at.checkbox(key="mph_bounce").check().run()
    assert not at.exception
    assert gif_of(at, media).n_frames == 12 + 10  # A..B then back without repeating the ends

    at.checkbox(key="mph_loop").uncheck().run()
    at.slider(key="mph_fps").set_value(25).run()
    at.radio(key="mph_method").set_value("spherical").run()
    assert not at.exception
    gif = gif_of(at, media)
    assert gif.n_frames == 22 and gif.info["duration"] == 40 and "loop" not in gif.info

    assert "mph_mp4_download" not in [b.key for b in at.download_button]  # made on demand only
    at.button(key="mph_mp4_make").click().run()
    assert not at.exception and not at.error
    mp4 = media(at.download_button(key="mph_mp4_download").proto.url)
    assert mp4[4:8] == b"ftyp" and len(mp4) > 1000

    at.slider(key="mph_steps").set_value(5).run()  # new settings: the old MP4 is not offered
    assert "mph_mp4_download" not in [b.key for b in at.download_button]
    assert any("make it again" in c.value for c in at.caption)


def test_choose_by_label_and_upload(monkeypatch, models_dir, tiny_vae, tiny_ae, media):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_ae)
    at.radio(key="mph_src_a").set_value("label").run()
    at.selectbox(key="mph_cls_a").set_value(3).run()
    assert not at.exception
    (first,) = captions(at, prefix="A: ")
    assert first.startswith("A: #") and first.endswith(" (3)")
    at.radio(key="mph_pick_a").set_value("random").run()
    assert [c[-4:] for c in captions(at, prefix="A: ")] == [" (3)"]

    # A bad upload says what was expected and what was received; the page asks for image A.
    at.radio(key="mph_src_b").set_value("upload").run()
    at.file_uploader(key="mph_b_upload").upload("x.png", b"garbage", "image/png").run()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "x.png" in msg and "Expected an image file" in msg and "7 bytes" in msg
    assert any("Choose image B" in i.value for i in at.info)
    assert not at.download_button

    digit = np.zeros((40, 40, 3), np.uint8)
    digit[5:35, 18:22] = 255
    at.file_uploader(key="mph_b_upload").clear().upload("one.png", png(digit), "image/png").run()
    assert not at.exception and not at.error
    assert gif_of(at, media).n_frames == 30
    assert captions(at, prefix="B: ") == ["B: one.png"]


def test_a_dark_digit_upload_same_images_and_an_mp4_of_another_model(monkeypatch, models_dir, tiny_vae, tiny_ae,
                                                                      media):
    at = open_page(PAGE, monkeypatch, models_dir, tiny_vae)
    at.number_input(key="mph_idx_b").set_value(0).run()  # B = A
    assert not at.exception
    assert any("A and B are the same image" in w.value for w in at.warning)

    # A dark "3" on paper for A: inverted and prepared like MNIST by default, not a white blob.
    at.radio(key="mph_src_a").set_value("upload").run()
    at.file_uploader(key="mph_a_upload").upload("three_on_paper.png", drawn("3"), "image/png").run()
    assert not at.exception and not at.error
    assert at.checkbox(key="mph_a_invert").value and at.checkbox(key="mph_a_mnist").value
    assert any("mostly light background" in c.value for c in at.caption)
    assert captions(at, prefix="A: ") == ["A: three_on_pa….png"] and not at.warning  # shortened to fit
    (a_shown,) = images(at, prefix="A: ")
    assert media(a_shown.value[0])  # an inline PNG
    assert captions(at, "Preview")[0] == "A (original)" and gif_of(at, media).n_frames == 30

    # An MP4 made for one model is not "changed settings" for another one, never exported.
    at.button(key="mph_mp4_make").click().run()
    assert at.download_button(key="mph_mp4_download")
    at.selectbox(key="sidebar_model").set_value(tiny_ae.key).run()
    assert not at.exception and at.session_state[ui.ACTIVE] == tiny_ae.key
    assert "mph_mp4_download" not in [b.key for b in at.download_button]
    assert not any("make it again" in c.value for c in at.caption)
