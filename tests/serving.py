"""Serve the app and drive it in headless Chromium: one way for the browser test, the benches and the screenshots.

`streamlit_app()` runs `streamlit run app.py` on a free 127.0.0.1 port with a
given models folder and the offline data, waits for its health endpoint and
stops it (its whole process group) afterwards; `chromium()` launches the
system's Chromium through Playwright with the project's flags ($AECORE_BROWSER,
default /usr/bin/chromium; Playwright never downloads a browser of its own).
The rest are the steps the bench scripts share: their scratch folders, train
a model with the CLI, wait for a rerun to finish, switch page, pick the active
model, and `open_latent_slider()`, which puts the server, the browser and the
page together; the in-page slider clock (`ARM`: trusted key event -> the new
decoded image loaded, `performance.now()` on both ends), the PageUp/PageDown
walk along a slider (`next_key`), the result line of a list of milliseconds
(`stats`) and the machine line (`machine_line`). The load bench drives many
sessions at once with Playwright's async API: `async_chromium`, `settle_async`,
`go_async` and `choose_model_async` are the async twins of the steps above
(same selectors, written once here).

The tests import it as `serving` (tests/ is on their path, like `pagetest`);
scripts in bench/ put the repository root on `sys.path` and import
`tests.serving`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser as AsyncBrowser
    from playwright.async_api import Page as AsyncPage
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[1]
BROWSER = os.environ.get("AECORE_BROWSER", "/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STARTUP_S = 60  # the server must answer /_stcore/health within this
STOP_S = 15  # after SIGTERM, the server's process group gets this long before SIGKILL
LOG_TAIL = 4000  # characters of the server log shown when something fails
VIEWPORT = {"width": 1400, "height": 1000}

# The small model the slider benches train with the CLI (a conv VAE with a 2-D code; 10-25 s on 2 cores).
SLIDER_MODEL = ["--kind", "vae", "--arch", "conv", "--latent-dim", "2", "--epochs", "2", "--limit", "2000"]

# A settled page: connected, no script run in progress (SETTLED), and no 'Running…' status widget (RUNNING).
SETTLED = ("[data-testid=stApp][data-test-connection-state=CONNECTED]",
           "[data-testid=stApp][data-test-script-state=notRunning]")
RUNNING = "[data-testid=stStatusWidget]"
MODEL_BOX = ".st-key-sidebar_model input[role=combobox]"  # the sidebar's active-model selectbox
MODEL_IS = "k => document.querySelector('.st-key-sidebar_model input').value.includes(k)"
# What a page shows when something went wrong: an exception, or an st.error alert.
ERROR_ELEMENTS = "[data-testid=stException], [data-testid=stAlertContentError]"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(models_dir: Path) -> dict[str, str]:
    """The environment for the server and the CLI: this process's, with AECORE_MODELS_DIR set to `models_dir`,
    and unless already set AECORE_DATA_DIR (default ../shared/data) and TF_CPP_MIN_LOG_LEVEL (default 2)."""
    env = dict(os.environ)
    env["AECORE_MODELS_DIR"] = str(models_dir)
    env.setdefault("AECORE_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


@dataclass
class Server:
    """A running `streamlit run app.py`: its base URL (http://127.0.0.1:PORT), log file, models folder, process."""

    base: str
    log: Path
    models_dir: Path
    proc: subprocess.Popen

    def log_tail(self, chars: int = LOG_TAIL) -> str:
        """The last `chars` characters (default LOG_TAIL) of the server's stdout and stderr."""
        return self.log.read_text(errors="replace")[-chars:]


def _wait_healthy(server: Server, timeout_s: float) -> None:
    """Poll /_stcore/health every 0.25 s until it answers 'ok'; RuntimeError with the log's tail if the server
    exits first or `timeout_s` passes."""
    url = server.base + "/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer 'ok' within {timeout_s} s:\n{server.log_tail()}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL it after STOP_S seconds if the server is still running."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # the server leads its own session: its group id is its pid
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=STOP_S)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def streamlit_app(models_dir: Path, log: Path, startup_s: float = STARTUP_S) -> Iterator[Server]:
    """Run `streamlit run app.py` from the repository root on a free 127.0.0.1 port; yield it once healthy.

    Args:
        models_dir: the models folder the app uses (AECORE_MODELS_DIR); it must exist.
        log: file that receives the server's stdout and stderr.
        startup_s: how long the health endpoint may take to answer (default STARTUP_S, 60 s).

    The server runs headless, without usage statistics or a file watcher, in its own process group, which is
    stopped on exit. When the body raises, the log's tail is printed before the exception goes on.
    """
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=app_env(models_dir), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", log, models_dir, proc)
    try:
        _wait_healthy(server, startup_s)
        try:
            yield server
        except BaseException:
            print("--- streamlit log ---\n" + server.log_tail())
            raise
    finally:
        _stop(proc)


