"""The Latent Slider decodes in the browser (browser_decode.js, TensorFlow.js) exactly as Python does.

A real server (tests/serving.py) with a small conv AE trained by the CLI, headless Chromium: a slider move
paints the canvas in the page; its pixels, read back from the canvas, match the Python decode of the code the
page says it decoded (data-z) to within 1/255 per pixel. With TensorFlow.js blocked (the page cannot load
static/tfjs), the page still works: the server's decoded picture is shown and follows the slider. And the
server's first visit, a deep link, gets the app's declared navigation (Home, titles, icons).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from serving import BROWSER, DECODED, FIND_IMG, VIEWPORT, chromium, settle, streamlit_app, train_with_cli

pytestmark = pytest.mark.skipif(not Path(BROWSER).exists(), reason=f"no Chromium at {BROWSER} (set AECORE_BROWSER)")

MODEL = ["--kind", "ae", "--arch", "conv", "--latent-dim", "3", "--epochs", "1", "--limit", "600"]
CANVAS_PIXELS = """() => { const c = document.querySelector('[data-aecore-decoded]');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return [c.width, c.height, JSON.parse(c.dataset.z), Array.from(d)]; }"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server with one small conv AE; yields (server, the model's Engine)."""
    from aecore.cache import ModelCache
    from aecore.infer import Engine

    tmp = tmp_path_factory.mktemp("browser_decode")
    models = tmp / "models"
    models.mkdir()
    key = train_with_cli(models, MODEL)
    engine = Engine(ModelCache(models).load(key).model)
    with streamlit_app(models, tmp / "streamlit.log") as server:
        yield server, engine


def open_slider(browser, base: str, block_tfjs: bool = False):
    context = browser.new_context(viewport=VIEWPORT)
    if block_tfjs:
        context.route("**/app/static/tfjs/**", lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(base + "/Latent_Slider")
    page.get_by_role("slider", name="z0").wait_for(state="attached", timeout=180_000)
    settle(page)
    return page


def test_a_deep_link_first_after_start_up_gets_the_declared_navigation(served):
    """The server's very first visit is a deep link (the module's fresh server): the sidebar still lists Home
    (not "app"), with the pages' icons (navigation.declare_once)."""
    server, _ = served
    with chromium() as browser:
        page = open_slider(browser, server.base)
        links = [" ".join(t.split()) for t in page.locator("[data-testid=stSidebarNav] a").all_inner_texts()]
        assert links[0] == "🧭 Home" and "🎚️ Latent Slider" in links and not any("app" in t for t in links), links
        assert page.title() == "Latent Slider · Latent Explorer"


def test_browser_decode_matches_python(served):
    server, engine = served
    with chromium() as browser:
        page = open_slider(browser, server.base)
        page.wait_for_function(f"() => document.querySelector('{DECODED}')?.dataset.source === 'browser'")
        for key in ("End", "Home"):  # two different codes, each decoded in the page
            frame = page.locator(DECODED).get_attribute("data-frame")
            page.get_by_role("slider", name="z0").press(key)
            page.wait_for_function(f"f => document.querySelector('{DECODED}').dataset.frame !== f", arg=frame)
            w, h, z, rgba = page.evaluate(CANVAS_PIXELS)
            shown = np.asarray(rgba, np.int32).reshape(h, w, 4)[..., 0]
            want = np.round(engine.decode(np.asarray(z, np.float32))[0, ..., 0] * 255).astype(np.int32)
            assert (w, h) == (28, 28) and len(z) == 3
            assert np.abs(shown - want).max() <= 1, f"browser and Python decodes differ by {np.abs(shown - want).max()}"
            settle(page)
        assert "decoded in your browser" in page.locator(".aecore-caption").inner_text()
        assert page.locator("[data-testid=stException]").count() == 0


def test_without_tensorflow_js_the_server_decodes(served):
    server, _ = served
    with chromium() as browser:
        page = open_slider(browser, server.base, block_tfjs=True)
        before = page.evaluate(f"() => ({FIND_IMG})().src")
        assert page.locator(DECODED).get_attribute("data-source") == "server"
        page.get_by_role("slider", name="z0").press("End")
        page.wait_for_function(f"old => {{ const i = ({FIND_IMG})(); return i && i.src !== old && i.complete; }}",
                               arg=before)
        settle(page)
        assert page.locator(DECODED).get_attribute("data-source") == "server"
        assert page.locator("[data-testid=stException]").count() == 0


def test_dragging_the_pad_decodes_while_dragging_and_the_release_moves_the_sliders(served):
    """A drag across the pad (mouse moves ~60 a second): the picture is painted anew during the drag, not only
    at the end; on release the two sliders the pad spans move to the point."""
    server, _ = served
    with chromium() as browser:
        page = open_slider(browser, server.base)
        page.wait_for_function(f"() => document.querySelector('{DECODED}')?.dataset.source === 'browser'")
        pad = page.locator("canvas.aecore-pad")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        z0 = page.get_by_role("slider", name="z0")
        before = float(z0.input_value())
        frames = lambda: int(page.locator(DECODED).get_attribute("data-frame"))  # noqa: E731
        start = frames()
        page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.5 * box["height"])
        page.mouse.down()
        during = []
        for i in range(1, 31):
            page.mouse.move(box["x"] + (0.1 + 0.8 * i / 30) * box["width"], box["y"] + 0.5 * box["height"])
            page.wait_for_timeout(16)
            during.append(frames())
        page.mouse.up()
        assert during[9] > start and during[-1] - during[9] >= 10, (start, during)  # painted while dragging
        page.wait_for_function("v => +document.querySelector('.st-key-sld_z0 input').value !== v", arg=before)
        settle(page)
        assert float(z0.input_value()) > before  # released to the right of where it was: z0 grew
        assert page.locator("[data-testid=stException]").count() == 0


