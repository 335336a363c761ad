"""One real-browser end-to-end test: `streamlit run app.py` driven by headless Chromium.

The server runs as a subprocess on a free port (tests/serving.py) with a fresh,
empty models folder and the offline data; Playwright drives the system's Chromium
($AECORE_BROWSER, default /usr/bin/chromium; Playwright never downloads a
browser of its own). The test trains a tiny model through the Train page's real
widgets, moves a latent slider and waits for the newly decoded picture (painted by
the page's own decoder; tests/test_browser_decode.py checks its pixels), hovers a
point of the latent scatter and sees its picture, then downloads the morph GIF
and checks that it is animated, and a walk through 3 waypoints with its frame count.

Skipped only when the Chromium binary is missing.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from serving import BROWSER, DECODED, VIEWPORT, chromium, on_page, streamlit_app

TRAIN_S = 90  # the tiny model trains in ~10 s on 2 cores; generous for slow CI machines

pytestmark = pytest.mark.skipif(not Path(BROWSER).exists(), reason=f"no Chromium at {BROWSER} (set AECORE_BROWSER)")


@pytest.fixture()
def server(tmp_path):
    """`streamlit run app.py` (tests/serving.py) with an empty models folder; yields the running Server."""
    models = tmp_path / "models"
    models.mkdir()
    with streamlit_app(models, tmp_path / "streamlit.log") as app:
        yield app


# --- helpers on a Playwright page -----------------------------------------------------------
def _settle(page, timeout: float = 60_000) -> None:
    """Wait until the app is connected and no script run is in progress."""
    page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)


def _no_exception(page) -> None:
    shown = page.locator("[data-testid=stException]")
    assert shown.count() == 0, shown.first.inner_text()


def _select(page, key: str, option: str) -> None:
    """Pick `option` in the selectbox (a combobox) with widget key `key`."""
    page.locator(f".st-key-{key} input[role=combobox]").click()
    page.get_by_role("option").filter(has_text=option).first.click()
    page.wait_for_function(
        "([sel, v]) => { const e = document.querySelector(sel); return e && e.value === v; }",
        arg=[f".st-key-{key} input[role=combobox]", option],
    )


def _type(page, key: str, value) -> None:
    """Type into the number / text input with widget key `key` and commit with Enter."""
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_function(
        "([sel, v]) => { const e = document.querySelector(sel); return e && e.value === v; }",
        arg=[f".st-key-{key} input", str(value)],
    )


def _go(page, base: str, path: str) -> None:
    """Switch page through the sidebar navigation (same session), wait for the new page's URL."""
    page.locator(f'[data-testid=stSidebarNav] a[href$="/{path}"]').click()
    page.wait_for_url(on_page(base, path))  # whatever the query (the app's ?ws= workspace)


