"""Load benchmark: slider latency of many sessions while others train; errors; server memory growth.

    python bench/bench_load.py [--sessions 8] [--trainers 2] [--seconds 60] [--moves 200] [--switches 20]
        [--idle-moves 60] [--untrained-moves 30] [--pause-ms 300] [--max-seconds 900] [--train-epochs 500]
        [--models-dir DIR] [--impatient] [--quick]

One server (tests/serving.py: `streamlit run app.py` on a free 127.0.0.1 port;
a fresh models folder with a small conv VAE, latent 2, trained first with the
CLI, or --models-dir to reuse one), one headless Chromium driven through
Playwright's async API; every browser context is a separate Streamlit session
(with the workspace the app gives it in its URL). Sessions start at Home and
switch pages through the sidebar, as a person does.

1. Idle: one session moves the z0 slider of the Latent Slider page
   --idle-moves times, paced like a person (--pause-ms after each rerun
   finished), timed in the page as bench_slider_latency.py does: from the
   trusted keydown to the load of the newly decoded image (`performance.now()`
   on both ends, tests/serving.py's ARM).
2. Sessions only (for comparison, no target): --sessions sessions open the
   Latent Slider page and move their sliders at once, --untrained-moves each.
3. Trainings: --trainers more sessions start a training each from the Train
   page (a conv AE of latent 3, 4, …: different runs; --train-epochs epochs,
   early stopping off, "retrain even if cached", so each outlasts the
   measurement; the app trains at most cores-1 at a time and the others wait
   in line: what each trainer's page says is printed).
4. Warm-up under load: every slider session opens Reconstruct and comes back
   (every page it uses opened once); the server's RSS is read.
5. Loaded: the slider sessions move at once, each switching to Reconstruct (it
   looks at it: its images loaded, then the pause) and back at an even rate,
   until every session did --moves moves and --switches switches and
   --seconds have passed (bounded by --max-seconds; the real duration is
   printed). The server's RSS is read again; the trainings are stopped.

Each phase also splits its moves' time (medians) with the page's WebSocket
traffic: keydown→sent (the slider's own delay, the page's main thread),
sent→first and →last reply before the image (the server: its queue and the
rerun), last reply→image loaded (the browser draws it).

Errors, in any session (trainers included): an exception or an error alert on
the page (a watcher in the page records every one that appears), a JS console
error or uncaught page error (a failed request is one), a timeout (the session
stops there); each is printed with its page and the seconds since the
session's last switch. Memory: the server process's RSS (psutil) after the
warm-up and at the end; its child processes (training workers, when training
runs outside it) are printed apart.

Targets (the many-users issue): loaded slider median <= 2x idle, p90 <= 3x
idle, zero errors, server RSS growth < 50 MB. Each result line says PASS or
FAIL; the exit status is 0 either way. --quick: 2 sessions, 20 moves, 2
switches, 1 trainer, 10 idle and 10 sessions-only moves (a few minutes).
--impatient: leave Reconstruct as soon as its rerun finished, before its
images loaded.
"""

from __future__ import annotations

import argparse
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
    LATENCY,
    SLIDER_MODEL,
    VIEWPORT,
    async_chromium,
    choose_model_async,
    go_async,
    machine_line,
    next_key,
    require_browser,
    scratch,
    settle_async,
    stats,
    streamlit_app,
    summary,
    train_with_cli,
)

FULL = {"sessions": 8, "trainers": 2, "seconds": 60, "moves": 200, "switches": 20, "idle_moves": 60,
        "untrained_moves": 30, "max_seconds": 900}
QUICK = {"sessions": 2, "trainers": 1, "seconds": 0, "moves": 20, "switches": 2, "idle_moves": 10,
         "untrained_moves": 10, "max_seconds": 300}
TARGET_MEDIAN, TARGET_P90, TARGET_GROWTH_MB = 2.0, 3.0, 50.0
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
TAKE_MARKS = "() => [window.__latMarks, window.__aeSocket.splice(0)]"
PARTS = ("keydown→sent", "sent→first reply", "sent→last reply", "last reply→image loaded")

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
    parts: list[tuple[float, ...]] = field(default_factory=list)  # `split` of each timed move
    moves: int = 0
    switches: int = 0
    key: str = "PageUp"  # the slider's next move
    lo: float = 0.0
    hi: float = 0.0
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
    await page.locator("[data-testid=stImage]").filter(has_text="decode(z)").locator("img").wait_for()
    await settle_async(page)


async def open_slider(browser, base: str, name: str, model_key: str) -> Session:
    """A session on the Latent Slider page with model `model_key` active."""
    s = await new_session(browser, name)
    await open_page(s, base, SLIDER_PAGE)
    await slider_ready(s.page)
    await choose_model_async(s.page, model_key)
    await slider_ready(s.page)
    slider = s.page.get_by_role("slider", name="z0")
    s.lo, s.hi = float(await slider.get_attribute("min")), float(await slider.get_attribute("max"))
    return s


