"""Views you can link to: the active model and a page's settings kept in the URL's query string.

Every model page writes its model into the link (`?ws=…&model=KEY`); the
Latent Slider adds its slider values and grid settings, Morph its images and
animation settings. Opening such a link in another browser (a new session)
restores the view: the link's model becomes the active one, and the page's
widgets start from the link's values. A link to a model this server (or the
link's workspace) does not have says so, and its settings are left out, since
they belong to that model.

A value in the link is news only when it differs from what this session wrote
last (`WRITTEN`): the URL is rewritten after every run, so a session's own
moves never come back to it as a link, and a new session (a shared link, a
reload) takes all of them. Each page parameter is a `Param`: its name in the
link, the widget key it sets, and how to read and write it; a value that does
not read ("Expected …, received …") is left out with a warning, and the
widget keeps its default.

Example (a page, before its widgets are drawn):

    steps = links.Param("steps", "mph_steps", links.integer(2, 120))
    links.restore([steps])        # a new link's value becomes the widget's
    ...                           # the widgets
    links.publish([steps])        # the widget's value goes into the link
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import streamlit as st

MODEL_PARAM = "model"  # the link's model: its cache key
WRITTEN = "links_written"  # session state: {parameter: value} this session wrote into the link last
REFUSED = "links_refused"  # session state: the link's unknown model (its settings are not restored)


class Param(NamedTuple):
    """One of a page's settings in its link: `name` in the query string, the widget `key` it sets ("": none, the
    page uses what `restore` returns), `read` (text -> value, raising ValueError "Expected …, received …") and
    `write` (value -> text, default `str`)."""

    name: str
    key: str
    read: Callable[[str], Any]
    write: Callable[[Any], str] = str


# --- readers: text -> value, or ValueError saying what was expected ----------------------------------
def integer(lo: int, hi: int) -> Callable[[str], int]:
    """A reader of a whole number in [lo, hi]."""
    def read(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise ValueError(f"Expected a whole number from {lo} to {hi}, received {text!r}.")
        return v
    return read


def number(lo: float, hi: float) -> Callable[[str], float]:
    """A reader of a number in [lo, hi]."""
    def read(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = float("nan")
        if not lo <= v <= hi:  # nan fails too
            raise ValueError(f"Expected a number from {lo:g} to {hi:g}, received {text!r}.")
        return v
    return read


def choice(options: Sequence) -> Callable[[str], Any]:
    """A reader of one of `options` (compared as text; the option itself is returned)."""
    by_text = {str(o): o for o in options}

    def read(text: str):
        if text not in by_text:
            raise ValueError(f"Expected one of {', '.join(by_text)}, received {text!r}.")
        return by_text[text]
    return read


def text(limit: int) -> Callable[[str], str]:
    """A reader of free text of at most `limit` characters (the page checks what it means)."""
    def read(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"Expected at most {limit} characters, received {len(value)}.")
        return value
    return read


def flag(text: str) -> bool:
    """A reader of a yes/no: 1 or 0."""
    if text not in ("0", "1"):
        raise ValueError(f"Expected 1 or 0, received {text!r}.")
    return text == "1"


def write_flag(v) -> str:
    return "1" if v else "0"


def numbers(n: int, lo: Sequence[float], hi: Sequence[float]) -> Callable[[str], list[float]]:
    """A reader of `n` comma-separated numbers, each inside its [lo, hi]."""
    def read(text: str) -> list[float]:
        parts = text.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != n or not all(a <= v <= b for v, a, b in zip(values, lo, hi)):
            raise ValueError(f"Expected {n} comma-separated numbers inside the sliders' ranges, received "
                             f"{text[:80]!r}.")
        return values
    return read


def write_numbers(values) -> str:
    return ",".join(f"{float(v):.6g}" for v in values)


# --- the model ------------------------------------------------------------------------------------
def linked_model(keys: Sequence[str]) -> str | None:
    """The model a new link asks for, when this session sees it (its key); else None. A link to a model that is
    not among `keys` gets a warning, and the page's settings in that link are left out (`restore`)."""
    st.session_state.pop(REFUSED, None)
    asked = st.query_params.get(MODEL_PARAM)
    if asked is None or asked == st.session_state.get(WRITTEN, {}).get(MODEL_PARAM):
        return None  # no link, or the session's own
    if asked in keys:
        return asked
    st.session_state[REFUSED] = asked
    st.warning(f"This link is to the model `{asked[:40]}`, which this server does not have (or not in this "
               "link's workspace): it may have been deleted, or trained on another server. Showing your active "
               "model instead; the link's settings are left out.", icon="⚠️")
    return None


# --- the page's settings ---------------------------------------------------------------------------
def restore(params: Sequence[Param]) -> dict[str, Any]:
    """Set the widgets of `params` to a new link's values (before the widgets are drawn). Values the session
    wrote itself, or of a link to an unknown model, are left alone. Returns the values restored, by name; a value
    that does not read gets a warning saying what was expected."""
    if st.session_state.get(REFUSED):
        return {}
    written, done = st.session_state.get(WRITTEN, {}), {}
    for p in params:
        text = st.query_params.get(p.name)
        if text is None or text == written.get(p.name):
            continue
        try:
            done[p.name] = p.read(text)
        except ValueError as e:
            st.warning(f"This link's `{p.name}` is left out: {e}", icon="⚠️")
            continue
        if p.key:
            st.session_state[p.key] = done[p.name]
    return done


def publish(params: Sequence[Param], values: dict[str, Any] | None = None) -> None:
    """Write the widgets' values into the link, or, when given, `values` (by parameter name: what is in effect;
    a parameter missing there leaves the link). Only what changed is sent to the browser."""
    written = st.session_state.setdefault(WRITTEN, {})
    for p in params:
        v = st.session_state.get(p.key) if values is None else values.get(p.name)
        text = None if v is None else p.write(v)
        if text is None:
            if p.name in st.query_params:
                del st.query_params[p.name]
            written.pop(p.name, None)
            continue
        if st.query_params.get(p.name) != text:
            st.query_params[p.name] = text
        written[p.name] = text


def publish_model(key: str) -> None:
    """Write the active model into the link."""
    publish([Param(MODEL_PARAM, "", str)], {MODEL_PARAM: key})
