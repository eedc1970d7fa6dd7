"""Tests of planner.network: walk filter, readers, projection, largest part, caches, online downloads."""

from __future__ import annotations

import bz2
import logging
import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from planner import network as nw
from planner._errors import DataError, InputError
from planner.network import (
    StreetNetwork,
    clip_network,
    from_networkx,
    largest_part,
    network_from_bbox,
    network_from_place,
    network_from_polygon,
    read_network,
    to_networkx,
    walkable,
)
from planner.network import read as network_read
from planner.network.walk import osmnx_walk_tags

DATA = Path(__file__).parent / "data"
SMALL = DATA / "net_small.osm"

#: What net_small.osm must give (see the comment at its top): OSM node ids and segments as OSM id pairs.
SMALL_NODES = [1, 2, 3, 4, 5, 11, 12, 16, 18]
SMALL_SEGMENTS = sorted([(1, 2), (2, 3), (3, 4), (3, 4), (4, 5), (1, 11), (3, 12), (12, 16), (5, 18)])
SMALL_COORDS = {  # lon, lat of the kept nodes, copied from the file
    1: (123.4000, 41.8000),
    2: (123.4010, 41.8000),
    3: (123.4020, 41.8000),
    4: (123.4020, 41.8010),
    5: (123.4030, 41.8010),
    11: (123.4000, 41.8010),
    12: (123.4020, 41.7990),
    16: (123.4030, 41.7990),
    18: (123.4030, 41.8020),
}


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """Every test gets its own cache folder: no test reads another's cache or the user's."""
    monkeypatch.setenv("PLANNER_CACHE", str(tmp_path / "cache"))


def segments(net: StreetNetwork) -> list[tuple[int, int]]:
    """Segments as sorted pairs of node ids."""
    a, b = net.node_id[net.edge_u], net.node_id[net.edge_v]
    return sorted(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True))


def geodesic_m(a: int, b: int) -> float:
    lon1, lat1 = SMALL_COORDS[a]
    lon2, lat2 = SMALL_COORDS[b]
    return pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2]


def osmnx_graph(path: Path) -> nx.MultiDiGraph:
    """osmnx's own unsimplified graph of a file, with the walk-filter tags kept."""
    with osmnx_walk_tags() as ox:
        return ox.graph_from_xml(path, simplify=False, retain_all=True)


# ------------------------------------------------------------ walk filter

WALK_CASES = [
    # highway, foot, access, service, area, walkable
    ("footway", None, None, None, None, True),
    ("path", None, None, None, None, True),
    ("steps", None, None, None, None, True),
    ("pedestrian", None, None, None, None, True),
    ("living_street", None, None, None, None, True),
    ("residential", None, None, None, None, True),
    ("service", None, None, None, None, True),
    ("primary", None, None, None, None, True),
    ("primary_link", None, None, None, None, True),
    ("track", None, None, None, None, True),
    ("cycleway", None, None, None, None, True),
    ("cycleway", "no", None, None, None, False),
    ("motorway", None, None, None, None, False),
    ("motorway_link", None, None, None, None, False),
    ("trunk", None, None, None, None, False),
    ("trunk_link", None, None, None, None, False),
    ("trunk", "yes", None, None, None, True),
    ("motorway", "designated", None, None, None, True),
    ("trunk", "no", None, None, None, False),
    ("construction", None, None, None, None, False),
    ("proposed", None, None, None, None, False),
    ("abandoned", None, None, None, None, False),
    ("raceway", None, None, None, None, False),
    ("bus_guideway", None, None, None, None, False),
    ("construction", "yes", None, None, None, False),  # foot=yes does not make a building site walkable
    (None, None, None, None, None, False),  # a building or land-use way
    (None, "yes", None, None, None, False),
    ("residential", "no", None, None, None, False),
    ("residential", "use_sidepath", None, None, None, False),
    ("residential", None, "no", None, None, False),
    ("residential", None, "private", None, None, False),
    ("residential", "yes", "private", None, None, True),
    ("residential", "permissive", "no", None, None, True),
    ("residential", "designated", "no", None, None, True),
    ("residential", None, "destination", None, None, True),
    ("residential", None, "private;delivery", None, None, False),
    ("service", None, None, "private", None, False),
    ("service", "yes", None, "private", None, True),
    ("service", None, None, "parking_aisle", None, True),
    ("pedestrian", None, None, None, "yes", False),
    ("pedestrian", None, None, None, "no", True),
    ("footway", "yes;no", None, None, None, False),  # any forbidding value forbids
]


