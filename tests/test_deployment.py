"""What the project ships around the code: the dependency floors and the Streamlit server settings."""

import re
from importlib.metadata import version
from pathlib import Path

import tomllib
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def floors() -> dict[str, Version]:
    """The lower bound of each requirement in requirements.txt."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)>=([0-9.]+)", line.strip())
        if m:
            out[m.group(1).lower()] = Version(m.group(2))
    return out


def test_floors_exclude_releases_with_published_advisories():
    f = floors()
    assert f["keras"] >= Version("3.14")  # safe-mode bypasses fixed up to 3.14
    assert f["streamlit"] >= Version("1.54")
    assert f["pillow"] >= Version("11.3")


def test_installed_versions_meet_the_floors():
    for name, floor in floors().items():
        assert Version(version(name)) >= floor, name


def test_the_readme_names_the_format_allow_list_as_pillows_protection():
    readme = (ROOT / "README.md").read_text()
    assert "## Security" in readme and "PNG, JPEG, BMP, GIF and WebP" in readme and "Pillow < 12" in readme


def test_server_settings_cap_uploads_and_keep_protections_on():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert 20 <= server["maxUploadSize"] <= 100  # a zip dataset is the largest legitimate upload
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