async def move(s: Session) -> float:
    """One PageUp/PageDown on z0 (walking to one end and back); the in-page milliseconds from the keydown to the
    new image's load. Settles the page after it."""
    slider = s.page.get_by_role("slider", name="z0")
    await slider.focus()
    s.key = next_key(s.key, float(await slider.input_value()), s.lo, s.hi)
    await s.page.evaluate(TAKE_MARKS)  # forget the messages before this move
    await s.page.evaluate(ARM, ["keydown", LAT_TIMEOUT_MS])
    await s.page.keyboard.press(s.key)
    ms = float(await s.page.evaluate(LATENCY))
    marks, messages = await s.page.evaluate(TAKE_MARKS)
    parts = split(marks, messages)
    if parts:
        s.parts.append(parts)
    await settle_async(s.page)
    s.moves += 1
    return ms


def split(marks: list[float], messages: list[list]) -> tuple[float, ...] | None:
    """A move's time in PARTS: keydown to the page's first message to the server (the slider's own delay and
    the page's main thread), that message to the server's first and to its last reply before the image loaded
    (the server: its queue and the rerun), the last reply to the image's load (the page draws it). None when
    the messages do not fit (no message sent after the keydown, or no reply)."""
    t0, t1 = marks
    sent = next((t for kind, t in messages if kind == "s" and t >= t0), None)
    replies = [t for kind, t in messages if kind == "r" and sent is not None and sent < t <= t1]
    if sent is None or not replies:
        return None
    return sent - t0, replies[0] - sent, replies[-1] - sent, t1 - replies[-1]


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
def rss_mb(pid: int) -> tuple[float, int, float]:
    """The RSS of process `pid` in MB, and the count and total RSS (MB) of its descendants (training workers)."""
    import psutil

    proc = psutil.Process(pid)
    kids = []
    for child in proc.children(recursive=True):
        try:
            kids.append(child.memory_info().rss)
        except psutil.Error:
            pass
    return proc.memory_info().rss / 2**20, len(kids), sum(kids) / 2**20


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --- the bench ---------------------------------------------------------------------------------------------
def breakdown(name: str, sessions: list[Session]) -> str:
    """The median of each of PARTS over the sessions' moves, in one line."""
    rows = [p for s in sessions for p in s.parts]
    if not rows:
        return f"  {name}: no move could be split"
    medians = [summary([r[i] for r in rows])["median"] for i in range(len(PARTS))]
    return f"  {name} (medians of {len(rows)} moves, ms): " + ", ".join(
        f"{part} {m:.0f}" for part, m in zip(PARTS, medians))


def reset(sessions: list[Session]) -> None:
    for s in sessions:
        s.latencies.clear()
        s.parts.clear()
        s.moves = s.switches = 0


async def phase(sessions: list[Session], base: str, args, moves: int, switches: int, seconds: float) -> float:
    """All `sessions` drive at once (see `drive`), from zero counts; returns the seconds it took."""
    reset(sessions)
    t = time.monotonic()
    await asyncio.gather(*(drive(s, base, moves, switches, seconds, t + args.max_seconds, args.pause_ms / 1000,
                                 args.impatient) for s in sessions))
    return time.monotonic() - t


