"""Leaflet and Leaflet.markercluster from the ``xstatic-*`` packages, to inline into pages that work offline.

folium links Leaflet and its plugins from public CDNs, so a saved page renders blank without internet
(BASELINE.md). The PyPI packages ``xstatic-leaflet`` and ``xstatic-leaflet-markercluster`` ship the same
files; `offline_head` returns them as one block of ``<style>`` and ``<script>`` tags, with the images that
Leaflet's CSS refers to turned into ``data:`` URIs and the source-map comments removed, so that the page
asks for nothing.
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

_HINT = "install it with `pip install xstatic-leaflet xstatic-leaflet-markercluster` (planner dependencies)"


def _data_dir(package: str) -> Path:
    """Folder of the files of ``xstatic.pkg.<package>``."""
    import importlib

    try:
        module = importlib.import_module(f"xstatic.pkg.{package}")
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"offline maps need the Python package xstatic-{package.replace('_', '-')}; {_HINT}"
        ) from exc
    return Path(module.BASE_DIR)


def _read(package: str, name: str) -> str:
    return (_data_dir(package) / name).read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _no_source_map(text: str) -> str:
    return re.sub(r"^\s*//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)


def _script(js: str) -> str:
    # "</script" inside the code would end the tag early; "<\/" means the same in JavaScript.
    return "<script>\n" + js.replace("</script", "<\\/script") + "\n</script>"


def _style(css: str) -> str:
    return "<style>\n" + css.replace("</style", "<\\/style") + "\n</style>"


@functools.cache
def leaflet_css() -> str:
    """Leaflet's CSS with its images (layer-control icon, default marker) inlined as ``data:`` URIs."""
    images = _data_dir("leaflet") / "images"

    def inline(match: re.Match) -> str:
        return f"url({_data_uri(images / match.group(1))})"

    return re.sub(r"url\(images/([\w.-]+\.png)\)", inline, _read("leaflet", "leaflet.css"))


@functools.cache
def offline_head(*, cluster: bool = True) -> str:
    """``<style>`` and ``<script>`` tags holding Leaflet (and Leaflet.markercluster) for a page's ``<head>``.

    The default marker icon of Leaflet is set to inlined images too, so that markers a user adds later
    (``folium.Marker``) show without internet.
    """
    images = _data_dir("leaflet") / "images"
    parts = [
        _style(leaflet_css()),
        _script(_no_source_map(_read("leaflet", "leaflet.js"))),
        _script(
            "L.Icon.Default.imagePath = '';\n"
            "L.Icon.Default.mergeOptions({"
            f"iconUrl: '{_data_uri(images / 'marker-icon.png')}', "
            f"iconRetinaUrl: '{_data_uri(images / 'marker-icon-2x.png')}', "
            f"shadowUrl: '{_data_uri(images / 'marker-shadow.png')}'}});"
        ),
    ]
    if cluster:
        parts += [
            _style(_read("leaflet_markercluster", "MarkerCluster.css")),
            _style(_read("leaflet_markercluster", "MarkerCluster.Default.css")),
            _script(_no_source_map(_read("leaflet_markercluster", "leaflet.markercluster.js"))),
        ]
    return "\n".join(parts)


#: CDN addresses of Leaflet.markercluster for online pages (the versions the xstatic packages hold).
MARKERCLUSTER_CDN_JS = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.4.1/leaflet.markercluster.js"
)
MARKERCLUSTER_CDN_CSS = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.4.1/MarkerCluster.css",
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.4.1/MarkerCluster.Default.css",
)