@contextmanager
def chromium(executable: str = BROWSER) -> Iterator[Browser]:
    """Launch headless Chromium through Playwright with BROWSER_ARGS; yield the Browser, close it on exit.

    Args:
        executable: the Chromium binary (default BROWSER: $AECORE_BROWSER, else /usr/bin/chromium).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=BROWSER_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def require_browser() -> None:
    """Exit the process with a message when there is no Chromium at BROWSER (for scripts; the test skips)."""
    if not Path(BROWSER).exists():
        sys.exit(f"no Chromium at {BROWSER} (set AECORE_BROWSER)")


@contextmanager
def scratch(models_dir: Path | None, prefix: str) -> Iterator[tuple[Path, Path]]:
    """A temporary folder for one script run, removed afterwards; yields (models folder, server log file).

    Args:
        models_dir: the models folder to use, created if missing; None for a fresh one in the temporary folder.
        prefix: the start of the temporary folder's name.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        models = models_dir or Path(tmp) / "models"
        models.mkdir(parents=True, exist_ok=True)
        yield models, Path(tmp) / "streamlit.log"


def train_with_cli(models_dir: Path, flags: list[str]) -> str:
    """Train (or reuse the cached) model with `python -m aecore train FLAGS --quiet`; return its cache key.

    Args:
        models_dir: the models folder to train into (or find the cached model in).
        flags: the `train` command's flags, e.g. ["--kind", "vae", "--latent-dim", "2"].

    Prints the command, then the CLI's summary line and the seconds it took; exits the process with the CLI's
    stderr if training fails.
    """
    cmd = [sys.executable, "-m", "aecore", "--models-dir", str(models_dir), "train", *flags, "--quiet"]
    print("$ " + " ".join(cmd[1:]), flush=True)
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=app_env(models_dir), capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"training failed ({out.returncode}):\n{out.stderr[-3000:]}")
    lines = out.stdout.strip().splitlines()
    print(f"  {lines[-2] if len(lines) > 1 else ''} ({time.perf_counter() - t:.0f} s)", flush=True)
    return lines[-1].strip()


def settle(page: Page, timeout: float = 120_000) -> None:
    """Wait (up to `timeout` ms, default 120 s) until the app is connected, no script run is in progress and
    no 'Running…' status widget shows."""
    for selector in SETTLED:
        page.wait_for_selector(selector, timeout=timeout)
    page.wait_for_selector(RUNNING, state="detached", timeout=timeout)


def nav_link(path: str) -> str:
    """The selector of the sidebar navigation's link to the page at `path` ("" for Home: the first link)."""
    return f'[data-testid=stSidebarNav] a[href$="/{path}"]' if path else "[data-testid=stSidebarNav] a"


def on_page(base: str, path: str):
    """A URL test for Playwright's wait_for_url: the page at `base`/`path`, whatever its query (the app's
    `?ws=` workspace)."""
    from urllib.parse import urlsplit

    want = urlsplit(f"{base}/{path}")
    return lambda url: (urlsplit(url).netloc, urlsplit(url).path.rstrip("/")) == (want.netloc, want.path.rstrip("/"))


def go(page: Page, base: str, path: str) -> None:
    """Switch to the page at `base`/`path` (e.g. "Latent_Slider"; "" for Home) through the sidebar navigation,
    in the same session so the active model stays, and settle."""
    page.locator(nav_link(path)).first.click()
    page.wait_for_url(on_page(base, path))
    settle(page)


