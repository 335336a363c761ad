"""The README's screenshots: the home page and the seven pages of the running app, at 1400x1000.

    python bench/screenshots.py [--models-dir DIR] [--out docs/screenshots]

Trains a conv VAE with a 2-D code, 8 epochs on 10,000 digits, with the CLI
(about a minute on 2 cores; reused when --models-dir already holds it), and a
conv AE of the same size on the same digits (for Compare), serves
the app with tests/serving.py, makes that model active on the Latent Slider
page in headless Chromium ($AECORE_BROWSER, default /usr/bin/chromium;
Playwright never downloads a browser), then visits every page through the
sidebar and writes <out>/<name>.png: home, train, reconstruct, denoise,
latent_scatter, latent_slider, morph, compare. A page that shows an exception is
reported with a `!!` line (its screenshot is still saved).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository root: `tests.serving`

from tests.serving import go, open_latent_slider, require_browser, scratch, settle, train_with_cli  # noqa: E402

MODEL = ["--kind", "vae", "--arch", "conv", "--latent-dim", "2", "--epochs", "8", "--limit", "10000"]
OTHER = ["--kind", "ae", "--arch", "conv", "--latent-dim", "2", "--epochs", "8", "--limit", "10000"]  # for Compare
PAGES = {"home": "", "train": "Train", "reconstruct": "Reconstruct", "denoise": "Denoise",
         "latent_scatter": "Latent_Scatter", "latent_slider": "Latent_Slider", "morph": "Morph",
         "compare": "Compare"}


def screenshots(page, base: str, out_dir: Path) -> None:
    """Visit every page in PAGES through the sidebar (same session) and save `out_dir`/<name>.png of each once
    its charts and images have drawn; prints a line per file, and a `!!` line for a page showing an exception."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, path in PAGES.items():
        go(page, base, path)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)  # charts and images finish drawing
        settle(page)
        errors = page.locator("[data-testid=stException]")
        if errors.count():
            print(f"  !! {name}: exception on the page: {errors.first.inner_text()[:300]}")
        page.screenshot(path=str(out_dir / f"{name}.png"))
        print(f"  saved {out_dir / (name + '.png')}")


def main(argv=None) -> None:
    """Parse the options (--models-dir, default a fresh temporary folder; --out, default docs/screenshots),
    train or reuse the model and save the screenshots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, help="models folder (default: a fresh temporary one)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="folder for the PNG files")
    args = ap.parse_args(argv)
    require_browser()
    with scratch(args.models_dir, "screenshots_") as (models, log):
        train_with_cli(models, OTHER)
        key = train_with_cli(models, MODEL)
        with open_latent_slider(models, log, key) as (server, _, page):
            screenshots(page, server.base, args.out)


if __name__ == "__main__":
    main()