def test_train_slide_hover_and_download_a_morph_gif(server, tmp_path):
    from PIL import Image

    base, models = server.base, server.models_dir
    try:
        with chromium() as browser:
            page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
            page.set_default_timeout(30_000)

            # --- Home, as a person starts: the navigation with every page title ------------------
            page.goto(base + "/")
            page.locator(".st-key-home_quickstart button").wait_for()
            _settle(page)
            nav = page.locator("[data-testid=stSidebarNav]").inner_text()
            titles = ["Home", "Train", "Reconstruct", "Denoise", "Latent Scatter", "Latent Slider", "Morph"]
            assert [t for t in titles if t in nav] == titles and "app" not in nav.split(), nav

            # --- Train: a tiny dense VAE through the real widgets -----------------------------
            page.goto(base + "/Train")
            page.locator(".st-key-trn_go button").wait_for()
            _settle(page)
            _select(page, "trn_kind", "Variational AE (VAE)")
            page.get_by_text("β (KL weight)").wait_for()  # the VAE's own settings appeared
            page.locator(".st-key-trn_arch").get_by_text("Dense (MLP)").click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.st-key-trn_arch input[type=radio]')]"
                ".some(e => e.checked && e.value === '1')")
            _type(page, "trn_latent", 2)
            _type(page, "trn_epochs", 2)
            page.locator("[data-testid=stExpander] summary").filter(has_text="Advanced").click()
            _type(page, "trn_limit", 600)
            _type(page, "trn_hidden", "32")
            _settle(page)
            page.locator(".st-key-trn_go button").click()
            success = page.locator("[data-testid=stAlertContentSuccess]").filter(has_text="Trained ")
            success.wait_for(timeout=TRAIN_S * 1000)
            assert "dense VAE, latent 2, mnist" in success.inner_text()
            _settle(page)
            _no_exception(page)
            (entry,) = models.glob("*.npz")  # the settings typed into the widgets reached the model
            with np.load(entry, allow_pickle=False) as z:
                config = json.loads(str(z["__meta__"]))["config"]
            assert {k: config[k] for k in ("kind", "arch", "latent_dim", "epochs", "limit", "hidden_units")} == {
                "kind": "vae", "arch": "dense", "latent_dim": 2, "epochs": 2, "limit": 600, "hidden_units": [32]}

            # --- Latent Slider: a slider move shows a newly decoded picture (decoded in the page) ---------
            _go(page, base, "Latent_Slider")
            slider = page.get_by_role("slider", name="z0")
            slider.wait_for(state="attached")
            _settle(page)
            page.wait_for_function(f"() => document.querySelector('{DECODED}')?.dataset.source === 'browser'")
            _no_exception(page)
            picture = page.locator(DECODED)
            before_frame, before_z = picture.get_attribute("data-frame"), picture.get_attribute("data-z")
            caption = page.locator(".aecore-caption")
            before_caption = caption.inner_text()
            value, hi = float(slider.input_value()), float(slider.get_attribute("max"))
            slider.focus()
            slider.press("End" if value < hi else "Home")
            page.wait_for_function(f"f => document.querySelector('{DECODED}').dataset.frame !== f", arg=before_frame,
                                   timeout=20_000)
            assert picture.get_attribute("data-z") != before_z  # a new code, painted
            assert caption.inner_text() != before_caption  # the caption shows the new code
            _settle(page)
            _no_exception(page)

            # --- Latent Scatter: hovering a point shows its image ------------------------------
            _go(page, base, "Latent_Scatter")
            page.wait_for_function(
                "() => { const g = document.querySelector('.st-key-sct_chart .js-plotly-plot');"
                " return g && g._fullData && g.__sctHooked; }", timeout=60_000)
            _settle(page)
            _no_exception(page)
            # WebGL markers are no DOM nodes: take the most isolated point's screen position from Plotly.
            px, py, point = page.evaluate(
                """() => {
                  const gd = document.querySelector('.st-key-sct_chart .js-plotly-plot');
                  const fl = gd._fullLayout, r = gd.getBoundingClientRect(), pts = [];
                  gd._fullData.forEach(t => { if (t.type !== 'scattergl' || !t.customdata) return;
                    t.x.forEach((x, k) => pts.push([fl.xaxis.l2p(x) + fl._size.l + r.left,
                                                    fl.yaxis.l2p(t.y[k]) + fl._size.t + r.top,
                                                    [].concat(t.customdata[k])[0]])); });
                  let best = pts[0], gap = -1;
                  for (const p of pts) { let d = Infinity;
                    for (const q of pts) if (q !== p) d = Math.min(d, Math.hypot(p[0] - q[0], p[1] - q[1]));
                    if (d > gap) { gap = d; best = p; } }
                  return best; }""")
            page.mouse.move(5, 5)
            page.mouse.move(px - 30, py - 30)
            page.mouse.move(px, py, steps=5)
            page.wait_for_function(
                "id => { const c = document.querySelector('#sct-hover-panel div');"
                " return c && c.textContent.startsWith('#' + id + ' '); }", arg=point, timeout=10_000)
            hover_img = page.locator("#sct-hover-panel img")
            assert hover_img.is_visible()
            assert hover_img.get_attribute("src").startswith("data:image/png;base64,")
            assert page.evaluate("() => document.querySelector('#sct-hover-panel img').naturalWidth") > 0
            page.mouse.move(5, 5)
            hover_img.wait_for(state="hidden")

            # --- Morph: the GIF download is an animated GIF -----------------------------------
            _go(page, base, "Morph")
            button = page.locator(".st-key-mph_gif_download button")
            button.wait_for()
            _settle(page)
            _no_exception(page)
            with page.expect_download() as info:
                button.click()
            download = info.value
            assert download.suggested_filename.endswith(".gif")
            target = tmp_path / download.suggested_filename
            download.save_as(target)
            data = target.read_bytes()
            assert data[:4] == b"GIF8"
            with Image.open(io.BytesIO(data)) as gif:
                assert gif.is_animated and gif.n_frames > 1

            # --- Morph: a walk through 3 waypoints, drawn on the map, exported with its frames --------
            page.locator(".st-key-mph_mode label").filter(has_text="a walk through waypoints").click()
            _settle(page)
            _type(page, "mph_wp_idx", "3, 7, 12")
            _settle(page)
            page.locator(".st-key-mph_map .js-plotly-plot").wait_for()  # the path on the map
            _no_exception(page)
            with page.expect_download() as info:
                page.locator(".st-key-mph_gif_download button").click()
            assert info.value.suggested_filename.startswith("walk_30x")
            target = tmp_path / "walk.gif"
            info.value.save_as(target)
            with Image.open(target) as gif:
                assert gif.n_frames == 2 * (30 - 1) + 1  # two legs of 30 frames, the middle waypoint once
    except BaseException:
        print("--- streamlit log ---\n" + server.log_tail())
        raise