def open_scatter(browser, base: str):
    """The Latent Scatter page (through the Slider's, and the sidebar), its chart hooked and on screen; returns
    (page, [left, top, width, height] of the plot area in the viewport)."""
    page = open_slider(browser, base)
    page.locator('[data-testid=stSidebarNav] a[href$="/Latent_Scatter"]').click()
    page.wait_for_function("() => { const g = document.querySelector('.st-key-sct_chart .js-plotly-plot');"
                           " return g && g._fullLayout && g.__sctHooked && window.__aecoreDecode; }",
                           timeout=60_000)
    settle(page)
    page.evaluate("() => document.querySelector('.st-key-sct_chart').scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)  # the whole plot area on screen (the page's controls push it below the fold)
    box = page.evaluate("""() => { const g = document.querySelector('.st-key-sct_chart .js-plotly-plot');
        const r = g.getBoundingClientRect(), s = g._fullLayout._size;
        return [r.left + s.l, r.top + s.t, s.w, s.h]; }""")
    return page, box


def test_hovering_empty_space_on_the_scatter_decodes_the_code_under_the_cursor(served):
    """Latent Scatter (a 3-number code: the PCA plane): the cursor over empty space shows a picture decoded in the
    page for the code there, matching Python's decode of it to 1/255; moving on shows another."""
    server, engine = served
    with chromium() as browser:
        page, box = open_scatter(browser, server.base)
        frames = []
        for fx, fy in ((0.03, 0.03), (0.97, 0.97)):  # the plot area's corners: empty space
            page.mouse.move(box[0] + fx * box[2], box[1] + fy * box[3])
            page.wait_for_function("n => +document.querySelector('[data-sct-decoded]').dataset.frame > n",
                                   arg=len(frames))
            w, h, z, rgba = page.evaluate(CANVAS_PIXELS.replace("data-aecore-decoded", "data-sct-decoded"))
            shown = np.asarray(rgba, np.int32).reshape(h, w, 4)[..., 0]
            want = np.round(engine.decode(np.asarray(z, np.float32))[0, ..., 0] * 255).astype(np.int32)
            assert np.abs(shown - want).max() <= 1
            frames.append(z)
        assert frames[0] != frames[1]
        assert "decoded at (" in page.locator("#sct-hover-panel").inner_text()
        assert page.locator("[data-testid=stException]").count() == 0


def test_a_click_on_empty_space_pins_the_decoded_code_and_sends_it_to_the_slider(served):
    """A click on the Scatter's empty space pins the code its hover decoded there: the pin is drawn on the map and
    shown under it; "To the Latent Slider" opens the Slider with its sliders at that code (to their step)."""
    server, engine = served
    with chromium() as browser:
        page, box = open_scatter(browser, server.base)
        x, y = box[0] + 0.04 * box[2], box[1] + 0.05 * box[3]  # a corner of the plot area: empty space
        page.mouse.move(x, y)
        page.wait_for_function("() => +document.querySelector('[data-sct-decoded]').dataset.frame > 0")
        hovered = page.evaluate("() => JSON.parse(document.querySelector('[data-sct-decoded]').dataset.z)")
        page.mouse.click(x, y)
        pin = page.locator(".st-key-pins_slider_P1")
        pin.wait_for(timeout=60_000)
        settle(page)
        assert page.evaluate("""() => document.querySelector('.st-key-sct_chart .js-plotly-plot')._fullData
                                .some(t => t.name === 'pins' && t.text[0] === 'P1')""")
        page.locator(".st-key-pins_slider_P1").get_by_role("button", name="To the Latent Slider").click()
        page.get_by_text("The sliders are at P1's code").wait_for(timeout=60_000)
        settle(page)
        values = [float(page.locator(f".st-key-sld_z{j} input").input_value()) for j in range(3)]
        step = float(page.locator(".st-key-sld_z0 input").get_attribute("step"))
        assert np.abs(np.asarray(values) - np.asarray(hovered)).max() <= step / 2 + 1e-6, (values, hovered)
        assert page.locator("[data-testid=stException]").count() == 0


def test_the_browsers_sliders_paint_at_once_and_reach_the_server_when_they_rest(served):
    """With the decoder in the page, the sliders on screen are the page's own (Streamlit's are hidden): five quick
    key presses paint five pictures; once the slider rests, Streamlit's slider (the server's value) follows."""
    server, _ = served
    with chromium() as browser:
        page = open_slider(browser, server.base)
        page.wait_for_function(f"() => document.querySelector('{DECODED}')?.dataset.source === 'browser'")
        page.wait_for_function("() => getComputedStyle(document.querySelector('.st-key-sld_bank')).display === 'none'")
        z0 = page.get_by_role("slider", name="z0")
        assert z0.evaluate("e => !!e.closest('.aecore-bank')")  # the visible z0 is the page's own
        z0.focus()
        start = int(page.locator(DECODED).get_attribute("data-frame"))
        for _ in range(5):
            z0.press("ArrowRight")
        assert int(page.locator(DECODED).get_attribute("data-frame")) == start + 5
        shown = float(z0.input_value())
        page.wait_for_function("v => Math.abs(+document.querySelector('.st-key-sld_z0 input').value - v) < 1e-6",
                               arg=shown, timeout=10_000)
        settle(page)
        assert page.locator("[data-testid=stException]").count() == 0


def test_a_key_pressed_while_the_server_answers_the_rested_sliders_stands(served):
    """The page's sliders tell the server their values once they rest, and the server's rerun echoes them back. A
    key pressed while that echo is on its way (held back here, in the page's WebSocket, until after the key) must
    stand: the echo does not move the slider back, and the server then hears of the new value."""
    from browser_decode import SYNC_MS

    server, _ = served
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT)
        wire = {"hold": False, "held": [], "page": None}

        def route(ws):  # the page's WebSocket to the server: the server's messages pass, or wait while held
            to_server = ws.connect_to_server()
            wire["page"] = ws
            to_server.on_message(lambda m: wire["held"].append(m) if wire["hold"] else ws.send(m))

        context.route_web_socket(re.compile(r".*/_stcore/stream"), route)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(server.base + "/Latent_Slider")
        page.get_by_role("slider", name="z0").wait_for(state="attached", timeout=180_000)
        settle(page)
        page.wait_for_function(f"() => document.querySelector('{DECODED}')?.dataset.source === 'browser'")
        z0 = page.get_by_role("slider", name="z0")
        z0.focus()
        wire["hold"] = True
        z0.press("ArrowLeft")
        first = float(z0.input_value())
        page.wait_for_timeout(SYNC_MS + 1500)  # the sliders rested: the values went out; the answer is held
        assert wire["held"], "the server did not answer the rested sliders"
        z0.press("ArrowLeft")
        second = float(z0.input_value())
        assert second < first
        wire["hold"] = False
        for message in wire["held"]:  # the echo of `first` arrives after the key that made `second`
            wire["page"].send(message)
        page.wait_for_timeout(300)
        assert float(z0.input_value()) == second
        page.wait_for_function("v => Math.abs(+document.querySelector('.st-key-sld_z0 input').value - v) < 1e-6",
                               arg=second, timeout=20_000)  # and the server hears of it once it rests
        assert float(z0.input_value()) == second
        assert page.locator("[data-testid=stException]").count() == 0


