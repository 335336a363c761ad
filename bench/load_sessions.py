"""One browser session of the load benchmark (bench/bench_load.py): open a page, move the Latent Slider and time it
in the page, switch pages, start / follow / stop a training from the Train page, collect the errors a session sees.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `tests.serving`

from tests.serving import (  # noqa: E402
    ARM,
    ERROR_ELEMENTS,
    FIND_IMG,
    LATENCY,
    VIEWPORT,
    choose_model_async,
    go_async,
    next_key,
    settle_async,
)

SLIDER_PAGE, OTHER_PAGE = "Latent_Slider", "Reconstruct"
WARMUP_MOVES = 3  # per session, untimed: the first decode, the image element, the caches
LAT_TIMEOUT_MS = 30_000  # a move whose new image has not loaded by then is an error
OPEN_TIMEOUT_MS = 180_000  # a session's first page (TensorFlow import, model load, held-out codes)
ACTION_TIMEOUT_MS = 60_000  # every other wait of a session
TRAIN_START_S = 300  # the first trainer must be training (an "Epoch" on its page) within this
# Timers and rendering of pages that are not in front must run at full speed: every context is someone's tab.
EXTRA_ARGS = ("--disable-background-timer-throttling", "--disable-renderer-backgrounding",
              "--disable-backgrounding-occluded-windows")

# Installed in every page before the app loads: records the text of every exception or error alert that
# appears (checked at most every 50 ms, after a burst of changes), so one that a rerun replaces is counted too.
WATCH_ERRORS = """(() => {
  window.__aeErrors = [];
  const seen = new WeakSet();
  let queued = false;
  const scan = () => {
    queued = false;
    for (const el of document.querySelectorAll('__SEL__')) {
      if (seen.has(el)) continue;
      seen.add(el);
      if (el.parentElement && el.parentElement.closest('[data-testid=stException]')) continue;
      window.__aeErrors.push((el.innerText || el.textContent || '').trim().slice(0, 300));
    }
  };
  new MutationObserver(() => { if (!queued) { queued = true; setTimeout(scan, 50); } })
    .observe(document, {subtree: true, childList: true});
})();""".replace("__SEL__", ERROR_ELEMENTS)
TAKE_ERRORS = "() => (window.__aeErrors || []).splice(0)"
IMAGES_LOADED = "() => [...document.querySelectorAll('[data-testid=stMain] img')].every(i => i.complete)"

# Also installed in every page: the time of every message the page sends to the server and receives from it
# (performance.now(), on the page's main thread), so a move's time can be split up (see `split`).
WATCH_SOCKET = """(() => {
  const log = window.__aeSocket = [];
  const Plain = window.WebSocket;
  window.WebSocket = class extends Plain {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => log.push(['r', performance.now()]));
    }
    send(data) { log.push(['s', performance.now()]); return super.send(data); }
  };
})();"""
# The last move's [t0, t1] (tests/serving.py's ARM) and the socket messages since the last call.
TAKE_MARKS = "() => [window.__latMarks, window.__aeSocket.splice(0), window.__latSource]"
# A move's parts (`split`): the picture and the rerun run side by side when the browser decodes (the picture
# is on screen before the server's reply), one after the other when the server decodes.
PARTS = ("keydown→sent", "sent→first reply", "sent→last reply (rerun done)", "keydown→picture on screen")

# What a trainer's page says about its job: the progress bar's text and lines about the queue or the outcome.
TRAINING_STATUS = r"""() => {
  const main = document.querySelector('[data-testid=stMain]');
  if (!main) return '';
  const out = new Set([...main.querySelectorAll('[data-testid=stProgress]')].map(e => e.innerText.trim()));
  const said = /queue|in line|waiting|place|Epoch \d|Loading|Starting|Trained |stopped|failed/i;
  for (const line of main.innerText.split('\n')) if (said.test(line)) out.add(line.trim());
  return [...out].filter(Boolean).slice(0, 3).join(' | ').slice(0, 300);
}"""


@dataclass
class Session:
    """One browser context (one Streamlit session) and what it measured and met."""

    name: str
    context: object
    page: object
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    first_after_return: list[bool] = field(default_factory=list)  # per timed move: the first since coming back
    parts: list[tuple[float, ...]] = field(default_factory=list)  # `split` of each timed move
    sources: dict[str, int] = field(default_factory=dict)  # which decoder drew each timed move's picture
    moves: int = 0
    switches: int = 0
    key: str = "PageUp"  # the slider's next move
    returned: bool = False  # the session came back to the slider page and has not moved since
    switched: float = field(default_factory=time.monotonic)  # when the session last changed page

    def error(self, what: str) -> None:
        """Record `what` went wrong, with the page it was on and the seconds since the session's last switch."""
        path = urlsplit(self.page.url).path
        self.errors.append(f"{self.name} on {path} {time.monotonic() - self.switched:.1f} s after a switch: {what}")

    async def take_page_errors(self) -> None:
        """Move what the page's error watcher recorded into `errors`."""
        try:
            for text in await self.page.evaluate(TAKE_ERRORS):
                self.error(f"on the page: {text!r}")
        except Exception as e:  # a page that is gone has said what it had to
            self.error(f"could not read the page's errors: {str(e).splitlines()[0][:200]}")


