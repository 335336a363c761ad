"""Latent Slider latency in a real browser: key press on a slider -> the new decoded image on screen.

    python bench/bench_slider_latency.py [--models-dir DIR] [--moves 30] [--pause-ms 300]

Serves the app with tests/serving.py (as tests/test_browser.py does), makes
sure a model exists (trains one with the CLI when the models folder has none),
opens the Latent Slider page in headless Chromium ($AECORE_BROWSER, default
/usr/bin/chromium; Playwright never downloads a browser) and times:

- slider_to_image_ms: a key press on the z0 slider (a fragment rerun) until the
  decoded image's src has changed and the new image has loaded;
- full_rerun_ms: the same path through a full-page rerun: the "Set the sliders
  to its code" button (outside the fragment) until the decoded image changed
  and loaded;
- pad_drag_fps: decoded frames painted per second while the 2-D pad's point
  is dragged (a mouse move every ~16 ms, like a 60 Hz pointer).

Where the page decodes in the browser (browser_decode.js, the default), "the
new image" is the canvas painted anew (timed to the next animation frame);
else the server's image after the rerun.

Both clocks run inside the page (`performance.now()`; tests/serving.py's ARM,
which bench_load.py uses too): t0 in a capture-phase listener of the trusted
keydown / click event, t1 in the new image's load event (a MutationObserver
watches for the new src), so Playwright's round trips are not in the numbers.
Moves are paced like a person (--pause-ms after the previous move's rerun
finished). The README's screenshots are bench/screenshots.py's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `tests.serving`

from tests.serving import (  # noqa: E402
    ARM,
    LATENCY,
    SLIDER_MODEL,
    machine_line,
    next_key,
    open_latent_slider,
    require_browser,
    scratch,
    settle,
    stats,
    train_with_cli,
)


def timed(page, event: str, action, timeout_ms: int = 20_000) -> float:
    """Milliseconds from the next trusted `event` ("keydown" or "click") that `action()` causes to the load of
    the newly decoded image, timed in the page by ARM; fails after `timeout_ms` (default 20 s) without one."""
    page.evaluate(ARM, [event, timeout_ms])
    action()
    return float(page.evaluate(LATENCY))


def measure_slider(page, moves: int, pause: float) -> list[float]:
    """Time `moves` PageUp / PageDown presses on z0 (a tenth of its range each), walking to one end and back,
    with `pause` seconds after each rerun finished; returns the milliseconds of each."""
    slider = page.get_by_role("slider", name="z0")
    key, out = "PageUp", []
    for _ in range(moves):
        # The slider as it is now: the page's own (browser_decode's, whose top is its last reachable step) takes
        # over from Streamlit's once the decoder has loaded, which may be after the page opened.
        slider.focus()
        lo, hi = float(slider.get_attribute("min")), float(slider.get_attribute("max"))
        key = next_key(key, float(slider.input_value()), lo, hi)
        out.append(timed(page, "keydown", lambda k=key: page.keyboard.press(k)))
        settle(page)
        time.sleep(pause)
    return out


def measure_full_rerun(page, moves: int, pause: float) -> list[float]:
    """Time `moves` presses of 'Set the sliders to its code', the held-out image # alternating between 1 and 2
    (set untimed, then `pause` seconds); returns the milliseconds of each."""
    expander = page.locator("[data-testid=stExpander] details").filter(has_text="Start from an image")
    if expander.get_attribute("open") is None:
        expander.locator("summary").click()
    box = page.locator(".st-key-sld_from_idx input")
    button = page.locator(".st-key-sld_from_btn button")
    button.wait_for()
    out = []
    for i in range(moves):
        box.fill(str(i % 2 + 1))  # held-out #1 and #2: different codes, so the image changes every time
        box.press("Enter")
        settle(page)
        time.sleep(pause)
        out.append(timed(page, "click", button.click))
        settle(page)
    return out


FRAME_CLOCK = "() => [performance.now(), +document.querySelector('[data-aecore-decoded]').dataset.frame]"


def measure_pad(page, seconds: float) -> tuple[float, float]:
    """Drag the 2-D pad's point back and forth for `seconds`, a mouse move every ~16 ms (a 60 Hz pointer);
    returns (decoded frames painted per second, mouse moves sent per second), both over the drag's duration
    as the page's clock saw it."""
    pad = page.locator("canvas.aecore-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    y = box["y"] + 0.5 * box["height"]
    page.mouse.move(box["x"] + 0.1 * box["width"], y)
    page.mouse.down()
    (t0, f0), moves, end = page.evaluate(FRAME_CLOCK), 0, time.perf_counter() + seconds
    while (now := time.perf_counter()) < end:
        phase = (moves % 60) / 60  # left to right and back, once a second
        frac = 2 * phase if phase < 0.5 else 2 - 2 * phase
        page.mouse.move(box["x"] + (0.1 + 0.8 * frac) * box["width"], y)  # returns once the page took it
        moves += 1
        time.sleep(max(0.0, now + 1 / 60 - time.perf_counter()))
    t1, f1 = page.evaluate(FRAME_CLOCK)
    page.mouse.up()
    settle(page)
    secs = (t1 - t0) / 1000
    return (f1 - f0) / secs, moves / secs


def main(argv=None) -> None:
    """Parse the options (--models-dir, default a fresh temporary folder; --moves, default 30; --pause-ms,
    default 300), make sure a model exists, measure both paths and print the result lines."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, help="models folder (default: a fresh temporary one)")
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--pause-ms", type=int, default=300, help="pause between moves, like a person's pace")
    ap.add_argument("--pad-seconds", type=float, default=5.0, help="how long to drag the 2-D pad")
    args = ap.parse_args(argv)
    require_browser()
    with scratch(args.models_dir, "slider_bench_") as (models, log):
        key = None if any(models.glob("*.npz")) else train_with_cli(models, SLIDER_MODEL)
        with open_latent_slider(models, log, key) as (_, browser, page):
            active = page.locator(".st-key-sidebar_model input[role=combobox]").input_value()
            print(machine_line(browser.version))
            print(f"model: {active}")
            pause = args.pause_ms / 1000
            measure_slider(page, 3, pause)  # warm-up (first decode, image element, caches)
            slider = measure_slider(page, args.moves, pause)
            measure_full_rerun(page, 2, pause)  # warm-up
            full = measure_full_rerun(page, args.moves, pause)
            print(f"pace: {args.pause_ms} ms pause after each rerun finished; t0 = trusted keydown/click in the "
                  "page, t1 = the new picture on screen (canvas: next frame; image: load event; performance.now())")
            where = ("decoded in the page, no rerun per move" if page.locator("[data-aecore-decoded]")
                     .get_attribute("data-source") == "browser" else "fragment rerun")
            print(stats("slider_to_image_ms", slider) + f"  (PageUp/PageDown on z0, {where})")
            print(stats("full_rerun_ms", full) + "  ('Set the sliders to its code' button, full-page rerun)")
            print(f"ratio full_rerun/slider (medians) = "
                  f"{statistics.median(full) / statistics.median(slider):.2f}x")
            source = page.locator("[data-aecore-decoded]").get_attribute("data-source")
            print(f"pictures decoded by: {source} (slider_to_image_ms: target <= 50 ms median "
                  f"{'PASS' if statistics.median(slider) <= 50 else 'FAIL'})")
            if source == "browser":
                fps, sent = measure_pad(page, args.pad_seconds)
                print(f"pad_drag_fps={fps:.1f} (decoded frames painted per second while dragging; {sent:.0f} mouse "
                      f"moves a second sent; target >= 20: {'PASS' if fps >= 20 else 'FAIL'})")


if __name__ == "__main__":
    main()