def test_walkable_rule_on_hand_written_tags():
    cols = ["highway", "foot", "access", "service", "area"]
    table = pd.DataFrame([c[:5] for c in WALK_CASES], columns=cols)
    expected = np.array([c[5] for c in WALK_CASES])
    got = walkable(table)
    assert got.dtype == bool
    wrong = [WALK_CASES[i] for i in np.flatnonzero(got != expected)]
    assert not wrong
    # row by row gives the same answer (the per-value lookup does not mix rows)
    for i in range(len(table)):
        assert walkable(table.iloc[[i]])[0] == expected[i]


def test_walkable_missing_columns_nan_and_lists():
    only_highway = pd.DataFrame({"highway": ["footway", "motorway", None, np.nan, ""]})
    assert walkable(only_highway).tolist() == [True, False, False, False, False]
    # lists, as a simplified osmnx graph merges ways: every highway value must be walkable
    merged = pd.DataFrame(
        {
            "highway": [["footway", "residential"], ["footway", "motorway"], "['footway', 'steps']"],
            "foot": [None, None, None],
        }
    )
    assert walkable(merged).tolist() == [True, False, True]
    assert walkable(pd.DataFrame({"highway": ["trunk"], "foot": [["no", "yes"]]})).tolist() == [False]
    assert walkable(pd.DataFrame({"highway": ["trunk"], "foot": [["yes"]]})).tolist() == [True]
    assert walkable(pd.DataFrame(columns=["highway"])).shape == (0,)
    with pytest.raises(InputError, match="`tags` must be a pandas DataFrame"):
        walkable({"highway": ["footway"]})


def test_walkable_does_not_mutate_its_input():
    table = pd.DataFrame({"highway": [["footway", "steps"], "motorway"], "foot": ["yes;no", None]})
    before = table.copy(deep=True)
    walkable(table)
    pd.testing.assert_frame_equal(table, before)


# ------------------------------------------------------------ OSM XML


def test_small_osm_keeps_exactly_the_walkable_ways(caplog):
    with caplog.at_level(logging.INFO, logger="planner.network"):
        net = read_network(SMALL)
    assert net.node_id.tolist() == SMALL_NODES
    assert segments(net) == SMALL_SEGMENTS
    assert net.dropped_parts == 1  # way 105, nodes 9 and 10
    assert net.dropped_nodes == 2
    assert net.source == "osm-xml"
    assert net.description == "net_small.osm"
    assert net.crs.to_epsg() == 32651  # Shenyang: UTM 51N
    assert not net.stand_in
    # lengths: UTM lengths of straight segments match the geodesic within UTM's scale error (< 0.1 %)
    for i in range(net.n_edges):
        a, b = int(net.node_id[net.edge_u[i]]), int(net.node_id[net.edge_v[i]])
        assert net.length_m[i] == pytest.approx(geodesic_m(a, b), rel=1e-3)
    assert np.allclose(shapely.length(net.edge_geometries()), net.length_m)
    # one INFO line, the summary
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("planner.network")]
    assert lines == [net.summary()]
    assert "9 nodes, 9 edges, EPSG:32651, 2 nodes in 1 small parts dropped" in lines[0]


def test_small_osm_edges_are_ordered_and_oriented():
    net = read_network(SMALL)
    assert (net.edge_u <= net.edge_v).all()
    order = np.lexsort((net.length_m, net.edge_v, net.edge_u))
    assert (order == np.arange(net.n_edges)).all()
    # the geometry runs from edge_u to edge_v
    geoms = net.edge_geometries()
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    end = shapely.get_coordinates(shapely.get_point(geoms, -1))
    assert np.allclose(start, np.column_stack([net.x[net.edge_u], net.y[net.edge_u]]))
    assert np.allclose(end, np.column_stack([net.x[net.edge_v], net.y[net.edge_v]]))
    # parallel segments are kept; adjacency takes the shorter (here equal)
    i3, i4 = SMALL_NODES.index(3), SMALL_NODES.index(4)
    assert net.adjacency[i3, i4] == pytest.approx(geodesic_m(3, 4), rel=1e-3)


def write_small_as_pbf(path: Path) -> Path:
    """net_small.osm written as an OSM PBF with pyrosm's writer (the same nodes, ways and tags)."""
    import xml.etree.ElementTree as ET

    pbf_export = pytest.importorskip("pyrosm.pbf_export")
    root = ET.parse(SMALL).getroot()
    nodes = root.findall("node")
    records = {
        "id": np.array([int(n.get("id")) for n in nodes]),
        "lat": np.array([float(n.get("lat")) for n in nodes]),
        "lon": np.array([float(n.get("lon")) for n in nodes]),
        "tags": np.array([None] * len(nodes), dtype=object),
    }
    ways = [
        {
            "id": int(w.get("id")),
            "refs": [int(r.get("ref")) for r in w.findall("nd")],
            "tags": {t.get("k"): t.get("v") for t in w.findall("tag")},
        }
        for w in root.findall("way")
    ]
    bounds = (records["lon"].min(), records["lat"].min(), records["lon"].max(), records["lat"].max())
    pbf_export.write_pbf_from_records(records, ways, [], str(path), bounds)
    return path


