"""Helpers for the page tests: open a page headless with Streamlit's AppTest, read its image captions,
make PNG uploads."""

import io
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"


def open_page(page_file_name: str, monkeypatch, models_dir, entry=None) -> AppTest:
    """Run pages/<page_file_name> once with models cached in models_dir, `entry` (if any) as the active model."""
    monkeypatch.setenv("AECORE_MODELS_DIR", str(models_dir))
    at = AppTest.from_file(str(PAGES / page_file_name), default_timeout=120)
    if entry is not None:
        at.session_state["active_model_key"] = entry.key
    return at.run()


def captions(at) -> list[str]:
    """Every image caption on the page, in order."""
    return [c for el in at.image for c in el.captions]


def png(pixels: np.ndarray) -> bytes:
    """uint8 pixels (H, W) or (H, W, C) as PNG file bytes, for uploads."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()
