/* planner what-if page: open or close sites and see coverage change, in the browser, offline.
 *
 * Reads the JSON in <script id="wi-data"> written by planner/whatif.py (typed arrays in base64) and sets
 * window.plannerWhatIf (documented in planner/whatif.py):
 *   open(id[, tier]), close(id[, tier]), toggle(id[, tier]), reset(), totals(), districts([tier]),
 *   openSites(), csv(), scenarioSnippet().
 * A demand point is covered by a tier when an open site of that tier has it in its reach list (walk within the
 * tier's threshold); covered weights are summed in table order in float64.
 */
(function () {
  'use strict';

  var DATA = JSON.parse(document.getElementById('wi-data').textContent);
  var TYPES = {u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, i32: Int32Array, f64: Float64Array};
  var STATUS = ['candidate', 'new', 'existing', 'upgraded'];
  var C = DATA.colours;

  function decode(text, type) {
    var bin = atob(text), n = bin.length, bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) { bytes[i] = bin.charCodeAt(i); }
    var T = TYPES[type];
    return new T(bytes.buffer, 0, n / T.BYTES_PER_ELEMENT);
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function pct(x) { return isFinite(x) ? (100 * x).toFixed(1) + ' %' : 'n/a'; }
  function signedPts(x) { return (x >= 0 ? '+' : '\u2212') + Math.abs(100 * x).toFixed(1) + ' pt'; }
  function num(x) { return Math.round(x).toLocaleString('en-US'); }

  // ---------------------------------------------------------------------------------------------------------
  // the model: per tier, open sites, how many open sites reach each point, the nearest one's walk

  var D = DATA.demand, n = D.n;
  var w = decode(D.w, 'f64'), area = decode(D.area, 'u16');
  var lat = decode(D.lat, 'i32'), lon = decode(D.lon, 'i32');
  var totalWeight = 0, areaWeight = new Float64Array(DATA.areas.length);
  for (var i0 = 0; i0 < n; i0++) { totalWeight += w[i0]; areaWeight[area[i0]] += w[i0]; }

  function Tier(t, k) {
    this.k = k; this.name = t.name; this.threshold = t.threshold_min; this.kind = t.kind;
    this.colour = DATA.tier_colours[k % DATA.tier_colours.length];
    this.ids = t.ids; this.names = t.names; this.ns = t.ids.length;
    this.lat = decode(t.lat, 'i32'); this.lon = decode(t.lon, 'i32');
    this.status = decode(t.status, 'u8'); this.plan = decode(t.plan, 'u8');
    this.excluded = decode(t.excluded, 'u8');
    this.ptr = decode(t.reach.indptr, 'u32');
    this.idx = decode(t.reach.idx, t.reach.idx_type);
    this.walk = decode(t.reach.walk_ds, t.reach.walk_type);
    this.pos = {};
    for (var j = 0; j < this.ns; j++) { this.pos[this.ids[j]] = j; }
    // demand -> sites (transpose of the reach lists), to find the next nearest site when one closes
    var tptr = new Uint32Array(n + 1), m = this.idx.length;
    for (var q = 0; q < m; q++) { tptr[this.idx[q] + 1]++; }
    for (var i = 0; i < n; i++) { tptr[i + 1] += tptr[i]; }
    var fill = tptr.slice(0, n), tsite = new Uint32Array(m), twalk = new Float64Array(m);
    for (j = 0; j < this.ns; j++) {
      for (q = this.ptr[j]; q < this.ptr[j + 1]; q++) {
        var at = fill[this.idx[q]]++;
        tsite[at] = j; twalk[at] = this.walk[q];
      }
    }
    this.tptr = tptr; this.tsite = tsite; this.twalk = twalk;
    this.open = new Uint8Array(this.ns); this.cnt = new Int32Array(n); this.best = new Float64Array(n);
    this.reset();
    this.planCovered = new Uint8Array(n);
    for (i = 0; i < n; i++) { this.planCovered[i] = this.cnt[i] > 0 ? 1 : 0; }
    this.sum();
    this.planWeight = this.covered; this.planArea = this.areaCovered.slice();
  }
  Tier.prototype.reset = function () {
    this.open.fill(0); this.cnt.fill(0); this.best.fill(Infinity);
    for (var j = 0; j < this.ns; j++) { if (this.plan[j]) { this.setOpen(j, true); } }
  };
  Tier.prototype.setOpen = function (j, value) {
    if (!!this.open[j] === value) { return; }
    this.open[j] = value ? 1 : 0;
    var idx = this.idx, walk = this.walk, cnt = this.cnt, best = this.best;
    for (var q = this.ptr[j]; q < this.ptr[j + 1]; q++) {
      var i = idx[q];
      if (value) {
        cnt[i]++;
        if (walk[q] < best[i]) { best[i] = walk[q]; }
      } else {
        cnt[i]--;
        if (walk[q] <= best[i]) { best[i] = this.nearest(i); }
      }
    }
  };
  Tier.prototype.nearest = function (i) {
    var b = Infinity;
    for (var q = this.tptr[i]; q < this.tptr[i + 1]; q++) {
      if (this.open[this.tsite[q]] && this.twalk[q] < b) { b = this.twalk[q]; }
    }
    return b;
  };
  Tier.prototype.sum = function () {
    var s = 0, a = new Float64Array(DATA.areas.length), cnt = this.cnt;
    for (var i = 0; i < n; i++) { if (cnt[i] > 0) { s += w[i]; a[area[i]] += w[i]; } }
    this.covered = s; this.areaCovered = a;
    var o = 0;
    for (var j = 0; j < this.ns; j++) { o += this.open[j]; }
    this.openCount = o;
  };
  Tier.prototype.label = function () { return this.name + ' (' + this.threshold + ' min)'; };

  var tiers = DATA.tiers.map(function (t, k) { return new Tier(t, k); });
  var byName = {};
  tiers.forEach(function (t) { byName[t.name] = t; });
  var shown = tiers[0];

  function find(id, tierName) {
    id = String(id);
    if (tierName !== undefined && tierName !== null) {
      var t = byName[tierName];
      if (!t) { throw new Error('unknown tier ' + JSON.stringify(tierName) + '; tiers are ' + Object.keys(byName).join(', ')); }
      if (!(id in t.pos)) { throw new Error('tier ' + t.name + ' has no site ' + JSON.stringify(id)); }
      return [t, t.pos[id]];
    }
    var hits = tiers.filter(function (t) { return id in t.pos; });
    if (!hits.length) { throw new Error('no site ' + JSON.stringify(id) + ' in any tier; use an id of the run (text)'); }
    if (hits.length > 1) {
      throw new Error('site ' + JSON.stringify(id) + ' is in tiers ' + hits.map(function (t) { return t.name; }).join(', ') + '; give the tier: open(id, tier)');
    }
    return [hits[0], hits[0].pos[id]];
  }

  // ---------------------------------------------------------------------------------------------------------
  // the map

  var banner = document.getElementById('wi-banner');
  function placeBanner() {
    document.documentElement.style.setProperty('--wi-banner-h', (banner ? banner.offsetHeight : 0) + 'px');
  }
  placeBanner();
  window.addEventListener('resize', placeBanner);
  var map = L.map('wi-map', {preferCanvas: true, zoomControl: false, maxZoom: 19, zoomSnap: 0.25});
  L.control.zoom({position: 'bottomright'}).addTo(map);
  L.control.scale({position: 'bottomright', imperial: false, maxWidth: 120}).addTo(map);
  // the view is set before any layer is added (polygons need it to clip)
  var all = [];
  tiers.forEach(function (t) { for (var j = 0; j < t.ns; j++) { all.push([t.lat[j] / 1e6, t.lon[j] / 1e6]); } });
  for (var i2 = 0; i2 < n; i2++) { all.push([lat[i2] / 1e6, lon[i2] / 1e6]); }
  if (all.length) { map.fitBounds(L.latLngBounds(all), {padding: [20, 20]}); } else { map.setView([0, 0], 2); }

  map.createPane('wi-sites').style.zIndex = 450;
  var siteRenderer = L.canvas({pane: 'wi-sites', padding: 0.2});

  var osm = L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
    maxZoom: 19, attribution: DATA.osm_attribution});
  // data from OpenStreetMap are credited (ODbL) with the tiles or without them; the same text shows once
  if (DATA.osm_data) { map.attributionControl.addAttribution(DATA.osm_attribution); }
  var none = L.layerGroup();
  none.addTo(map);

  function shareColour(s) {
    var b = DATA.share_breaks, k = 0;
    while (k < b.length && s > b[k]) { k++; }
    return DATA.share_colours[k];
  }
  var districts = null, areaIndex = {};
  DATA.areas.forEach(function (a, k) { areaIndex[a] = k; });
  if (DATA.shapes) {
    districts = L.geoJSON(DATA.shapes, {
      style: function () { return {weight: 1.2, color: '#555', fillOpacity: 0.35}; },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(function () {
          var k = areaIndex[f.properties.name];
          if (k === undefined) { return esc(f.properties.name); }
          var s = shown.areaCovered[k] / areaWeight[k], p = shown.planArea[k] / areaWeight[k];
          return '<b>' + esc(f.properties.name) + '</b><br>older residents ' + num(areaWeight[k]) +
            '<br>' + esc(shown.label()) + ': ' + pct(s) + ' (plan ' + pct(p) + ', ' + signedPts(s - p) + ')';
        }, {sticky: true});
      }
    }).addTo(map);
  }

  var wref = 1;
  (function () {
    var s = Array.prototype.slice.call(w).sort(function (a, b) { return a - b; });
    wref = s.length ? Math.max(s[Math.floor(0.95 * (s.length - 1))], 1e-9) : 1;
  })();
  var radius = new Float64Array(n);
  for (var i1 = 0; i1 < n; i1++) { radius[i1] = 2 + 4 * Math.sqrt(Math.min(w[i1] / wref, 1)); }

  // classes: 0-3 minute classes of covered points, 4 not covered, 5 newly covered, 6 no longer covered
  var CLASS_COLOURS = C.minutes.concat([C.uncovered, C.gained, C.lost]);
  var DRAW_ORDER = [4, 3, 2, 1, 0, 5, 6];
  function pointClass(t, i) {
    if (t.cnt[i] > 0) {
      if (!t.planCovered[i]) { return 5; }
      var m = t.best[i] / 600;
      return m <= 5 ? 0 : m <= 10 ? 1 : m <= 15 ? 2 : 3;
    }
    return t.planCovered[i] ? 6 : 4;
  }

  var Points = L.Path.extend({
    options: {interactive: false, weight: 0.8},
    initialize: function () {
      this._x = new Float64Array(n); this._y = new Float64Array(n);
      this._cls = new Uint8Array(n);
    },
    _project: function () {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var i = 0; i < n; i++) {
        var p = this._map.latLngToLayerPoint([lat[i] / 1e6, lon[i] / 1e6]);
        this._x[i] = p.x; this._y[i] = p.y;
        if (p.x < x0) { x0 = p.x; } if (p.x > x1) { x1 = p.x; }
        if (p.y < y0) { y0 = p.y; } if (p.y > y1) { y1 = p.y; }
      }
      this._pxBounds = n ? L.bounds([x0 - 8, y0 - 8], [x1 + 8, y1 + 8]) : undefined;
    },
    _update: function () { if (this._map) { this._updatePath(); } },
    _empty: function () { return !n; },
    _updatePath: function () {
      var rd = this._renderer;
      if (!rd._drawing) { return; }
      var ctx = rd._ctx, b = rd._redrawBounds || rd._bounds, x = this._x, y = this._y, cls = this._cls;
      for (var i = 0; i < n; i++) { cls[i] = pointClass(shown, i); }
      ctx.lineWidth = this.options.weight;
      for (var o = 0; o < DRAW_ORDER.length; o++) {
        var k = DRAW_ORDER[o];
        ctx.beginPath();
        for (i = 0; i < n; i++) {
          if (cls[i] !== k) { continue; }
          var r = radius[i];
          if (b && (x[i] + r < b.min.x || x[i] - r > b.max.x || y[i] + r < b.min.y || y[i] - r > b.max.y)) {
            continue;
          }
          ctx.moveTo(x[i] + r, y[i]);
          ctx.arc(x[i], y[i], r, 0, Math.PI * 2, false);
        }
        ctx.globalAlpha = k >= 5 ? 0.95 : 0.75; ctx.fillStyle = CLASS_COLOURS[k]; ctx.fill();
        if (k >= 5) { ctx.globalAlpha = 0.9; ctx.strokeStyle = '#fff'; ctx.stroke(); }  // changed points stand out
      }
      ctx.globalAlpha = 1;
    },
    // repaint only the rectangle around the points one site reaches (a toggle changes nothing else)
    redrawReach: function (t, j) {
      if (!this._map || t.ptr[j + 1] === t.ptr[j]) { return; }
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var q = t.ptr[j]; q < t.ptr[j + 1]; q++) {
        var i = t.idx[q];
        if (this._x[i] < x0) { x0 = this._x[i]; } if (this._x[i] > x1) { x1 = this._x[i]; }
        if (this._y[i] < y0) { y0 = this._y[i]; } if (this._y[i] > y1) { y1 = this._y[i]; }
      }
      var rd = this._renderer, pad = 8;
      rd._redrawBounds = rd._redrawBounds || new L.Bounds();
      rd._redrawBounds.extend(L.point(x0 - pad, y0 - pad));
      rd._redrawBounds.extend(L.point(x1 + pad, y1 + pad));
      rd._redrawRequest = rd._redrawRequest || L.Util.requestAnimFrame(rd._redraw, rd);
    },
    nearestTo: function (p, tol) {
      var hit = -1, bestD = Infinity;
      for (var i = 0; i < n; i++) {
        var dx = p.x - this._x[i], dy = p.y - this._y[i], d = dx * dx + dy * dy, r = radius[i] + tol;
        if (d <= r * r && d < bestD) { bestD = d; hit = i; }
      }
      return hit;
    }
  });
  var points = new Points().addTo(map);

  function describePoint(i) {
    var s = '<b>demand point ' + esc(D.ids[i]) + '</b><br>older residents ' + (+w[i].toFixed(2)) +
      '<br>' + esc(DATA.areas[area[i]]);
    tiers.forEach(function (t) {
      var now = t.cnt[i] > 0, was = !!t.planCovered[i];
      s += '<br>' + esc(t.label()) + ': ' + (now ? (t.best[i] / 600).toFixed(1) + ' min, covered' : 'not covered') +
        (now === was ? '' : now ? ' (newly)' : ' (was covered in the plan)');
    });
    return s;
  }
  map.on('click', function (e) {
    var hit = points.nearestTo(map.latLngToLayerPoint(e.latlng), 3);
    if (hit >= 0) { L.popup().setLatLng([lat[hit] / 1e6, lon[hit] / 1e6]).setContent(describePoint(hit)).openOn(map); }
  });

  // sites: one canvas circle each, on their own pane above the points; a click opens or closes
  // closed sites that the plan does not use stay small until the map is zoomed in (they are many)
  function siteStyle(t, j) {
    var open = !!t.open[j], plan = !!t.plan[j], st = STATUS[t.status[j]];
    if (open) {
      var big = st === 'new' || st === 'upgraded' || !plan;
      return {radius: big ? 7 : 5, fillColor: t.colour, fillOpacity: 1, color: plan ? '#fff' : '#000',
        weight: plan ? 1.5 : 3, opacity: 1, dashArray: null};
    }
    if (plan) { return {radius: 6, fillColor: '#bbb', fillOpacity: 1, color: C.lost, weight: 3, opacity: 1, dashArray: null}; }
    var near = map.getZoom() >= 13;
    return {radius: near ? 4 : 2, fillColor: '#fff', fillOpacity: 0.9, color: t.excluded[j] ? '#888' : t.colour,
      weight: near ? 1.2 : 0.8, opacity: near ? 0.9 : 0.6, dashArray: t.excluded[j] ? '2,2' : null};
  }
  var lastNear = null;
  map.on('zoomend', function () {
    var near = map.getZoom() >= 13;
    if (near === lastNear) { return; }
    lastNear = near;
    tiers.forEach(function (t) {
      for (var j = 0; j < t.ns; j++) { if (!t.open[j] && !t.plan[j]) { t.markers[j].setStyle(siteStyle(t, j)); } }
    });
  });
  function describeSite(t, j) {
    var st = STATUS[t.status[j]], plan = !!t.plan[j], open = !!t.open[j];
    var planText = {candidate: 'candidate, not chosen', new: 'chosen (new)', existing: plan ? 'existing, kept open' : 'existing, not upgraded',
      upgraded: 'chosen (upgrade)'}[st];
    return '<b>' + esc(t.name) + ' ' + esc(t.ids[j]) + '</b>' + (t.names && t.names[j] ? ' ' + esc(t.names[j]) : '') +
      '<br>in the plan: ' + planText + (t.excluded[j] ? '; excluded by the scenario' : '') +
      '<br>now: <b>' + (open ? 'open' : 'closed') + '</b> &mdash; click to ' + (open ? 'close' : 'open') +
      '<br>reaches ' + (t.ptr[j + 1] - t.ptr[j]) + ' demand points within ' + t.threshold + ' min';
  }
  var overlays = {};
  tiers.forEach(function (t) {
    t.markers = new Array(t.ns);
    t.group = L.featureGroup();
    for (var j = 0; j < t.ns; j++) {
      var mk = L.circleMarker([t.lat[j] / 1e6, t.lon[j] / 1e6], L.extend(siteStyle(t, j), {renderer: siteRenderer,
        pane: 'wi-sites', bubblingMouseEvents: false}));
      (function (j2) {
        mk.bindTooltip(function () { return describeSite(t, j2); });
        mk.on('click', function () { toggleAt(t, j2); });
      })(j);
      t.markers[j] = mk;
      t.group.addLayer(mk);
    }
    t.group.addTo(map);
    overlays[esc(t.label()) + ' sites'] = t.group;
  });
  if (districts) { overlays['Districts: share covered'] = districts; }
  overlays['Older residents (demand points)'] = points;
  var layers = L.control.layers({'No background (offline)': none, 'OpenStreetMap (needs internet)': osm}, overlays,
    {position: 'topleft', collapsed: true});
  layers.addTo(map);

  // ---------------------------------------------------------------------------------------------------------
  // panels: summary with totals and downloads; per-district table; legend (each collapsible)

  var small = window.innerWidth < 900 || window.innerHeight < 600;
  function panel(position, id, summary, body) {
    var c = L.control({position: position});
    c.onAdd = function () {
      var d = L.DomUtil.create('details', 'wi-box');
      d.id = id;
      if (!small) { d.open = true; }
      d.innerHTML = '<summary>' + summary + '</summary><div class="wi-body">' + body + '</div>';
      L.DomEvent.disableClickPropagation(d);
      L.DomEvent.disableScrollPropagation(d);
      return d;
    };
    c.addTo(map);
  }
  var radios = tiers.map(function (t) {
    return '<label><input type="radio" name="wi-tier" value="' + esc(t.name) + '"' + (t === shown ? ' checked' : '') +
      '> ' + esc(t.label()) + '</label>';
  }).join(' ');
  panel('topleft', 'wi-summary', esc(window.PLANNER_WHATIF_TITLE || 'What if'),
    '<div class="wi-help">Click a site to open or close it. Totals, colours and the district table update at once.</div>' +
    '<div id="wi-totals"></div><div class="wi-tiers">Show: ' + radios + '</div>' +
    '<div class="wi-buttons"><button id="wi-reset">Back to the plan</button> ' +
    '<button id="wi-csv">Download sites (CSV)</button> <button id="wi-toml">Download scenario (TOML)</button></div>');
  panel('topright', 'wi-districts', 'By district', '<div id="wi-table"></div>');
  var legend = '';
  ['&le; 5 min', '&le; 10 min', '&le; 15 min', '&gt; 15 min'].forEach(function (s, k) {
    legend += '<div><i class="wi-dot" style="background:' + C.minutes[k] + '"></i>covered, ' + s + ' walk</div>';
  });
  legend += '<div><i class="wi-dot" style="background:' + C.uncovered + '"></i>not covered</div>' +
    '<div><i class="wi-dot" style="background:' + C.gained + '"></i>newly covered (against the plan)</div>' +
    '<div><i class="wi-dot" style="background:' + C.lost + '"></i>no longer covered (against the plan)</div>' +
    '<div class="wi-h">Sites</div>' +
    '<div><i class="wi-dot wi-open"></i>open (in the plan)</div>' +
    '<div><i class="wi-dot wi-opened"></i>opened here</div>' +
    '<div><i class="wi-dot wi-closed"></i>closed here</div>' +
    '<div><i class="wi-dot wi-cand"></i>closed (candidate or not upgraded)</div>';
  if (districts) {
    legend += '<div class="wi-h">District share covered</div>';
    var e = [0].concat(DATA.share_breaks, [1]);
    DATA.share_colours.forEach(function (c, k) {
      legend += '<div><i class="wi-box-sw" style="background:' + c + '"></i>' + Math.round(100 * e[k]) + '&ndash;' +
        Math.round(100 * e[k + 1]) + ' %</div>';
    });
  }
  panel('bottomleft', 'wi-legend', 'Legend', legend);

  // a panel that would cover another one starts folded (small screens: every panel starts folded)
  function overlaps(a, b) {
    var r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
    return r.left < q.right && q.left < r.right && r.top < q.bottom && q.top < r.bottom;
  }
  function unclutter() {
    var legendBox = document.getElementById('wi-legend'), summaryBox = document.getElementById('wi-summary');
    if (legendBox.open && overlaps(legendBox, summaryBox)) { legendBox.open = false; }
  }

  function renderTotals() {
    var rows = '<table class="wi-t"><tr><th></th><th>covered now</th><th>plan</th><th>change</th><th>open sites</th></tr>';
    tiers.forEach(function (t) {
      var s = t.covered / totalWeight, p = t.planWeight / totalWeight;
      rows += '<tr data-tier="' + esc(t.name) + '"><td><i class="wi-dot" style="background:' + t.colour + '"></i>' +
        esc(t.label()) + '</td><td><b>' + pct(s) + '</b><br><small>' + num(t.covered) + '</small></td><td>' + pct(p) +
        '</td><td class="' + (s - p < -1e-12 ? 'wi-neg' : s - p > 1e-12 ? 'wi-pos' : '') + '">' + signedPts(s - p) +
        '</td><td>' + t.openCount + '</td></tr>';
    });
    document.getElementById('wi-totals').innerHTML = rows + '</table><small>of ' + num(totalWeight) +
      ' older residents at ' + num(n) + ' demand points</small>';
  }
  function renderTable() {
    var rows = '<table class="wi-t"><tr><th>district</th><th>older residents</th><th>' + esc(shown.name) +
      ' now</th><th>plan</th><th>change</th></tr>';
    districtRows(shown).forEach(function (r) {
      var d = r.share - r.plan_share;
      rows += '<tr><td>' + esc(r.district) + '</td><td>' + num(r.older_residents) + '</td><td>' + pct(r.share) +
        '</td><td>' + pct(r.plan_share) + '</td><td class="' + (d < -1e-12 ? 'wi-neg' : d > 1e-12 ? 'wi-pos' : '') +
        '">' + signedPts(d) + '</td></tr>';
    });
    document.getElementById('wi-table').innerHTML = rows + '</table>';
    document.querySelector('#wi-districts summary').textContent = 'By district: ' + shown.label();
  }
  // a district is repainted only when its colour class changes (a repaint of a polygon repaints the canvas)
  function restyleDistricts() {
    if (!districts) { return; }
    districts.eachLayer(function (layer) {
      var k = areaIndex[layer.feature.properties.name];
      var s = k === undefined ? NaN : shown.areaCovered[k] / areaWeight[k];
      var colour = isFinite(s) ? shareColour(s) : '#ccc';
      if (layer.options.fillColor !== colour) { layer.setStyle({fillColor: colour}); }
    });
  }
  function refresh() {
    renderTotals(); renderTable(); restyleDistricts(); points.redraw();
  }
  function toggleAt(t, j, value) {
    var v = value === undefined ? !t.open[j] : value;
    if (!!t.open[j] === v) { return totals(); }
    t.setOpen(j, v);
    t.sum();
    t.markers[j].setStyle(siteStyle(t, j));
    renderTotals(); renderTable(); restyleDistricts();
    if (t === shown) { points.redrawReach(t, j); }  // the colours show one tier
    return totals();
  }
  document.getElementById('wi-reset').addEventListener('click', function () { api.reset(); });
  document.getElementById('wi-csv').addEventListener('click', function () { save('whatif_sites.csv', csv(), 'text/csv'); });
  document.getElementById('wi-toml').addEventListener('click', function () {
    save(DATA.scenario + '_whatif.toml', scenarioSnippet(), 'application/toml');
  });
  Array.prototype.forEach.call(document.querySelectorAll('input[name="wi-tier"]'), function (el) {
    el.addEventListener('change', function () { shown = byName[el.value]; refresh(); });
  });

  // ---------------------------------------------------------------------------------------------------------
  // exports

  function totals() {
    var out = {};
    tiers.forEach(function (t) {
      out[t.name] = {covered_weight: t.covered, share: totalWeight > 0 ? t.covered / totalWeight : NaN,
        plan_covered_weight: t.planWeight, plan_share: totalWeight > 0 ? t.planWeight / totalWeight : NaN,
        open_sites: t.openCount};
    });
    return out;
  }
  function districtRows(t) {
    return DATA.areas.map(function (a, k) {
      return {district: a, older_residents: areaWeight[k], covered_weight: t.areaCovered[k],
        share: areaWeight[k] > 0 ? t.areaCovered[k] / areaWeight[k] : NaN,
        plan_share: areaWeight[k] > 0 ? t.planArea[k] / areaWeight[k] : NaN};
    });
  }
  function openSites() {
    var out = {};
    tiers.forEach(function (t) { out[t.name] = t.ids.filter(function (id, j) { return t.open[j] === 1; }); });
    return out;
  }
  function csvField(s) { s = String(s); return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
  function csv() {
    var lines = ['tier,site_id,lon,lat,status_in_plan,open_in_plan,open_now,change'];
    tiers.forEach(function (t) {
      for (var j = 0; j < t.ns; j++) {
        if (!t.open[j] && !t.plan[j]) { continue; }
        var ch = t.open[j] === t.plan[j] ? '' : t.open[j] ? 'opened' : 'closed';
        lines.push([t.name, t.ids[j], (t.lon[j] / 1e6).toFixed(6), (t.lat[j] / 1e6).toFixed(6), STATUS[t.status[j]],
          t.plan[j] ? 'true' : 'false', t.open[j] ? 'true' : 'false', ch].map(csvField).join(','));
      }
    });
    return lines.join('\n') + '\n';
  }
  function tomlList(ids) {
    if (!ids.length) { return '[]'; }
    var parts = ids.map(function (s) { return JSON.stringify(s); }), out = '[', line = '';
    parts.forEach(function (p, k) {
      if (line.length + p.length > 100) { out += line + '\n  '; line = ''; }
      line += p + (k < parts.length - 1 ? ', ' : '');
    });
    return out + line + ']';
  }
  // The scenario of the run with, per tier, `fixed` (open sites among those the tier chooses from) and `exclude`
  // (closed sites that would otherwise be open or chosen); `new` / `upgrade` = 0 evaluates exactly these sites.
  // Without a `fixed` key in the scenario schema: `new` / `upgrade` = the open count and every other site
  // excluded, which evaluates the same sites (but cannot add more around them).
  function scenarioSnippet() {
    var text = DATA.scenario_toml;
    tiers.forEach(function (t) {
      var fixed = [], exclude = [];
      for (var j = 0; j < t.ns; j++) {
        var st = STATUS[t.status[j]];
        // in a tier of new sites the existing ones are open unless excluded; they are never in `fixed`
        var choosable = t.kind === 'upgrade' || st === 'candidate' || st === 'new';
        if (t.open[j] && choosable) { fixed.push(t.ids[j]); }
        var closedAnyway = DATA.has_fixed ? (t.excluded[j] || t.plan[j] || !choosable) : true;
        if (!t.open[j] && closedAnyway) { exclude.push(t.ids[j]); }
      }
      var key = t.kind === 'upgrade' ? 'upgrade' : 'new', block;
      if (DATA.has_fixed) {
        block = key + ' = 0  # raise it to choose this many more sites around the fixed ones\n' +
          'fixed = ' + tomlList(fixed) + '\n';
      } else {
        block = key + ' = ' + fixed.length + '  # the open sites: every other site of the tier is excluded\n';
      }
      block += 'exclude = ' + tomlList(exclude) + '\n';
      text = text.replace('#@whatif:' + t.name + '@\n', block);
    });
    return text;
  }
  function save(name, text, type) {
    var a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], {type: type + ';charset=utf-8'}));
    a.download = name;
    document.body.appendChild(a); a.click(); document.body.removeChild(a);
  }

  var api = {
    open: function (id, tier) { var f = find(id, tier); return toggleAt(f[0], f[1], true); },
    close: function (id, tier) { var f = find(id, tier); return toggleAt(f[0], f[1], false); },
    toggle: function (id, tier) { var f = find(id, tier); return toggleAt(f[0], f[1]); },
    isOpen: function (id, tier) { var f = find(id, tier); return f[0].open[f[1]] === 1; },
    reset: function () {
      tiers.forEach(function (t) {
        t.reset(); t.sum();
        for (var j = 0; j < t.ns; j++) { t.markers[j].setStyle(siteStyle(t, j)); }
      });
      refresh();
      return totals();
    },
    totals: totals,
    districts: function (tier) { return districtRows(tier === undefined ? shown : byName[tier]); },
    openSites: openSites,
    csv: csv,
    scenarioSnippet: scenarioSnippet,
    show: function (tier) { shown = byName[tier]; refresh(); },
    pointColours: function () {
      var out = new Array(n);
      for (var i = 0; i < n; i++) { out[i] = CLASS_COLOURS[pointClass(shown, i)]; }
      return out;
    },
    map: map
  };
  window.plannerWhatIf = api;
  refresh();
  unclutter();
})();