def test_pbf_and_xml_of_the_same_data_give_the_same_network(tmp_path):
    """One walk rule for every format: pyrosm's and osmnx's readers end in the same network."""
    pbf = read_network(write_small_as_pbf(tmp_path / "small.osm.pbf"))
    xml = read_network(SMALL)
    assert pbf.source == "osm-pbf"
    assert pbf.node_id.tolist() == SMALL_NODES
    for name in ("node_id", "edge_u", "edge_v"):
        assert np.array_equal(getattr(pbf, name), getattr(xml, name))
    assert np.allclose(pbf.x, xml.x) and np.allclose(pbf.y, xml.y)
    assert np.allclose(pbf.length_m, xml.length_m)
    assert (pbf.dropped_nodes, pbf.dropped_parts) == (xml.dropped_nodes, xml.dropped_parts) == (2, 1)


def test_osm_bz2_and_xml_endings_give_the_same_network(tmp_path):
    packed = tmp_path / "small.osm.bz2"
    packed.write_bytes(bz2.compress(SMALL.read_bytes()))
    plain_xml = tmp_path / "small.xml"
    shutil.copy(SMALL, plain_xml)
    want = read_network(SMALL)
    for path in (packed, plain_xml):
        net = read_network(path)
        assert net.source == "osm-xml"
        assert net.description == path.name
        assert np.array_equal(net.node_id, want.node_id)
        assert np.array_equal(net.edge_u, want.edge_u) and np.array_equal(net.edge_v, want.edge_v)
        assert np.allclose(net.length_m, want.length_m)


def test_crs_override_and_rejections():
    net = read_network(SMALL, crs="EPSG:32650")  # the neighbouring UTM zone, still metric
    assert net.crs.to_epsg() == 32650
    utm51 = read_network(SMALL)
    # 6.4 degrees off zone 50's central meridian the UTM scale is about 1.0035: the local zone is better
    ratio = net.length_m / utm51.length_m
    assert np.allclose(ratio, 1.0035, atol=5e-4)
    with pytest.raises(InputError, match="`crs` WGS 84 is geographic"):
        read_network(SMALL, crs=4326)
    with pytest.raises(InputError, match="`crs` 'not a crs' is not a CRS pyproj understands"):
        read_network(SMALL, crs="not a crs")
    with pytest.raises(InputError, match="not a projected CRS in metres"):
        read_network(SMALL, crs="EPSG:2263")  # New York state plane, US feet


# ------------------------------------------------------------ GraphML


def test_graphml_round_trip(tmp_path):
    import osmnx as ox

    path = tmp_path / "small.graphml"
    ox.save_graphml(osmnx_graph(SMALL), path)
    net = read_network(path)
    want = read_network(SMALL)
    assert net.source == "graphml"
    assert net.n_nodes == want.n_nodes
    assert segments(net) == SMALL_SEGMENTS
    assert np.allclose(net.length_m, want.length_m)


def test_simplified_graphml_keeps_curved_geometry(tmp_path):
    """Filter, then simplify with osmnx: LineStrings measured in metres, oriented u -> v, same length."""
    import osmnx as ox

    G = osmnx_graph(SMALL)
    rows = list(G.edges(keys=True, data=True))
    ok = walkable(pd.DataFrame({t: [d.get(t) for *_, d in rows] for t in nw.WALK_TAGS}))
    G.remove_edges_from([r[:3] for r, keep in zip(rows, ok, strict=True) if not keep])
    G.remove_nodes_from(list(nx.isolates(G)))
    path = tmp_path / "simple.graphml"
    ox.save_graphml(ox.simplify_graph(G), path)
    net = read_network(path)
    want = read_network(SMALL)
    assert net.geometry is not None
    assert shapely.get_num_coordinates(net.geometry).max() > 2  # some edges bend
    assert np.allclose(shapely.length(net.geometry), net.length_m)
    start = shapely.get_coordinates(shapely.get_point(net.geometry, 0))
    end = shapely.get_coordinates(shapely.get_point(net.geometry, -1))
    assert np.allclose(start, np.column_stack([net.x[net.edge_u], net.y[net.edge_u]]))
    assert np.allclose(end, np.column_stack([net.x[net.edge_v], net.y[net.edge_v]]))
    assert net.length_m.sum() == pytest.approx(want.length_m.sum(), rel=1e-9)
    assert set(net.node_id.tolist()) < set(SMALL_NODES)  # degree-2 nodes merged away
    assert (net.dropped_nodes, net.dropped_parts) == (2, 1)


