"""The app's pages and what the server process needs once: the navigation (app.py runs it) and a malloc cap.

`PAGES` is the table app.py declares the navigation from (each page's script, title and icon);
`declare_once` gives a deep link that is the first visit after start-up the same navigation (see its doc);
`limit_malloc_arenas` keeps the server's memory from spreading over per-thread arenas (runs at import) and
`trim_memory` hands freed memory back to the system (every page's start calls it; it runs at most every
TRIM_EVERY_S seconds).
"""

import functools
import threading
import time
from pathlib import Path

import streamlit as st

HOME_PAGE, TRAIN_PAGE = "home.py", "pages/1_Train.py"
PAGES = (  # (script, title, icon), in the sidebar's order; app.py declares the navigation from this table
    (HOME_PAGE, "Home", "🧭"), (TRAIN_PAGE, "Train", "🏋️"), ("pages/2_Reconstruct.py", "Reconstruct", "🔁"),
    ("pages/3_Denoise.py", "Denoise", "🧽"), ("pages/4_Latent_Scatter.py", "Latent Scatter", "🌌"),
    ("pages/5_Latent_Slider.py", "Latent Slider", "🎚️"), ("pages/6_Morph.py", "Morph", "🎞️"),
    ("pages/7_Compare.py", "Compare", "⚖️"),
)
_DECLARED = {"declared": False}  # whether the navigation was declared in this server process yet


def navigation():
    """Declare the app's pages (`PAGES`; Home is the default) and return the page to run: app.py's job."""
    _DECLARED["declared"] = True
    return st.navigation([st.Page(path, title=title, icon=icon, default=path == HOME_PAGE)
                          for path, title, icon in PAGES])


def declare_once() -> None:
    """Streamlit treats a `pages/` folder the old way until `st.navigation` has run once in the server process:
    if the first visit after start-up is a deep link (say /Latent_Slider), it runs that page directly, never
    app.py, and the sidebar calls Home "app" and has no icons. Then declare the navigation here and rerun:
    from now on every run goes through app.py. (Not when a page runs on its own, e.g. in AppTest.)"""
    from streamlit.runtime.scriptrunner import get_script_run_ctx  # (the running script's context)

    ctx = get_script_run_ctx()
    if _DECLARED["declared"] or ctx is None or Path(ctx.main_script_path).name != "app.py":
        return
    navigation()
    st.rerun()


@functools.cache
def _glibc():
    """The C library when it is glibc (it has mallopt and malloc_trim), else None (not Linux, or musl)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for this server process (Linux only; elsewhere nothing happens).

    Streamlit runs every session's script in its own thread, and glibc gives busy threads their own arenas, up
    to 8 per core: freed memory of large messages (a decoder's weights, inline pictures) stays spread over them.
    Measured with bench/bench_load.py (4 sessions, 80 slider moves and 16 page switches each, 1 training): the
    server grew 185 MB with the default, 29 MB with 2 arenas (MALLOC_ARENA_MAX=2, what this sets at run time)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-8, int(arenas))  # M_ARENA_MAX


MMAP_THRESHOLD = 64 * 1024  # buffers this big or bigger get their own mapping, unmapped when freed


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> None:
    """Fix glibc's mmap threshold for this server process (Linux only). By default glibc raises the threshold to
    the size of every large block freed (up to 32 MB), so after a few page runs the big transient buffers (a
    message with a decoder's weights, rows of inline pictures, PNGs) come from the heap and leave holes that are
    not given back; with a fixed threshold each one is mapped on its own and returned whole when freed."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-3, int(threshold))  # M_MMAP_THRESHOLD (setting it also turns the dynamic raising off)


limit_malloc_arenas()
fix_mmap_threshold()


TRIM_EVERY_S = 10.0  # malloc_trim walks the heap (a few ms): at most this often, whatever the number of sessions
_trim = {"last": 0.0, "lock": threading.Lock()}


def trim_memory() -> None:
    """Give memory that Python freed back to the system (glibc's malloc_trim), at most every TRIM_EVERY_S seconds
    in this process. The big transient objects of a page run (a decoder's weights as JSON, rows of inline
    pictures) otherwise leave the server's RSS higher after every burst of page switches (bench/bench_load.py)."""
    libc = _glibc()
    if libc is None or not _trim["lock"].acquire(blocking=False):
        return
    try:
        now = time.monotonic()
        if now - _trim["last"] >= TRIM_EVERY_S:
            _trim["last"] = now
            libc.malloc_trim(0)
    finally:
        _trim["lock"].release()
