/* gmUnitsLayer: the address units of /tiles/units/{z}/{x}/{y}.mvt drawn on canvas tiles.
 *
 * window.gmUnitsLayer(map, options) returns a Leaflet layer (an L.GridLayer of canvases, already
 * added to `map` unless options.add === false) that
 *   - draws every unit of the street-zoom tiles (MVT layer "units") as a dot coloured by
 *     options.statusColors[status];
 *   - draws the aggregated features of the lower zooms (MVT layer "units_agg": one per cell at
 *     z <= 13 (property cell = its code), one per H3 cell at z 14 (h3, resolution); properties
 *     units, n_<status>, status = the most frequent one) as circles sized by the number of units,
 *     coloured by the most frequent status, with the count written inside;
 *   - calls options.onClick({id, external_id, status, building, floor, room}) when a dot is
 *     clicked and options.onAggregateClick({cell | h3, units, n_<status>..., status}) for an
 *     aggregate (hit-testing on the decoded features of the clicked tile, in pixels);
 *   - shows options.tooltip(props, isAggregate) (HTML; the caller escapes it) in a Leaflet
 *     tooltip while the pointer is on a dot or an aggregate, and marks that mousemove event
 *     (event.gmUnitHit = true) so that the areas drawn underneath (areas_layer.js) hold back
 *     their own tooltip (their hover outline stays);
 *   - .refresh() fetches the visible tiles again (after an edit). The tiles are sent with
 *     `Cache-Control: private, no-cache` and an ETag, so the browser revalidates each one and an
 *     unchanged tile costs a 304.
 *
 * Tiles are fetched from the same origin with the session cookie (credentials: 'same-origin');
 * no token is ever put in a URL. Decoding uses @mapbox/vector-tile and pbf from node_modules,
 * served under /static/vendor/ (ES modules: loaded on first use with import(); the import map in
 * index.html resolves their one bare import, '@mapbox/point-geometry'). This file is a classic
 * script, so window.gmUnitsLayer exists as soon as it has run.
 *
 * Other options: url (template, default '/tiles/units/{z}/{x}/{y}.mvt'), radius (dot radius in
 * px, default by zoom: 3 / 4 / 5 at z 15 / 16 / 17+), pane (default: a pane 'gmUnits' above the
 * cell polygons that lets the pointer through), zIndex, minZoom, maxZoom, add (default true).
 */