def test_bad_graphml_is_a_data_error(tmp_path):
    path = tmp_path / "broken.graphml"
    path.write_text("<graphml><graph><node id='1'></graph>")
    with pytest.raises(DataError, match=r"'broken.graphml' could not be read as GraphML"):
        read_network(path)


# ------------------------------------------------------------ bad inputs


def test_missing_file_unknown_type_and_folder(tmp_path):
    with pytest.raises(InputError, match=r"`path` '.*nowhere.osm.pbf' does not exist"):
        read_network(tmp_path / "nowhere.osm.pbf")
    shp = tmp_path / "streets.shp"
    shp.write_text("x")
    with pytest.raises(InputError, match=r"'streets.shp' has an unknown file type; give a .osm.pbf"):
        read_network(shp)
    folder = tmp_path / "folder.osm"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_network(folder)


def test_text_file_renamed_pbf(tmp_path):
    path = tmp_path / "notes.osm.pbf"
    path.write_text("these are my notes, not OpenStreetMap\n" * 10)
    with pytest.raises(DataError, match=r"'notes.osm.pbf' is not an OSM PBF file .*give a .osm.pbf, .osm"):
        read_network(path)


def test_truncated_pbf(tmp_path, helsinki_pbf):
    path = tmp_path / "cut.osm.pbf"
    path.write_bytes(Path(helsinki_pbf).read_bytes()[:300_000])
    with pytest.raises(DataError, match=r"'cut.osm.pbf' could not be read as an OSM PBF file .*truncated"):
        read_network(path)


def test_xml_that_is_not_osm(tmp_path):
    with pytest.raises(DataError, match=r"'net_not_osm.xml' is not an OSM file \(its root element is <gpx>"):
        read_network(DATA / "net_not_osm.xml")
    text = tmp_path / "words.osm"
    text.write_text("just words")
    with pytest.raises(DataError, match=r"'words.osm' is not an OSM file \(not readable as XML"):
        read_network(text)
    not_bz2 = tmp_path / "plain.osm.bz2"
    shutil.copy(SMALL, not_bz2)
    with pytest.raises(DataError, match=r"'plain.osm.bz2' is not an OSM file"):
        read_network(not_bz2)


def test_only_motorways_means_no_walkable_ways():
    with pytest.raises(DataError, match=r"'net_motorway.osm' has no walkable ways \(2 street segments read"):
        read_network(DATA / "net_motorway.osm")


# ------------------------------------------------------------ Helsinki PBF


@pytest.fixture(scope="module")
def helsinki(helsinki_pbf) -> StreetNetwork:
    return read_network(helsinki_pbf)


def test_helsinki_pbf_loads(helsinki):
    net = helsinki
    assert net.n_nodes > 1000 and net.n_edges > 1000
    assert net.crs.to_epsg() == 32635  # UTM 35N
    assert net.source == "osm-pbf"
    assert net.description == "Helsinki.osm.pbf"
    assert np.allclose(shapely.length(net.edge_geometries()), net.length_m)
    assert (net.length_m >= 0).all() and net.length_m.max() < 2000
    n_parts, _ = connected_components(net.adjacency, directed=False)
    assert n_parts == 1
    assert net.dropped_parts > 0 and net.dropped_nodes > 0
    assert len(np.unique(net.node_id)) == net.n_nodes
    assert (np.diff(net.node_id) > 0).all()  # nodes by ascending OSM id
    # the centre of Helsinki is around 385,000 E 6,672,000 N in UTM 35N
    assert 380_000 < np.median(net.x) < 390_000 and 6_668_000 < np.median(net.y) < 6_676_000