def test_a_slider_views_link_opens_the_same_picture_in_a_fresh_browser(served):
    """Set a view (a slider moved, the grid's size changed), take the page's URL, open it in a fresh browser
    context (no cookies, no session): the same sliders and the same decoded pixels. A link to a model this server
    does not have says so."""
    server, _ = served
    with chromium() as browser:
        page = open_slider(browser, server.base)
        page.wait_for_function(f"() => document.querySelector('{DECODED}')?.dataset.source === 'browser'")
        z1 = page.get_by_role("slider", name="z1")
        z1.focus()
        for _ in range(7):
            z1.press("ArrowLeft")
        shown = float(z1.input_value())
        page.wait_for_function("v => new URL(location.href).searchParams.get('v')?.split(',')[1] == String(v)",
                               arg=shown, timeout=20_000)  # the sliders rested: the server wrote the link
        settle(page)
        url = page.url
        w, h, z, rgba = page.evaluate(CANVAS_PIXELS)

        fresh = browser.new_context(viewport=VIEWPORT).new_page()
        fresh.set_default_timeout(60_000)
        fresh.goto(url)
        fresh.get_by_role("slider", name="z1").wait_for(state="attached", timeout=180_000)
        fresh.wait_for_function(f"() => document.querySelector('{DECODED}')?.dataset.source === 'browser'")
        settle(fresh)
        assert float(fresh.get_by_role("slider", name="z1").input_value()) == shown
        w2, h2, z2, rgba2 = fresh.evaluate(CANVAS_PIXELS)
        assert (w2, h2) == (w, h) and np.allclose(z2, z, atol=1e-6) and rgba2 == rgba  # the same decoded bytes
        assert fresh.locator("[data-testid=stException]").count() == 0

        gone = browser.new_context(viewport=VIEWPORT).new_page()
        gone.goto(url.replace("model=", "model=0000"))
        gone.get_by_text("which this server does not have").wait_for(timeout=180_000)
        assert gone.locator("[data-testid=stException]").count() == 0