def choose_model(page: Page, key: str) -> None:
    """Make the model with cache key `key` active through the sidebar selectbox (kept across page switches)."""
    box = page.locator(MODEL_BOX)
    if key[:6] in box.input_value():
        return
    box.click()
    page.get_by_role("option").filter(has_text=key[:6]).first.click()
    page.wait_for_function(MODEL_IS, arg=key[:6])
    settle(page)


@contextmanager
def open_latent_slider(models_dir: Path, log: Path, key: str | None = None) -> Iterator[tuple[Server, Browser, Page]]:
    """Serve the app, open its Latent Slider page in Chromium at VIEWPORT, make `key` the active model; yield
    (server, browser, page).

    Args:
        models_dir: the models folder (with at least one model).
        log: file for the server's output.
        key: cache key of the model to activate; None (default) keeps the one the app picks.

    The page's default timeout is 60 s; its first run may take 180 s (it imports TensorFlow, loads the model and
    encodes the held-out set). When anything fails, the page's URL and text are printed, then the server log.
    """
    with streamlit_app(models_dir, log) as server, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(60_000)
        try:
            page.goto(server.base + "/Latent_Slider")
            page.get_by_role("slider", name="z0").wait_for(state="attached", timeout=180_000)
            settle(page)
            if key:
                choose_model(page, key)
            yield server, browser, page
        except BaseException:
            try:
                print(f"page at failure: {page.url}; main text:\n{page.inner_text('[data-testid=stMain]')[:1500]}")
            except Exception:
                pass
            raise


# --- the in-page slider clock, shared by the slider benches ---------------------------------------------
# The decoded picture of the Latent Slider page: the canvas browser_decode.js paints (data-source "browser"),
# else the server's picture beside it (its fallback <img>), else an st.image captioned "decode(z)".
DECODED = "[data-aecore-decoded]"
FIND_IMG = """() => {
  const c = document.querySelector('[data-aecore-decoded]');
  if (c) return c.dataset.source === 'browser' ? c : c.parentElement.querySelector('img');
  return [...document.querySelectorAll('[data-testid=stImage]')]
    .filter(f => f.textContent.includes('decode(z)')).map(f => f.querySelector('img'))[0];
}"""

# Arm a timer: t0 at the next trusted `eventType` event (capture phase, before React sees it), t1 when the
# decoded picture changed and is on screen: a canvas painted anew (its data-frame changed; t1 at the next
# animation frame, the one that shows it), or an image with a new src once it has loaded. window.__lat
# resolves to t1 - t0; window.__latMarks is then [t0, t1]; window.__latSource says which picture it was.
ARM = """([eventType, timeoutMs]) => {
  const findImg = __FIND_IMG__;
  const stamp = el => !el ? null : el.tagName === 'CANVAS' ? 'frame ' + el.dataset.frame : el.src;
  let old = stamp(findImg());
  let t0 = null;
  const onEvent = e => { if (t0 === null) t0 = performance.now(); };
  window.addEventListener(eventType, onEvent, {capture: true, once: true});
  window.__lat = new Promise((resolve, reject) => {
    let done = false;
    const finish = () => {
      if (done) return;
      const img = findImg();
      if (t0 === null) { old = stamp(img); return; }  // a picture from before the event (a rerun's): not it
      if (!img || stamp(img) === old) return;
      const stop = () => {
        if (done) return;
        done = true; obs.disconnect(); clearTimeout(timer);
        window.__latMarks = [t0, performance.now()];
        window.__latSource = img.tagName === 'CANVAS' ? 'browser' : 'server';
        resolve(window.__latMarks[1] - t0);
      };
      if (img.tagName === 'CANVAS') requestAnimationFrame(stop);
      else if (img.complete && img.naturalWidth > 0) stop();
      else img.addEventListener('load', stop, {once: true});
    };
    const obs = new MutationObserver(finish);
    obs.observe(document.querySelector('[data-testid=stMain]'),
                {subtree: true, childList: true, attributes: true, attributeFilter: ['src', 'data-frame']});
    const timer = setTimeout(() => { obs.disconnect(); reject(new Error('no new image within ' + timeoutMs + ' ms')); },
                             timeoutMs);
  });
  return old;
}""".replace("__FIND_IMG__", FIND_IMG)
LATENCY = "() => window.__lat"  # evaluate after the action: the armed timer's milliseconds