def test_helsinki_against_an_independent_oracle(helsinki, helsinki_pbf):
    """Filter pyrosm's raw segments, measure them geodesically, keep networkx's largest component."""
    import pyrosm

    nodes, edges = pyrosm.OSM(helsinki_pbf).get_network(network_type="all", nodes=True)
    lonlat = dict(zip(nodes["id"], zip(nodes["lon"], nodes["lat"], strict=True), strict=True))
    geod = pyproj.Geod(ellps="WGS84")
    ok = walkable(edges[[c for c in nw.WALK_TAGS if c in edges.columns]])  # the rule itself is tested above
    G = nx.MultiGraph()
    for u, v in zip(edges["u"][ok], edges["v"][ok], strict=True):
        (x1, y1), (x2, y2) = lonlat[u], lonlat[v]
        G.add_edge(u, v, length=geod.inv(x1, y1, x2, y2)[2])
    G.remove_edges_from(
        [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if u == v and d["length"] == 0]
    )
    parts = sorted(nx.connected_components(G), key=len, reverse=True)
    core = G.subgraph(parts[0])
    assert sorted(core.nodes) == helsinki.node_id.tolist()
    assert core.number_of_edges() == helsinki.n_edges
    assert len(parts) - 1 == helsinki.dropped_parts
    total = sum(d["length"] for *_, d in core.edges(data=True))
    assert helsinki.length_m.sum() == pytest.approx(total, rel=2e-3)  # UTM scale error only


def test_pbf_keeps_cycleways_unlike_pyrosm_walking(helsinki, helsinki_pbf):
    """One rule for every format: pyrosm's own walking filter drops cycleways; ours keeps them."""
    import pyrosm

    _, edges = pyrosm.OSM(helsinki_pbf).get_network(network_type="all", nodes=True)
    cycle = edges[(edges["highway"] == "cycleway") & (edges["foot"].fillna("") != "no")]
    kept = set(helsinki.node_id.tolist())
    both_ends = np.isin(cycle["u"], list(kept)) & np.isin(cycle["v"], list(kept))
    assert both_ends.sum() > 100


# ------------------------------------------------------------ largest part


def test_largest_part_of_a_connected_net_is_itself(tiny_net):
    assert largest_part(tiny_net) is tiny_net


def test_largest_part_drops_the_smaller_parts_and_ties_go_to_the_smallest_id(tiny_net):
    # add two separate pairs (ids 900-901, 50-51) and one isolated node (id 7): 4 parts besides the grid
    x = np.concatenate([tiny_net.x, [0.0, 10.0, 20.0, 30.0, 40.0]])
    y = np.concatenate([tiny_net.y, [0.0, 0.0, 0.0, 0.0, 0.0]])
    ids = np.concatenate([tiny_net.node_id, [900, 901, 50, 51, 7]])
    u = np.concatenate([tiny_net.edge_u, [9, 11]])
    v = np.concatenate([tiny_net.edge_v, [10, 12]])
    length = np.concatenate([tiny_net.length_m, [10.0, 10.0]])
    net = StreetNetwork(ids, x, y, u, v, length, tiny_net.crs, dropped_nodes=3, dropped_parts=1)
    out = largest_part(net)
    assert np.array_equal(out.node_id, tiny_net.node_id)
    assert np.array_equal(out.edge_u, tiny_net.edge_u) and np.array_equal(out.edge_v, tiny_net.edge_v)
    assert out.dropped_nodes == 3 + 5 and out.dropped_parts == 1 + 3
    assert net.n_nodes == 14  # input untouched
    # two equal parts: the one with the smallest node id wins
    pairs = StreetNetwork(
        np.array([900, 901, 50, 51]),
        np.zeros(4),
        np.arange(4.0),
        np.array([0, 2]),
        np.array([1, 3]),
        np.array([1.0, 1.0]),
        tiny_net.crs,
    )
    assert largest_part(pairs).node_id.tolist() == [50, 51]


# ------------------------------------------------------------ networkx


def test_to_networkx_then_from_networkx_round_trip(helsinki):
    G = to_networkx(helsinki)
    assert G.number_of_nodes() == helsinki.n_nodes
    assert G.graph["crs"] == helsinki.crs
    assert G.nodes[0]["node_id"] == helsinki.node_id[0] and G.nodes[0]["x"] == helsinki.x[0]
    # edge length = the shortest parallel segment
    adj = helsinki.adjacency
    for a, b, d in list(G.edges(data=True))[:200]:
        assert d["length"] == adj[a, b]
    back = from_networkx(G)
    assert back.source == "graph"
    assert np.array_equal(back.node_id, np.arange(helsinki.n_nodes))  # nx keys are positions
    assert np.allclose(back.x, helsinki.x) and np.allclose(back.y, helsinki.y)
    assert back.n_edges == G.number_of_edges()
    # straight segments: lengths are re-measured from coordinates, equal to the originals
    assert abs(back.adjacency - adj).max() < 1e-9


def test_from_networkx_directed_osmnx_graph_matches_the_file():
    """Two directions of a two-way way are one segment; the oneway primary is one segment too."""
    G = osmnx_graph(SMALL)
    assert G.is_directed()
    net = from_networkx(G, source="osm-xml")
    assert segments(net) == SMALL_SEGMENTS
    assert net.source == "osm-xml"


