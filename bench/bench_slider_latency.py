"""Latent Slider latency in a real browser: key press on a slider -> the new decoded image on screen.

    python bench/bench_slider_latency.py [--models-dir DIR] [--moves 30] [--pause-ms 300] [--screenshots]

Starts `streamlit run app.py` on a free port (like tests/test_browser.py), makes
sure a model exists (trains one with the CLI when the models folder has none),
opens the Latent Slider page in headless Chromium ($AECORE_BROWSER, default
/usr/bin/chromium; Playwright never downloads a browser) and times:

- slider_to_image_ms: a key press on the z0 slider (a fragment rerun) until the
  decoded image's src has changed and the new image has loaded;
- full_rerun_ms: the same path through a full-page rerun: the "Set the sliders
  to its code" button (outside the fragment) until the decoded image changed
  and loaded.

Both clocks run inside the page (`performance.now()`): t0 in a capture-phase
listener of the trusted keydown / click event, t1 in the new image's load
event (a MutationObserver watches for the new src), so Playwright's round
trips are not in the numbers. Moves are paced like a person (--pause-ms after
the previous move's rerun finished).

--screenshots also saves the home page and the six pages at 1400x1000 to
docs/screenshots/<name>.png, with a better model (conv VAE, latent 2,
8 epochs on 10,000 digits, about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSER = os.environ.get("AECORE_BROWSER", "/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
QUICK = ["--kind", "vae", "--arch", "conv", "--latent-dim", "2", "--epochs", "2", "--limit", "2000"]
BETTER = ["--kind", "vae", "--arch", "conv", "--latent-dim", "2", "--epochs", "8", "--limit", "10000"]
PAGES = {"home": "", "train": "Train", "reconstruct": "Reconstruct", "denoise": "Denoise",
         "latent_scatter": "Latent_Scatter", "latent_slider": "Latent_Slider", "morph": "Morph"}

# The decoded image of the Latent Slider page: the st.image whose caption starts with "decode(z)".
FIND_IMG = """() => [...document.querySelectorAll('[data-testid=stImage]')]
    .filter(f => f.innerText.includes('decode(z)')).map(f => f.querySelector('img'))[0]"""

# Arm a timer: t0 at the next trusted `eventType` event (capture phase, before React sees it), t1 when the
# decoded image's src differs from the current one and that image has loaded. window.__lat resolves to t1 - t0.
ARM = """([eventType, timeoutMs]) => {
  const findImg = %s;
  const old = findImg().src;
  let t0 = null;
  const onEvent = e => { if (t0 === null) t0 = performance.now(); };
  window.addEventListener(eventType, onEvent, {capture: true, once: true});
  window.__lat = new Promise((resolve, reject) => {
    let done = false;
    const finish = () => {
      if (done) return;
      const img = findImg();
      if (!img || img.src === old) return;
      const stop = () => {
        if (done) return;
        done = true; obs.disconnect(); clearTimeout(timer);
        resolve(performance.now() - t0);
      };
      if (img.complete && img.naturalWidth > 0) stop();
      else img.addEventListener('load', stop, {once: true});
    };
    const obs = new MutationObserver(finish);
    obs.observe(document.querySelector('[data-testid=stMain]'),
                {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    const timer = setTimeout(() => { obs.disconnect(); reject(new Error('no new image within ' + timeoutMs + ' ms')); },
                             timeoutMs);
  });
  return old;
}""" % FIND_IMG


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(models_dir: Path) -> dict:
    env = dict(os.environ)
    env["AECORE_MODELS_DIR"] = str(models_dir)
    env.setdefault("AECORE_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def train(models_dir: Path, flags: list[str]) -> str:
    """Train (or reuse the cached) model with the CLI; returns its cache key."""
    cmd = [sys.executable, "-m", "aecore", "--models-dir", str(models_dir), "train", *flags, "--quiet"]
    print("$ " + " ".join(cmd[1:]), flush=True)
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env_for(models_dir), capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"training failed ({out.returncode}):\n{out.stderr[-3000:]}")
    lines = out.stdout.strip().splitlines()
    print(f"  {lines[-2] if len(lines) > 1 else ''} ({time.perf_counter() - t:.0f} s)", flush=True)
    return lines[-1].strip()


class Server:
    """`streamlit run app.py` on a free port; a context manager that always stops it."""

    def __init__(self, models_dir: Path, log: Path):
        self.port, self.models_dir, self.log = free_port(), models_dir, log
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self) -> "Server":
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                 "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=env_for(self.models_dir), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        self.__exit__()
        raise RuntimeError("streamlit did not become healthy within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def settle(page, timeout: float = 120_000) -> None:
    """Connected, no script run in progress, no 'Running…' status widget."""
    page.wait_for_selector("[data-testid=stApp][data-test-connection-state=CONNECTED]", timeout=timeout)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)
    page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=timeout)


def choose_model(page, key: str) -> None:
    """Make `key` the active model through the sidebar selectbox (kept across page switches)."""
    box = page.locator(".st-key-sidebar_model input[role=combobox]")
    if key[:6] in box.input_value():
        return
    box.click()
    page.get_by_role("option").filter(has_text=key[:6]).first.click()
    page.wait_for_function("k => document.querySelector('.st-key-sidebar_model input').value.includes(k)",
                           arg=key[:6])
    settle(page)


def go(page, base: str, path: str) -> None:
    """Switch page through the sidebar navigation (same session, so the active model stays)."""
    page.locator(f'[data-testid=stSidebarNav] a[href$="/{path}"]').click()
    page.wait_for_url(f"{base}/{path}")
    settle(page)


def timed(page, event: str, action, timeout_ms: int = 20_000) -> float:
    page.evaluate(ARM, [event, timeout_ms])
    action()
    return float(page.evaluate("() => window.__lat"))


def measure_slider(page, moves: int, pause: float) -> list[float]:
    """`moves` PageUp / PageDown presses on z0 (a tenth of its range each), walking to one end and back."""
    slider = page.get_by_role("slider", name="z0")
    lo, hi = float(slider.get_attribute("min")), float(slider.get_attribute("max"))
    slider.focus()
    key, out = "PageUp", []
    for _ in range(moves):
        v = float(slider.input_value())
        if key == "PageUp" and v >= hi - 1e-9:
            key = "PageDown"
        elif key == "PageDown" and v <= lo + 1e-9:
            key = "PageUp"
        out.append(timed(page, "keydown", lambda: page.keyboard.press(key)))
        settle(page)
        time.sleep(pause)
    return out


def measure_full_rerun(page, moves: int, pause: float) -> list[float]:
    """Alternate the held-out image # between 0 and 1 (untimed), then time 'Set the sliders to its code'."""
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


def stats(name: str, xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return (f"{name} median={statistics.median(xs):.1f} p90={p90:.1f} min={xs[0]:.1f} max={xs[-1]:.1f} "
            f"n={len(xs)}")


def screenshots(page, base: str, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, path in PAGES.items():
        if path:
            go(page, base, path)
        else:
            page.locator("[data-testid=stSidebarNav] a").first.click()
            page.wait_for_url(base + "/")
            settle(page)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)  # charts and images finish drawing
        settle(page)
        errors = page.locator("[data-testid=stException]")
        if errors.count():
            print(f"  !! {name}: exception on the page: {errors.first.inner_text()[:300]}")
        page.screenshot(path=str(out_dir / f"{name}.png"))
        print(f"  saved {out_dir / (name + '.png')}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, help="models folder (default: a fresh temporary one)")
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--pause-ms", type=int, default=300, help="pause between moves, like a person's pace")
    ap.add_argument("--screenshots", action="store_true", help="save the seven pages to docs/screenshots/")
    args = ap.parse_args(argv)
    if not Path(BROWSER).exists():
        sys.exit(f"no Chromium at {BROWSER} (set AECORE_BROWSER)")

    import streamlit
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="slider_bench_") as tmp:
        models = args.models_dir or Path(tmp) / "models"
        models.mkdir(parents=True, exist_ok=True)
        key = None
        if args.screenshots:
            key = train(models, BETTER)
        elif not any(models.glob("*.npz")):
            key = train(models, QUICK)

        with Server(models, Path(tmp) / "streamlit.log") as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=BROWSER, headless=True, args=BROWSER_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(60_000)
                page.goto(server.base + "/Latent_Slider")
                # the first run of a session imports TensorFlow, loads the model and encodes the held-out set
                page.get_by_role("slider", name="z0").wait_for(state="attached", timeout=180_000)
                settle(page)
                if key:
                    choose_model(page, key)
                active = page.locator(".st-key-sidebar_model input[role=combobox]").input_value()
                print(f"python {platform.python_version()} · streamlit {streamlit.__version__} · "
                      f"chromium {browser.version} (headless) · playwright "
                      f"{__import__('importlib.metadata').metadata.version('playwright')} · {os.cpu_count()} CPUs")
                print(f"model: {active}")
                pause = args.pause_ms / 1000
                measure_slider(page, 3, pause)  # warm-up (first decode, image element, caches)
                slider = measure_slider(page, args.moves, pause)
                measure_full_rerun(page, 2, pause)  # warm-up
                full = measure_full_rerun(page, args.moves, pause)
                print(f"pace: {args.pause_ms} ms pause after each rerun finished; t0 = trusted keydown/click in the "
                      "page, t1 = load event of the new decoded image (performance.now())")
                print(stats("slider_to_image_ms", slider) + "  (PageUp/PageDown on z0, fragment rerun)")
                print(stats("full_rerun_ms", full) + "  ('Set the sliders to its code' button, full-page rerun)")
                print(f"ratio full_rerun/slider (medians) = "
                      f"{statistics.median(full) / statistics.median(slider):.2f}x")
                if args.screenshots:
                    screenshots(page, server.base, ROOT / "docs" / "screenshots")
            except BaseException:
                shot = Path(tmp) / "failure.png"
                try:
                    page.screenshot(path=str(shot))
                    print(f"page at failure: {page.url}; main text:\n{page.inner_text('[data-testid=stMain]')[:1500]}")
                except Exception:
                    pass
                print("--- streamlit log ---\n" + server.log.read_text(errors="replace")[-3000:])
                raise
            finally:
                browser.close()


if __name__ == "__main__":
    main()