(function () {
  'use strict';

  var DEFAULT_URL = '/tiles/units/{z}/{x}/{y}.mvt';
  var FALLBACK_COLOR = '#9e9e9e';
  var decoder = null;

  function loadDecoder() {
    if (!decoder) {
      decoder = Promise.all([
        import('/static/vendor/vector-tile/index.js'),
        import('/static/vendor/pbf/index.js'),
      ]).then(function (mods) {
        return { VectorTile: mods[0].VectorTile, PbfReader: mods[1].PbfReader };
      });
    }
    return decoder;
  }

  function colorOf(colors, status) {
    return (colors && colors[status]) || FALLBACK_COLOR;
  }

  function dotRadius(options, zoom) {
    if (typeof options.radius === 'number') return options.radius;
    if (zoom >= 17) return 5;
    return zoom >= 16 ? 4 : 3;
  }

  function aggRadius(units) {
    return Math.min(24, 4 + 1.6 * Math.sqrt(units));
  }

  function plain(props) {
    var out = {};
    Object.keys(props).forEach(function (k) { out[k] = props[k]; });
    return out;
  }

  /* Decode an MVT buffer into [{x, y, r, agg, props}] in tile pixels (tile size `size`). */
  function decode(lib, buffer, size, zoom, options) {
    var tile = new lib.VectorTile(new lib.PbfReader(new Uint8Array(buffer)));
    var out = [];
    var names = ['units', 'units_agg'];
    for (var n = 0; n < names.length; n++) {
      var layer = tile.layers[names[n]];
      if (!layer) continue;
      var agg = names[n] === 'units_agg';
      var scale = size / layer.extent;
      for (var i = 0; i < layer.length; i++) {
        var f = layer.feature(i);
        var geom = f.loadGeometry();
        if (!geom.length || !geom[0].length) continue;
        var p = geom[0][0];
        var props = plain(f.properties);
        if (!agg && f.id !== undefined) props.id = f.id;
        out.push({
          x: p.x * scale,
          y: p.y * scale,
          r: agg ? aggRadius(Number(props.units) || 0) : dotRadius(options, zoom),
          agg: agg,
          props: props,
        });
      }
    }
    // big aggregates first, so that small ones stay visible on top
    out.sort(function (a, b) { return b.r - a.r; });
    return out;
  }

  function draw(canvas, feats, size, options) {
    var ratio = window.devicePixelRatio || 1;
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, size, size);
    for (var i = 0; i < feats.length; i++) {
      var f = feats[i];
      ctx.beginPath();
      ctx.arc(f.x, f.y, f.r, 0, 2 * Math.PI);
      ctx.fillStyle = colorOf(options.statusColors, f.props.status);
      ctx.globalAlpha = f.agg ? 0.8 : 1;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.lineWidth = f.agg ? 1.5 : 1;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      if (f.agg && f.r >= 9) {
        ctx.fillStyle = '#1b1b1b';
        ctx.font = (f.r >= 14 ? 'bold 11px' : '10px') + ' sans-serif';
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.fillText(String(f.props.units), f.x, f.y);
      }
    }
  }

  function ensureStyle() {
    if (document.getElementById('gm-units-layer-style')) return;
    var style = document.createElement('style');
    style.id = 'gm-units-layer-style';
    style.textContent = '.leaflet-container.gm-units-hover, .gm-units-hover .leaflet-interactive { cursor: pointer; }';
    document.head.appendChild(style);
  }

  var UnitsLayer = L.GridLayer.extend({
    options: { maxZoom: 22, updateWhenZooming: false },

    initialize: function (options) {
      L.GridLayer.prototype.initialize.call(this, options);
      this._gmOptions = options || {};
      this._gmUrl = this._gmOptions.url || DEFAULT_URL;
    },

    createTile: function (coords, done) {
      var size = this.getTileSize();
      var ratio = window.devicePixelRatio || 1;
      var canvas = L.DomUtil.create('canvas', 'gm-units-tile');
      canvas.width = size.x * ratio;
      canvas.height = size.y * ratio;
      canvas.style.width = size.x + 'px';
      canvas.style.height = size.y + 'px';
      canvas._gmFeatures = [];
      var controller = window.AbortController ? new AbortController() : null;
      canvas._gmAbort = controller;
      var url = L.Util.template(this._gmUrl, { z: coords.z, x: coords.x, y: coords.y });
      var opts = this._gmOptions;
      fetch(url, { credentials: 'same-origin', signal: controller ? controller.signal : undefined })
        .then(function (res) {
          if (res.status === 204) return null;
          if (!res.ok) throw new Error('tile ' + url + ': HTTP ' + res.status);
          return res.arrayBuffer();
        })
        .then(function (buffer) {
          if (!buffer || !buffer.byteLength) return [];
          return loadDecoder().then(function (lib) { return decode(lib, buffer, size.x, coords.z, opts); });
        })
        .then(function (feats) {
          canvas._gmFeatures = feats;
          draw(canvas, feats, size.x, opts);
          done(null, canvas);
        })
        .catch(function (err) {
          if (err && err.name === 'AbortError') return;
          done(err, canvas);
        });
      return canvas;
    },

    /* Clicks are caught on the map container in the capture phase, before the cell polygons
     * underneath see them: a click on a dot is a click on the unit (the polygon's own click
     * handler, which may stop the event, is not reached); anywhere else the event goes on. */
    onAdd: function (map) {
      L.GridLayer.prototype.onAdd.call(this, map);
      this.on('tileunload', this._gmUnload, this);
      this._gmClickFn = L.Util.bind(this._gmClick, this);
      this._gmMoveFn = L.Util.bind(this._gmMove, this);
      map.getContainer().addEventListener('click', this._gmClickFn, true);
      map.getContainer().addEventListener('mousemove', this._gmMoveFn, true);
      map.on('mouseout zoomstart movestart', this._gmCloseTip, this);
    },

    onRemove: function (map) {
      map.getContainer().removeEventListener('click', this._gmClickFn, true);
      map.getContainer().removeEventListener('mousemove', this._gmMoveFn, true);
      map.off('mouseout zoomstart movestart', this._gmCloseTip, this);
      this.off('tileunload', this._gmUnload, this);
      this._gmCloseTip();
      map.getContainer().classList.remove('gm-units-hover');
      L.GridLayer.prototype.onRemove.call(this, map);
    },

    _gmUnload: function (e) {
      if (e.tile && e.tile._gmAbort) e.tile._gmAbort.abort();
    },

    /* The feature under a map position (the topmost drawn one), or null. */
    featureAt: function (latlng) {
      if (!this._map || this._tileZoom === undefined) return null;
      var size = this.getTileSize();
      var p = this._map.project(latlng, this._tileZoom);
      var scale = this._map.getZoomScale(this._map.getZoom(), this._tileZoom);
      var tx = Math.floor(p.x / size.x);
      var ty = Math.floor(p.y / size.y);
      var tile = this._tiles[tx + ':' + ty + ':' + this._tileZoom];
      if (!tile || !tile.el._gmFeatures) return null;
      var lx = p.x - tx * size.x;
      var ly = p.y - ty * size.y;
      var feats = tile.el._gmFeatures;
      var best = null;
      var bestD = Infinity;
      for (var i = feats.length - 1; i >= 0; i--) {
        var f = feats[i];
        var d = Math.hypot(f.x - lx, f.y - ly) * scale;
        var reach = f.r * scale + (f.agg ? 0 : 2);
        if (d <= reach && d < bestD) {
          best = f;
          bestD = d;
        }
      }
      return best;
    },

    _gmHit: function (ev) {
      var map = this._map;
      if (!map || (ev.target && ev.target.closest && ev.target.closest('.leaflet-control, .leaflet-popup'))) {
        return null;
      }
      return this.featureAt(map.mouseEventToLatLng(ev));
    },

    _gmClick: function (ev) {
      var map = this._map;
      if (!map || (map.dragging && map.dragging.moved())) return;
      var f = this._gmHit(ev);
      if (!f) return;
      var opts = this._gmOptions;
      var handler = f.agg ? opts.onAggregateClick : opts.onClick;
      if (!handler) return;
      ev.stopPropagation();
      this._gmCloseTip();
      handler(plain(f.props), { latlng: map.mouseEventToLatLng(ev), originalEvent: ev });
    },

    _gmMove: function (ev) {
      var map = this._map;
      if (!map) return;
      var moving = map._animatingZoom || (map.dragging && map.dragging.moving());
      var f = moving ? null : this._gmHit(ev);
      var opts = this._gmOptions;
      var clickable = f && (f.agg ? opts.onAggregateClick : opts.onClick);
      map.getContainer().classList.toggle('gm-units-hover', Boolean(clickable));
      if (!f) {
        this._gmCloseTip();
        return;
      }
      if (!opts.tooltip) return;
      ev.gmUnitHit = true;
      if (!this._gmTip) this._gmTip = L.tooltip({ direction: 'top', offset: [0, -8], className: 'gm-tip gm-unit-tip' });
      if (this._gmTipFor !== f) {
        this._gmTip.setContent(opts.tooltip(plain(f.props), Boolean(f.agg)));
        this._gmTipFor = f;
      }
      this._gmTip.setLatLng(map.mouseEventToLatLng(ev));
      if (!map.hasLayer(this._gmTip)) map.openTooltip(this._gmTip);
    },

    _gmCloseTip: function () {
      this._gmTipFor = null;
      if (this._gmTip && this._map && this._map.hasLayer(this._gmTip)) this._map.closeTooltip(this._gmTip);
    },

    refresh: function () {
      this._gmCloseTip();
      return this.redraw();
    },
  });

  window.gmUnitsLayer = function (map, options) {
    var opts = L.Util.extend({}, options || {});
    if (!opts.pane) {
      // above the cell polygons (overlayPane, 400), below markers and popups; transparent to the
      // pointer, so the polygons underneath keep their hover and clicks reach the map (hit test)
      if (!map.getPane('gmUnits')) {
        var pane = map.createPane('gmUnits');
        pane.style.zIndex = '450';
        pane.style.pointerEvents = 'none';
      }
      opts.pane = 'gmUnits';
    }
    ensureStyle();
    var layer = new UnitsLayer(opts);
    if (opts.add !== false) layer.addTo(map);
    return layer;
  };
  window.gmUnitsLayer.Layer = UnitsLayer;
  window.gmUnitsLayer.loadDecoder = loadDecoder;
})();