def test_from_networkx_projected_and_plain_graphs():
    import osmnx as ox

    want = read_network(SMALL)
    projected = ox.project_graph(osmnx_graph(SMALL))  # osmnx picks UTM 51N too
    net = from_networkx(projected)
    assert net.crs.to_epsg() == 32651
    assert np.allclose(net.length_m, want.length_m)
    # a plain undirected graph without tags: no walk filter, one parallel edge per (u, v) of nx.Graph
    H = nx.Graph(crs="EPSG:32651")
    H.add_node(10, x=0.0, y=0.0)
    H.add_node(11, x=300.0, y=400.0)
    H.add_node(12, x=300.0, y=0.0)
    H.add_edge(10, 11, length=1.0)  # ignored: lengths come from the coordinates
    H.add_edge(11, 12)
    net = from_networkx(H)
    assert net.node_id.tolist() == [10, 11, 12]
    assert net.length_m.tolist() == [500.0, 400.0]
    # string keys are numbered in graph order
    S = nx.relabel_nodes(H, {10: "a", 11: "b", 12: "c"})
    assert from_networkx(S).node_id.tolist() == [0, 1, 2]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 9),
    pairs=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8), st.booleans()), min_size=1, max_size=25),
)
def test_directed_and_undirected_views_of_a_graph_agree_with_networkx(n, pairs):
    """Random multigraphs: the directed view (two directions, or one for one-way edges) gives the segments of
    the undirected one, and the kept part is networkx's largest connected component."""
    undirected = nx.MultiGraph(crs="EPSG:32651")
    directed = nx.MultiDiGraph(crs="EPSG:32651")
    for k in range(n):
        for G in (undirected, directed):
            G.add_node(k, x=500_000.0 + 37.0 * k, y=4_600_000.0 + 11.0 * (k * k % 7))
    for i, (p, q, oneway) in enumerate(pairs):
        a, b = p % n, q % n
        undirected.add_edge(a, b, osmid=i)
        directed.add_edge(a, b, osmid=i, reversed=False)
        if not oneway:
            directed.add_edge(b, a, osmid=i, reversed=True)
    real = [(a, b) for a, b in undirected.edges() if a != b]  # zero-length self-loops are dropped
    assume(real)
    one = from_networkx(undirected)
    two = from_networkx(directed)
    assert segments(one) == segments(two)
    simple = nx.Graph(real)
    parts = sorted(nx.connected_components(simple), key=lambda c: (-len(c), min(c)))
    assert one.node_id.tolist() == sorted(parts[0])
    assert one.n_edges == sum(1 for a, b in real if a in parts[0])
    assert one.dropped_parts == len(parts) - 1  # nodes without edges are not street nodes: not counted
    assert one.dropped_nodes == sum(len(c) for c in parts[1:])


def test_from_networkx_rejections():
    H = nx.Graph()
    H.add_edge(1, 2)
    with pytest.raises(InputError, match=r"`G` has no CRS in G.graph\['crs'\]; set it to 'EPSG:4326'"):
        from_networkx(H)
    H.graph["crs"] = "EPSG:32651"
    with pytest.raises(InputError, match=r"`G` has nodes without numeric x/y attributes: 1, 2 \(2 in all\)"):
        from_networkx(H)
    empty = nx.Graph(crs="EPSG:32651")
    empty.add_node(1, x=0.0, y=0.0)
    with pytest.raises(DataError, match="'networkx graph of 1 nodes' has no edges"):
        from_networkx(empty)
    with pytest.raises(InputError, match="`G` must be a networkx graph"):
        from_networkx({"a": 1})
    with pytest.raises(InputError, match="`source` 'web' is not one of"):
        from_networkx(H, source="web")
    H.graph["crs"] = "EPSG:2263"
    nx.set_node_attributes(H, {1: 0.0, 2: 100.0}, "x")
    nx.set_node_attributes(H, 0.0, "y")
    with pytest.raises(InputError, match=r"`the graph's CRS` .* is not a projected CRS in metres"):
        from_networkx(H)


def test_from_networkx_does_not_mutate_the_graph():
    G = osmnx_graph(SMALL)
    before = (list(G.nodes(data=True)), list(G.edges(keys=True, data=True)))
    from_networkx(G)
    after = (list(G.nodes(data=True)), list(G.edges(keys=True, data=True)))
    assert before == after


# ------------------------------------------------------------ caches


