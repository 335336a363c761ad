"""Helpers for the page tests: open any page headless with Streamlit's AppTest (one way for all of them),
find its pictures by what they show, make PNG uploads."""

import io
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

import ui
from aecore.workspace import new_id

ROOT = Path(__file__).resolve().parents[1]
LIVE_PICTURE = "aecore_live_decoder"  # browser_decode's component


def open_page(name: str, monkeypatch, models_dir, entry=None, workspace: str | None = None) -> AppTest:
    """Run a page once, with models cached in `models_dir`, `entry` (if any) as the active model, in a workspace.

    Args:
        name: the script, from the repository root: "app.py" (Home, through the app's navigation) or a page
            such as "pages/2_Reconstruct.py" (run on its own).
        workspace: the workspace id in the link (`?ws=`), as a reload or a shared link gives it. Default: a new one.
    """
    monkeypatch.setenv("AECORE_MODELS_DIR", str(models_dir))
    at = AppTest.from_file(str(ROOT / name), default_timeout=120)
    at.query_params["ws"] = workspace or new_id()
    if entry is not None:
        at.session_state[ui.ACTIVE] = entry.key
    return at.run()


class Picture(NamedTuple):
    """One picture on the page: its caption and URL, each in a list as AppTest's image element has them (one
    `st.image` may show a row of pictures, as `ui.show_row` does)."""
    captions: list[str]
    value: list[str]


def images(at, section: str | None = None, prefix: str = "") -> list[Picture]:
    """The page's pictures in order (a row shown by one `st.image` counts picture by picture; a live picture of
    `browser_decode` counts with the server's picture it carries): only those under the subheader `section` when
    given, and only those whose caption starts with `prefix`."""
    found, current = [], None
    for node in at.main:
        if node.type == "subheader":
            current = node.value
        elif node.type == "image" and (section is None or current == section):
            found += [Picture([c], [url]) for c, url in zip(node.captions, node.value) if c.startswith(prefix)]
        elif node.type == "bidi_component" and node.proto.component_name == LIVE_PICTURE:
            data = json.loads(node.proto.json)  # browser_decode.live_picture: the server's picture is its fallback
            if data.get("role") == "picture" and (section is None or current == section) \
                    and data["caption"].startswith(prefix):
                found.append(Picture([data["caption"]], [data["fallback"]]))
    return found


def captions(at, section: str | None = None, prefix: str = "") -> list[str]:
    """The captions of `images(at, section, prefix)`, in order."""
    return [el.captions[0] for el in images(at, section, prefix)]


def png(pixels: np.ndarray) -> bytes:
    """uint8 pixels (H, W) or (H, W, C) as PNG file bytes, for uploads."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def trigger(at: AppTest, component: str, event: str, value) -> AppTest:
    """Run the page again as if the components-v2 element `component` (its registered name) had sent the trigger
    `event` with `value` from the browser (AppTest has no browser: the trigger joins the next run's widget states)."""
    (comp,) = [c for c in at.get("bidi_component") if c.proto.component_name == component]
    tree = at._tree
    states = tree.get_widget_states

    def with_trigger():
        ws = states()
        w = ws.widgets.add()
        w.id = f"$$STREAMLIT_INTERNAL_KEY_{comp.proto.id}__events"
        w.json_trigger_value = json.dumps([{"event": event, "value": value}])
        return ws

    tree.get_widget_states = with_trigger
    return at.run()