async def new_session(browser, name: str) -> Session:
    """A fresh browser context with one page, its console and page errors and the error watcher hooked up."""
    context = await browser.new_context(viewport=VIEWPORT)
    await context.add_init_script(WATCH_ERRORS)
    await context.add_init_script(WATCH_SOCKET)
    page = await context.new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    s = Session(name, context, page)
    page.on("console", lambda m: m.type == "error" and s.error(f"console error: {m.text[:200]} ({m.location['url']})"))
    page.on("pageerror", lambda e: s.error(f"page error: {str(e)[:300]}"))
    return s


async def open_page(s: Session, base: str, path: str) -> None:
    """Open the app at Home, as a person starts (a deep link makes Streamlit's page probe `/<path>/_stcore/…`
    first: two 404s in the console), then switch to `path` through the sidebar."""
    await s.page.goto(base + "/")
    await settle_async(s.page, OPEN_TIMEOUT_MS)
    await switch(s, base, path)


async def switch(s: Session, base: str, path: str) -> None:
    s.switched = time.monotonic()
    await go_async(s.page, base, path)


# --- slider sessions -------------------------------------------------------------------------------------
async def slider_ready(page) -> None:
    """Wait for the Latent Slider page's z0 slider and decoded image, then settle."""
    await page.get_by_role("slider", name="z0").wait_for(state="attached", timeout=OPEN_TIMEOUT_MS)
    await page.wait_for_function(f"() => !!({FIND_IMG})()")  # the decoded picture (browser or server)
    await settle_async(page)


async def open_slider(browser, base: str, name: str, model_key: str) -> Session:
    """A session on the Latent Slider page with model `model_key` active."""
    s = await new_session(browser, name)
    await open_page(s, base, SLIDER_PAGE)
    await slider_ready(s.page)
    await choose_model_async(s.page, model_key)
    await slider_ready(s.page)
    return s


WHERE_SLIDER = """() => { const s = document.querySelector('input[type=range][aria-label="z0"]');
  const a = document.activeElement;
  return s ? `z0 ${s.value} in [${s.min}, ${s.max}], focus on ${a === s ? 'z0' : (a && a.tagName) + ' ' +
    (a && (a.getAttribute('aria-label') || a.className || ''))}` : 'no z0 range input'; }"""


async def move(s: Session) -> float:
    """One PageUp/PageDown on z0 (walking to one end and back); the in-page milliseconds from the keydown to the
    new image's load. Settles the page after it."""
    slider = s.page.get_by_role("slider", name="z0")
    await slider.focus()
    # The range as this slider has it now: the page's own slider (browser_decode's bank, whose top is its last
    # reachable step) takes over from Streamlit's once the decoder has loaded, possibly after the page opened.
    lo, hi = float(await slider.get_attribute("min")), float(await slider.get_attribute("max"))
    s.key = next_key(s.key, float(await slider.input_value()), lo, hi)
    await s.page.evaluate(TAKE_MARKS)  # forget the messages before this move
    await s.page.evaluate(ARM, ["keydown", LAT_TIMEOUT_MS])
    await s.page.keyboard.press(s.key)
    try:
        ms = float(await s.page.evaluate(LATENCY))
    except Exception as e:  # say where the slider was: its value and range, what had the focus
        where = await s.page.evaluate(WHERE_SLIDER)
        raise RuntimeError(f"{str(e).splitlines()[0][:200]} after {s.key}; {where}") from None
    await settle_async(s.page)
    marks, messages, source = await s.page.evaluate(TAKE_MARKS)
    s.sources[source] = s.sources.get(source, 0) + 1
    parts = split(marks, messages)
    if parts:
        s.parts.append(parts)
    s.moves += 1
    s.first_after_return.append(s.returned)
    s.returned = False
    return ms