def next_key(key: str, value: float, lo: float, hi: float) -> str:
    """The key of the next move along a slider at `value` in [lo, hi] that walks to one end and back:
    `key` ("PageUp" or "PageDown", a tenth of the range each), turned round at an end."""
    if key == "PageUp" and value >= hi - 1e-9:
        return "PageDown"
    if key == "PageDown" and value <= lo + 1e-9:
        return "PageUp"
    return key


def summary(xs: list[float]) -> dict[str, float]:
    """median, p90 (nearest rank), min, max and n of the milliseconds `xs` (non-empty)."""
    import statistics

    xs = sorted(xs)
    return {"median": statistics.median(xs), "p90": xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))],
            "min": xs[0], "max": xs[-1], "n": len(xs)}


def stats(name: str, xs: list[float]) -> str:
    """The result line `name median=… p90=… min=… max=… n=…` of the milliseconds `xs`."""
    s = summary(xs)
    return (f"{name} median={s['median']:.1f} p90={s['p90']:.1f} min={s['min']:.1f} max={s['max']:.1f} "
            f"n={s['n']}")


def machine_line(browser_version: str) -> str:
    """Python, Streamlit, Chromium, Playwright and CPU count in one line (the benches print it first)."""
    import platform
    from importlib.metadata import version

    return (f"python {platform.python_version()} · streamlit {version('streamlit')} · chromium {browser_version} "
            f"(headless) · playwright {version('playwright')} · {os.cpu_count()} CPUs")


# --- async twins, for driving many sessions at once (bench/bench_load.py) ---------------------------------
class BrowserPerContext:
    """Stands in for a Playwright Browser whose every `new_context()` gets a Chromium process of its own, as
    people each have their own browser (in one headless Chromium, every page's frames queue on its one
    compositor). `version` and `close()` as a Browser's."""

    def __init__(self, launch):
        self._launch, self._browsers, self._spare, self.version = launch, [], None, ""

    async def start(self) -> BrowserPerContext:
        self._spare = await self._launch()  # launched for its version; the first context gets it
        self._browsers.append(self._spare)
        self.version = self._spare.version
        return self

    async def new_context(self, **kwargs):
        browser, self._spare = self._spare, None
        if browser is None:
            browser = await self._launch()
            self._browsers.append(browser)
        return await browser.new_context(**kwargs)

    async def close(self) -> None:
        for browser in self._browsers:
            await browser.close()


@asynccontextmanager
async def async_chromium(extra_args: tuple[str, ...] = (), executable: str = BROWSER,
                         per_context: bool = False) -> AsyncIterator[AsyncBrowser]:
    """`chromium()` for Playwright's async API: one headless Chromium (BROWSER_ARGS + `extra_args`); each
    `browser.new_context()` in it is a separate Streamlit session. `per_context`: each context in a Chromium of
    its own (`BrowserPerContext`)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        def launch():
            return p.chromium.launch(executable_path=executable, headless=True, args=[*BROWSER_ARGS, *extra_args])
        browser = await (BrowserPerContext(launch).start() if per_context else launch())
        try:
            yield browser
        finally:
            await browser.close()


async def settle_async(page: AsyncPage, timeout: float = 120_000) -> None:
    """`settle()` for an async page."""
    for selector in SETTLED:
        await page.wait_for_selector(selector, timeout=timeout)
    await page.wait_for_selector(RUNNING, state="detached", timeout=timeout)


async def go_async(page: AsyncPage, base: str, path: str) -> None:
    """`go()` for an async page: switch page through the sidebar (same session) and settle."""
    await page.locator(nav_link(path)).first.click()
    await page.wait_for_url(on_page(base, path))
    await settle_async(page)


async def choose_model_async(page: AsyncPage, key: str) -> None:
    """`choose_model()` for an async page."""
    box = page.locator(MODEL_BOX)
    if key[:6] not in await box.input_value():
        await box.click()
        await page.get_by_role("option").filter(has_text=key[:6]).first.click()
        await page.wait_for_function(MODEL_IS, arg=key[:6])
        await settle_async(page)
