"""Cache of prepared walk networks: arrays in an ``.npz`` under ``cache_dir() / "networks"``.

Keys hash the caller's parameters (file path, size and time, or the download query; the CRS; the clip box)
with the walk rule and `CACHE_VERSION`, so a change of any of them reads no stale network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyproj

from planner.network.core import StreetNetwork
from planner.network.walk import WALK_RULE
from planner.provenance import Provenance

log = logging.getLogger(__name__)

#: Bump when the prepared arrays change meaning, so that old caches are not read.
CACHE_VERSION = 2  # 2: the provenance record is stored


def cache_key(params: Mapping) -> str:
    """Hash of the parameters, the walk rule and the cache format."""
    payload = {"version": CACHE_VERSION, "rule": {k: sorted(v) for k, v in WALK_RULE.items()}, **params}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cache_path(key: str, label: str) -> Path:
    """The cache file of a key; `label` (a file name or the download kind) makes it readable to a person."""
    from planner.settings import cache_dir

    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in label)[:48]
    return cache_dir() / "networks" / f"{safe}-{key}.npz"


def save_cached(net: StreetNetwork, file: Path) -> StreetNetwork:
    """Write the arrays (geometry as WKB) to an .npz, atomically; return `net` with ``meta["cache_file"]``.

    A failure only logs a warning (and returns `net` unchanged).
    """
    import shapely

    arrays = {
        "node_id": net.node_id,
        "x": net.x,
        "y": net.y,
        "edge_u": net.edge_u,
        "edge_v": net.edge_v,
        "length_m": net.length_m,
    }
    if net.geometry is not None:
        wkb = shapely.to_wkb(net.geometry)
        sizes = np.fromiter((len(b) for b in wkb), np.int64, len(wkb))
        arrays["geometry_wkb"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
        arrays["geometry_offsets"] = np.concatenate([[0], np.cumsum(sizes)])
    header = {
        "crs": net.crs.to_wkt(),
        "source": net.source,
        "dropped_nodes": net.dropped_nodes,
        "dropped_parts": net.dropped_parts,
        "description": net.description,
        "meta": net.meta,
        "provenance": net.provenance.to_records(),
    }
    arrays["header"] = np.array(json.dumps(header, default=str))
    tmp = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npz")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, **arrays)
        tmp.replace(file)
    except OSError as exc:
        log.warning(
            "could not write the network cache %s (%s); the next read prepares the network again", file, exc
        )
        tmp.unlink(missing_ok=True)
        return net
    return dataclasses.replace(net, meta={**net.meta, "cache_file": str(file)})


def load_cached(file: Path) -> StreetNetwork | None:
    """The network stored in `file`, or None when there is none (or it is unreadable: then it is rebuilt)."""
    import zipfile

    import shapely

    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            geometry = None
            if "geometry_wkb" in z.files:
                buffer = z["geometry_wkb"].tobytes()
                offsets = z["geometry_offsets"]
                geometry = shapely.from_wkb(
                    np.array([buffer[a:b] for a, b in itertools.pairwise(offsets)], dtype=object)
                )
            net = StreetNetwork(
                node_id=z["node_id"],
                x=z["x"],
                y=z["y"],
                edge_u=z["edge_u"],
                edge_v=z["edge_v"],
                length_m=z["length_m"],
                crs=pyproj.CRS.from_wkt(header["crs"]),
                geometry=geometry,
                source=header["source"],
                dropped_nodes=header["dropped_nodes"],
                dropped_parts=header["dropped_parts"],
                description=header["description"],
                meta={**header["meta"], "cache_file": str(file), "from_cache": True},
                provenance=Provenance.from_records(header["provenance"]),
            )
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        zipfile.BadZipFile,
        shapely.errors.GEOSException,
    ) as exc:
        log.warning("ignoring the unreadable network cache %s (%s); preparing the network again", file, exc)
        return None
    return net