def split(marks: list[float], messages: list[list]) -> tuple[float, ...] | None:
    """A move's time in PARTS: keydown to the page's first message to the server (the slider's own delay and
    the page's main thread), that message to the server's first and last reply (its queue and the rerun),
    and keydown to the new picture on screen. None when the messages do not fit (no message sent after the
    keydown, or no reply)."""
    t0, t1 = marks
    sent = next((t for kind, t in messages if kind == "s" and t >= t0), None)
    replies = [t for kind, t in messages if kind == "r" and sent is not None and sent < t]
    if sent is None or not replies:
        return None
    return sent - t0, replies[0] - sent, replies[-1] - sent, t1 - t0


async def round_trip(s: Session, base: str, pause: float = 0.0, impatient: bool = False) -> None:
    """Switch to OTHER_PAGE, look at it (until its images loaded, then `pause` seconds; not at all when
    `impatient`) and switch back to the slider page: two page switches."""
    await switch(s, base, OTHER_PAGE)
    if not impatient:
        await s.page.wait_for_function(IMAGES_LOADED)
        await asyncio.sleep(pause)
    s.switches += 1
    await switch(s, base, SLIDER_PAGE)
    await slider_ready(s.page)
    s.switches += 1
    s.returned = True


async def drive(s: Session, base: str, moves: int, switches: int, seconds: float, deadline: float,
                pause: float, impatient: bool = False) -> None:
    """Move the slider (timed) with `pause` seconds after each rerun finished, and do a round trip to
    OTHER_PAGE at an even rate, until `moves` moves and `switches` switches are done and `seconds` have passed,
    or the monotonic `deadline`. A failure is recorded as an error and ends this session's run."""
    period = max(1, moves // max(1, -(-switches // 2))) if switches else 0  # moves between round trips
    start, done = time.monotonic(), (s.moves, s.switches)
    try:
        while time.monotonic() < deadline and (s.moves - done[0] < moves or s.switches - done[1] < switches
                                               or time.monotonic() - start < seconds):
            s.latencies.append(await move(s))
            await asyncio.sleep(pause)
            if period and (s.moves - done[0]) % period == period // 2:
                await round_trip(s, base, pause, impatient)
                await s.take_page_errors()
                await asyncio.sleep(pause)
    except Exception as e:  # Playwright's timeouts and errors, a rejected in-page timer
        s.error(f"stopped after {s.moves - done[0]} moves: {type(e).__name__}: {str(e).splitlines()[0][:300]}")


# --- training sessions -----------------------------------------------------------------------------------
async def type_into(page, key: str, value) -> None:
    """Type `value` into the number input with widget key `key`, commit it with Enter and settle."""
    box = page.locator(f".st-key-{key} input")
    await box.fill(str(value))
    await box.press("Enter")
    await page.wait_for_function("([sel, v]) => document.querySelector(sel)?.value === v",
                                 arg=[f".st-key-{key} input", str(value)])
    await settle_async(page)


async def start_training(browser, base: str, i: int, epochs: int) -> Session:
    """Session `trainer{i}`: on the Train page, a conv AE with latent 3 + i for `epochs` epochs, early stopping
    off, retrained even if cached; clicks Train."""
    s = await new_session(browser, f"trainer{i}")
    page = s.page
    await open_page(s, base, "Train")
    await page.locator(".st-key-trn_go button").wait_for(timeout=OPEN_TIMEOUT_MS)
    await settle_async(page)
    await type_into(page, "trn_latent", 3 + i)
    await type_into(page, "trn_epochs", epochs)
    await page.locator("[data-testid=stExpander] summary").filter(has_text="Advanced").click()
    await type_into(page, "trn_patience", 0)
    await page.locator(".st-key-trn_force label").click()
    await settle_async(page)
    await page.locator(".st-key-trn_go button").click()
    return s


async def training_status(s: Session) -> str:
    try:
        return await s.page.evaluate(TRAINING_STATUS) or "(nothing shown)"
    except Exception as e:
        return f"(unreadable: {type(e).__name__})"


async def wait_training(trainer: Session, timeout_s: float) -> str:
    """Poll the trainer's page every second until it shows an epoch in progress (or `timeout_s`); its status."""
    deadline = time.monotonic() + timeout_s
    status = ""
    while time.monotonic() < deadline:
        status = await training_status(trainer)
        if re.search(r"Epoch \d+/\d+", status):
            return status
        await asyncio.sleep(1)
    trainer.error(f"no epoch in progress within {timeout_s:.0f} s; the page says: {status}")
    return status


async def stop_training(s: Session) -> str:
    """Click the trainer's Stop button if it shows one; what happened."""
    button = s.page.locator("[data-testid=stMain] .st-key-job_stop button").first
    try:
        await button.click(timeout=10_000)
        return "Stop clicked"
    except Exception as e:
        return f"no Stop button ({type(e).__name__}: {str(e).splitlines()[0][:200]})"


# --- memory ------------------------------------------------------------------------------------------------
