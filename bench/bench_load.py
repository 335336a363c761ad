"""Load benchmark: slider latency of many sessions while others train; errors; server memory growth.

    python bench/bench_load.py [--sessions 8] [--trainers 2] [--seconds 60] [--moves 200] [--switches 20]
        [--idle-moves 60] [--untrained-moves 30] [--pause-ms 300] [--max-seconds 900] [--train-epochs 500]
        [--models-dir DIR] [--shared-browser] [--impatient] [--quick]

One server (tests/serving.py: `streamlit run app.py` on a free 127.0.0.1 port;
a fresh models folder with a small conv VAE, latent 2, trained first with the
CLI, or --models-dir to reuse one), headless Chromium driven through
Playwright's async API, a Chromium process per session as each person has
their own browser (--shared-browser: one for all, where every page's frames
queue on its one compositor); every browser context is a separate Streamlit session
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

The slider latency is the time to the new picture on screen: painted by the
browser's own decoder (browser_decode.js) where it runs, else the server's
image after the rerun. Each phase also splits its moves (medians) with the
page's WebSocket traffic: keydown→sent (the slider's own delay, the page's main
thread), sent→first and →last reply (the server: its queue and the rerun, which
still runs after every move), keydown→picture on screen; and it counts which
decoder drew the pictures.

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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `tests.serving`

from load_sessions import (  # noqa: E402  (bench/ is on sys.path: this script's folder)
    EXTRA_ARGS,
    OTHER_PAGE,
    PARTS,
    SLIDER_PAGE,
    TRAIN_START_S,
    WARMUP_MOVES,
    Session,
    drive,
    open_slider,
    round_trip,
    start_training,
    stop_training,
    training_status,
    wait_training,
)

from tests.serving import (  # noqa: E402
    SLIDER_MODEL,
    async_chromium,
    machine_line,
    require_browser,
    scratch,
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
    sources: dict[str, int] = {}
    for s in sessions:
        for k, n in s.sources.items():
            sources[k] = sources.get(k, 0) + n
    decoded = "pictures decoded by: " + ", ".join(f"{k} {n}" for k, n in sorted(sources.items(), key=str))
    if not rows:  # the page's own sliders: a move sends nothing until the sliders rest
        return f"  {name}: no move sent a message before the next one (no rerun per move); {decoded}"
    medians = [summary([r[i] for r in rows])["median"] for i in range(len(PARTS))]
    return f"  {name} (medians of {len(rows)} moves, ms): " + ", ".join(
        f"{part} {m:.0f}" for part, m in zip(PARTS, medians)) + f"; {decoded}"


def reset(sessions: list[Session]) -> None:
    for s in sessions:
        s.latencies.clear()
        s.first_after_return.clear()
        s.parts.clear()
        s.sources.clear()
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
    async with async_chromium(EXTRA_ARGS, per_context=not args.shared_browser) as browser:
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
            first = [ms for s in sessions for ms, f in zip(s.latencies, s.first_after_return) if f]
            rest = [ms for s in sessions for ms, f in zip(s.latencies, s.first_after_return) if not f]
            if first:
                print(stats("  the first move after coming back to the page", first))
                print(stats("  every other move", rest))
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
    ap.add_argument("--shared-browser", action="store_true",
                    help="all sessions in one Chromium (its one compositor paints every page's frames); default: a "
                         "Chromium per session, as each person has their own browser")
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