async def bench(args, server, model_key: str) -> None:
    base = server.base
    async with async_chromium(EXTRA_ARGS) as browser:
        print(machine_line(browser.version), flush=True)

        # 1. idle: one session alone
        idle = await open_slider(browser, base, "idle", model_key)
        active = await idle.page.locator(".st-key-sidebar_model input[role=combobox]").input_value()
        print(f"model: {active}; first session's URL: {idle.page.url}", flush=True)
        await phase([idle], base, args, WARMUP_MOVES, 0, 0)
        took = await phase([idle], base, args, args.idle_moves, 0, 0)
        print(stats("slider idle", idle.latencies) + f"  (1 session, {took:.0f} s)", flush=True)
        print(breakdown("where it goes, idle", [idle]), flush=True)
        await idle.take_page_errors()
        await idle.context.close()

        # 2. the slider sessions open (and, with --untrained-moves, move without any training for comparison)
        sessions = list(await asyncio.gather(*(open_slider(browser, base, f"slider{i}", model_key)
                                               for i in range(args.sessions))))
        urls = {s.page.url for s in sessions}
        print(f"{len(sessions)} slider sessions open, {len(urls)} distinct URLs (e.g. {sessions[0].page.url})",
              flush=True)
        await phase(sessions, base, args, WARMUP_MOVES, 0, 0)
        untrained = None
        if args.untrained_moves:
            took = await phase(sessions, base, args, args.untrained_moves, 0, 0)
            untrained = [ms for s in sessions for ms in s.latencies]
            print(stats("slider sessions-only", untrained) + f"  ({len(sessions)} sessions, no training, "
                  f"{took:.0f} s; for comparison, no target)", flush=True)
            print(breakdown("where it goes, sessions only", sessions), flush=True)

        # 3. the trainings start, one after the other (the first one trains first)
        trainers = []
        for i in range(args.trainers):
            trainers.append(await start_training(browser, base, i, args.train_epochs))
            await asyncio.sleep(2)
        if trainers:
            await wait_training(trainers[0], TRAIN_START_S)
            await asyncio.sleep(3)  # the others' pages show their place in line (or their epochs)
        for s in trainers:
            print(f"training {s.name} before the sliders: {await training_status(s)}", flush=True)

        # 4. warm-up under load: every slider session opens both pages once; then the server's RSS
        await asyncio.gather(*(warm_up(s, base, args.pause_ms / 1000, time.monotonic() + args.max_seconds)
                               for s in sessions))
        warm, n_workers, workers_warm = rss_mb(server.proc.pid)
        print(f"warm-up done (every session opened {SLIDER_PAGE} and {OTHER_PAGE}): server RSS {warm:.0f} MB; "
              f"{n_workers} child processes {workers_warm:.0f} MB", flush=True)

        # 5. loaded
        at_start = [await training_status(s) for s in trainers]
        duration = await phase(sessions, base, args, args.moves, args.switches, args.seconds)
        end, n_workers, workers_end = rss_mb(server.proc.pid)
        at_end = [await training_status(s) for s in trainers]
        for s in [*sessions, *trainers]:
            await s.take_page_errors()

        # the figures
        loaded = [ms for s in sessions for ms in s.latencies]
        print(f"loaded run: {duration:.0f} s (asked: {args.seconds} s, and at least {args.moves} moves and "
              f"{args.switches} switches per session; hard limit {args.max_seconds} s); per session: "
              + ", ".join(f"{s.moves} moves/{s.switches} switches/median {summary(s.latencies)['median']:.0f} ms"
                          if s.latencies else f"{s.moves} moves" for s in sessions), flush=True)
        i_s = summary(idle.latencies)
        print(stats("slider idle", idle.latencies))
        if untrained:
            print(stats("slider sessions-only", untrained) + f"  ratio median="
                  f"{summary(untrained)['median'] / i_s['median']:.2f}x (no target)")
        if loaded:
            l_s = summary(loaded)
            r_med, r_p90 = l_s["median"] / i_s["median"], l_s["p90"] / i_s["p90"]
            print(stats("slider loaded", loaded) + f"  ({len(sessions)} sessions, {len(trainers)} trainings)")
            print(f"ratio median={r_med:.2f}x (target <= {TARGET_MEDIAN}x, margin {TARGET_MEDIAN - r_med:+.2f}x) "
                  f"{verdict(r_med <= TARGET_MEDIAN)}  p90 ratio={r_p90:.2f}x (target <= {TARGET_P90}x, margin "
                  f"{TARGET_P90 - r_p90:+.2f}x) {verdict(r_p90 <= TARGET_P90)}")
            print(breakdown("where it goes, loaded", sessions))
        else:
            print("slider loaded: no move measured  FAIL")
        errors = [e for s in [idle, *trainers, *sessions] for e in s.errors]
        print(f"errors={len(errors)} (target 0) {verdict(not errors)}")
        for e in errors[:40]:
            print(f"  ! {e}")
        if len(errors) > 40:
            print(f"  ! … {len(errors) - 40} more")
        growth = end - warm
        print(f"server_rss warm={warm:.0f} end={end:.0f} growth={growth:.1f} MB (target < {TARGET_GROWTH_MB:.0f}, "
              f"margin {TARGET_GROWTH_MB - growth:+.1f} MB) {verdict(growth < TARGET_GROWTH_MB)}; child processes "
              f"(training workers): {n_workers}, {workers_warm:.0f} -> {workers_end:.0f} MB")
        for s, a, b in zip(trainers, at_start, at_end):
            print(f"trainings: {s.name} at the start: {a}  ||  at the end: {b}")
        for s in trainers:
            print(f"  {s.name}: {await stop_training(s)}", flush=True)


async def warm_up(s: Session, base: str, pause: float, deadline: float) -> None:
    """Open each page once (a round trip to OTHER_PAGE) and make WARMUP_MOVES untimed moves."""
    try:
        await round_trip(s, base, pause)
    except Exception as e:
        s.error(f"warm-up: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
        return
    await drive(s, base, WARMUP_MOVES, 0, 0, deadline, pause)


def main(argv=None) -> None:
    """Parse the options, train or reuse the small model, serve the app and run both phases."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, help="models folder (default: a fresh temporary one)")
    ap.add_argument("--quick", action="store_true", help="smoke run: " + ", ".join(f"{k}={v}" for k, v in
                                                                                  QUICK.items()))
    for name, default in FULL.items():
        ap.add_argument("--" + name.replace("_", "-"), type=int, help=f"default {default} ({QUICK[name]} with --quick)")
    ap.add_argument("--pause-ms", type=int, default=300, help="pause after each rerun finished, like a person")
    ap.add_argument("--train-epochs", type=int, default=500, help="epochs of each training (the Train page's most)")
    ap.add_argument("--impatient", action="store_true",
                    help=f"leave {OTHER_PAGE} as soon as its rerun finished, before its images loaded")
    args = ap.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    require_browser()
    with scratch(args.models_dir, "load_bench_") as (models, log):
        key = train_with_cli(models, SLIDER_MODEL)
        with streamlit_app(models, log) as server:
            asyncio.run(bench(args, server, key))


if __name__ == "__main__":
    main()