def test_file_cache_second_read_loads_the_arrays(tmp_path, caplog):
    path = tmp_path / "small.osm"
    shutil.copy(SMALL, path)
    first = read_network(path, cache=True)
    files = list((tmp_path / "cache" / "networks").glob("*.npz"))
    assert len(files) == 1
    with caplog.at_level(logging.INFO, logger="planner.network"):
        second = read_network(path, cache=True)
    assert second.meta.get("from_cache") and not first.meta.get("from_cache")
    assert first.meta["cache_file"] == second.meta["cache_file"] == str(files[0])
    assert "from the cache" in caplog.records[-1].getMessage()
    for name in ("node_id", "x", "y", "edge_u", "edge_v", "length_m"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    assert second.crs == first.crs
    assert (second.dropped_nodes, second.dropped_parts, second.source, second.description) == (
        first.dropped_nodes,
        first.dropped_parts,
        first.source,
        first.description,
    )
    # another CRS is another key; a changed file is another key
    read_network(path, cache=True, crs=32650)
    assert len(list((tmp_path / "cache" / "networks").glob("*.npz"))) == 2
    path.write_text(path.read_text().replace('lat="41.8020" lon="123.4030"', 'lat="41.8030" lon="123.4030"'))
    moved = read_network(path, cache=True)
    assert not moved.meta.get("from_cache")
    assert moved.length_m.sum() > first.length_m.sum()


def test_file_cache_off_by_default_for_small_files_and_keeps_geometry(tmp_path, monkeypatch):
    import osmnx as ox

    read_network(SMALL)
    assert not (tmp_path / "cache" / "networks").exists()
    monkeypatch.setattr(network_read, "CACHE_MIN_BYTES", 100)  # now the small file counts as big
    G = ox.simplify_graph(osmnx_graph(SMALL))
    path = tmp_path / "simple.graphml"
    ox.save_graphml(G, path)
    first = read_network(path)
    second = read_network(path)
    assert second.meta["from_cache"]
    assert first.geometry is not None
    assert all(a.equals_exact(b, 0) for a, b in zip(first.geometry, second.geometry, strict=True))


def test_unreadable_cache_is_rebuilt(tmp_path, caplog):
    path = tmp_path / "small.osm"
    shutil.copy(SMALL, path)
    read_network(path, cache=True)
    (cached,) = (tmp_path / "cache" / "networks").glob("*.npz")
    cached.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="planner.network"):
        net = read_network(path, cache=True)
    assert net.node_id.tolist() == SMALL_NODES
    assert any("ignoring the unreadable network cache" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------ online


@pytest.fixture
def fake_download(monkeypatch):
    """Replace the osmnx download functions by reading net_small.osm; record every call."""
    import osmnx as ox

    calls = []

    def make(kind):
        def download(arg, **kwargs):
            calls.append((kind, arg, kwargs))
            return ox.graph_from_xml(SMALL, simplify=False, retain_all=True)

        return download

    for kind in ("place", "polygon", "bbox"):
        monkeypatch.setattr(ox, f"graph_from_{kind}", make(kind))
    return calls


def test_network_from_place_downloads_once_then_uses_the_cache(fake_download, caplog):
    first = network_from_place("Heping District, Shenyang, China")
    assert len(fake_download) == 1
    kind, arg, kwargs = fake_download[0]
    assert (kind, arg) == ("place", "Heping District, Shenyang, China")
    assert kwargs["network_type"] == "walk" and kwargs["simplify"] is False and kwargs["retain_all"] is True
    assert kwargs["custom_filter"] == list(nw.OVERPASS_FILTERS)
    # the walk filter applied to the download: foot=no (kept by osmnx's tags only if asked) is gone
    assert first.source == "osm-online"
    assert first.node_id.tolist() == SMALL_NODES and segments(first) == SMALL_SEGMENTS
    with caplog.at_level(logging.INFO, logger="planner.network"):
        second = network_from_place("Heping District, Shenyang, China")
    assert len(fake_download) == 1  # no second download
    assert "not downloaded" in caplog.records[-1].getMessage()
    assert np.array_equal(second.length_m, first.length_m)
    network_from_place("Heping District, Shenyang, China", cache=False)
    assert len(fake_download) == 2
    network_from_place("Shenhe District, Shenyang, China")
    assert len(fake_download) == 3  # another query, another key


def test_cached_only_never_downloads(fake_download):
    bbox = (123.39, 41.79, 123.42, 41.82)
    assert network_from_bbox(bbox, cached_only=True) is None
    assert network_from_place("Shenyang", cached_only=True) is None
    assert not fake_download
    fetched = network_from_bbox(bbox)
    again = network_from_bbox(bbox, cached_only=True)
    assert len(fake_download) == 1
    assert np.array_equal(again.node_id, fetched.node_id)
    with pytest.raises(InputError, match="`cached_only=True` reads the cache, which `cache=False` turns off"):
        network_from_bbox(bbox, cache=False, cached_only=True)


def test_network_from_polygon_and_bbox(fake_download):
    box = shapely.box(123.39, 41.79, 123.42, 41.82)
    net = network_from_polygon(box)
    assert fake_download[-1][0] == "polygon" and fake_download[-1][1].equals(box)
    assert net.node_id.tolist() == SMALL_NODES
    network_from_polygon(box)
    assert len(fake_download) == 1
    net = network_from_bbox((123.39, 41.79, 123.42, 41.82), crs=32650)
    assert fake_download[-1][:2] == ("bbox", (123.39, 41.79, 123.42, 41.82))
    assert net.crs.to_epsg() == 32650


def test_online_rejections_and_failures(fake_download, monkeypatch):
    import osmnx as ox

    with pytest.raises(InputError, match="`bbox` must be four numbers"):
        network_from_bbox((1, 2, 3))
    with pytest.raises(InputError, match=r"`bbox` .* is not \(west, south, east, north\)"):
        network_from_bbox((123.42, 41.79, 123.39, 41.82))
    with pytest.raises(InputError, match="`polygon_wgs84` must be a non-empty shapely Polygon"):
        network_from_polygon("Shenyang")
    with pytest.raises(InputError, match="outside lon/lat degrees; it looks projected"):
        network_from_polygon(shapely.box(500_000, 4_600_000, 501_000, 4_601_000))
    with pytest.raises(InputError, match="`query` must be a place name"):
        network_from_place("  ")
    assert not fake_download

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    with pytest.raises(
        DataError, match=r"downloading the walk network of OSM place 'Shenyang' failed .*read_network"
    ):
        network_from_place("Shenyang")


# ------------------------------------------------------------ clipping to a study area

HELSINKI_CORE = (24.935, 60.160, 24.955, 60.172)  # west, south, east, north


def test_read_network_clips_a_pbf_to_a_bbox_while_reading(helsinki_pbf):
    import pyproj

    full = read_network(helsinki_pbf)
    part = read_network(helsinki_pbf, bbox=HELSINKI_CORE)
    assert 100 < part.n_nodes < full.n_nodes
    lon, lat = pyproj.Transformer.from_crs(part.crs, 4326, always_xy=True).transform(part.x, part.y)
    west, south, east, north = HELSINKI_CORE
    assert ((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)).all()
    # the same streets as clipping the whole network afterwards
    after = clip_network(full, HELSINKI_CORE)
    assert sorted(part.node_id.tolist()) == sorted(after.node_id.tolist())
    assert part.length_m.sum() == pytest.approx(after.length_m.sum())
    assert part.dropped_nodes > 0
    assert part.meta["bbox"] == list(HELSINKI_CORE)


def test_clip_network_by_hand(tiny_net):
    import pyproj

    to_lonlat = pyproj.Transformer.from_crs(tiny_net.crs, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(tiny_net.x, tiny_net.y)
    # a box around the bottom two rows (nodes 0-5): edge 4-5 is missing, so 5 hangs on 2 only
    bbox = (lon.min() - 1e-4, lat.min() - 1e-4, lon.max() + 1e-4, (lat[3] + lat[6]) / 2)
    clipped = clip_network(tiny_net, bbox)
    assert sorted(clipped.node_id.tolist()) == [100, 101, 102, 103, 104, 105]
    assert clipped.n_edges == 6  # 0-1, 1-2, 3-4, 0-3, 1-4, 2-5
    assert clipped.dropped_nodes == 3
    with pytest.raises(DataError, match=r"no walkable street .* inside bbox"):
        clip_network(tiny_net, (10.0, 10.0, 10.1, 10.1))
    with pytest.raises(InputError, match=r"is not \(west, south, east, north\)"):
        clip_network(tiny_net, (1.0, 2.0, 0.5, 3.0))


def test_provenance_of_real_streets_survives_the_cache(tmp_path):
    from planner.provenance import provenance_of

    path = tmp_path / "small.osm"
    shutil.copy(SMALL, path)
    first = read_network(path, cache=True)
    (source,) = provenance_of(first).sources
    assert source.input == "streets" and source.real
    assert source.origin == "small.osm" and "OpenStreetMap" in source.licence
    assert source.date.startswith("file of 20")
    second = read_network(path, cache=True)
    assert second.meta["from_cache"] and second.provenance == first.provenance
    assert not provenance_of(first).is_stand_in
