/* gridmarket — the areas of the holistic map (cells, grids, districts, H3 hexagons) on one canvas.
 *
 * A city has thousands of cells: one Leaflet polygon each (with its own tooltip, listeners,
 * projection and draw call) costs seconds before the first coloured map. This layer keeps the
 * outlines as flat arrays in Web Mercator units, draws all the areas of one colour with one
 * fill (even-odd, so holes and multipolygon parts need no nesting) and all outlines with one
 * stroke, and finds the area under the mouse through a grid index. It is a Leaflet canvas
 * renderer (L.Canvas) underneath, so padding, panning and the zoom animation behave like
 * Leaflet's own vector layers.
 *
 * The rings come from GET /api/v1/metrics/shapes: [x0, y0, dx1, dy1, ...] in 1/scale degree.
 *
 * For the code around it, the layer looks like an L.GeoJSON group: getLayers() and eachLayer()
 * give one handle per area with .feature (the GeoJSON feature: id, properties and, built when
 * first read, geometry), .options.fillColor, getBounds(), getCenter(), setStyle({fillColor}) and,
 * like Leaflet's paths, _containsPoint(layerPoint), _pxBounds and _renderer.
 */
(function () {
  'use strict';

  var TILE = 256;
  var D2R = Math.PI / 180;

  function mx(lon) { return (lon + 180) / 360; }
  function my(lat) {
    var s = Math.sin(lat * D2R);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }
  function lonOf(x) { return x * 360 - 180; }
  function latOf(y) { return (Math.atan(Math.exp((0.5 - y) * 2 * Math.PI)) * 360) / Math.PI - 90; }

  /** Decode one area's rings (delta-encoded integers) into Mercator rings and their bbox. */
  function decode(rings, scale) {
    var out = [];
    var box = [Infinity, Infinity, -Infinity, -Infinity];
    for (var r = 0; r < rings.length; r++) {
      var src = rings[r];
      var n = src.length >> 1;
      var ring = new Float64Array(n * 2);
      var x = 0;
      var y = 0;
      for (var i = 0; i < n; i++) {
        x += src[2 * i];
        y += src[2 * i + 1];
        var px = mx(x / scale);
        var py = my(y / scale);
        ring[2 * i] = px;
        ring[2 * i + 1] = py;
        if (px < box[0]) box[0] = px;
        if (py < box[1]) box[1] = py;
        if (px > box[2]) box[2] = px;
        if (py > box[3]) box[3] = py;
      }
      out.push(ring);
    }
    return { rings: out, box: out.length ? box : null };
  }

  /** Even-odd point in rings (Mercator units). */
  function inside(rings, x, y) {
    var c = false;
    for (var r = 0; r < rings.length; r++) {
      var ring = rings[r];
      var n = ring.length >> 1;
      for (var i = 0, j = n - 1; i < n; j = i++) {
        var xi = ring[2 * i], yi = ring[2 * i + 1], xj = ring[2 * j], yj = ring[2 * j + 1];
        if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
      }
    }
    return c;
  }

  function Handle(layer, feature, shape, color) {
    this._layer = layer;
    this._renderer = layer;
    this._shape = shape;
    this.feature = feature;
    this.options = { fillColor: color };
    var self = this;
    // the GeoJSON geometry, for outlines and bounds elsewhere: built when first asked for
    Object.defineProperty(feature, 'geometry', {
      configurable: true,
      enumerable: true,
      get: function () { return self.toGeometry(); },
    });
  }

  Handle.prototype.toGeometry = function () {
    var rings = this._shape.rings;
    if (!rings.length) return null;
    return {
      type: 'Polygon',
      coordinates: rings.map(function (ring) {
        var pts = [];
        for (var i = 0; i < ring.length; i += 2) pts.push([lonOf(ring[i]), latOf(ring[i + 1])]);
        pts.push(pts[0]);
        return pts;
      }),
    };
  };

  Handle.prototype.getBounds = function () {
    var b = this._shape.box;
    if (!b) return L.latLngBounds([]);
    return L.latLngBounds([latOf(b[3]), lonOf(b[0])], [latOf(b[1]), lonOf(b[2])]);
  };

  /** The centroid of the area's largest ring (inside it for convex cells and hexagons). */
  Handle.prototype.getCenter = function () {
    var best = null;
    var bestA = 0;
    var rings = this._shape.rings;
    for (var r = 0; r < rings.length; r++) {
      var ring = rings[r];
      var n = ring.length >> 1;
      var a = 0, cx = 0, cy = 0;
      for (var i = 0, j = n - 1; i < n; j = i++) {
        var f = ring[2 * j] * ring[2 * i + 1] - ring[2 * i] * ring[2 * j + 1];
        a += f;
        cx += (ring[2 * j] + ring[2 * i]) * f;
        cy += (ring[2 * j + 1] + ring[2 * i + 1]) * f;
      }
      if (Math.abs(a) > bestA) { bestA = Math.abs(a); best = [cx / (3 * a), cy / (3 * a)]; }
    }
    if (!best) {
      var b = this._shape.box;
      if (!b) return null;
      best = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
    }
    return L.latLng(latOf(best[1]), lonOf(best[0]));
  };

  Handle.prototype.setStyle = function (style) {
    if (style && style.fillColor !== undefined && style.fillColor !== this.options.fillColor) {
      this.options.fillColor = style.fillColor;
      this._layer._requestRedraw();
    }
    return this;
  };

  /** Whether a layer point (as Leaflet's paths take it) lies inside the area. */
  Handle.prototype._containsPoint = function (p) {
    var m = this._layer._toMerc(p);
    var b = this._shape.box;
    if (!m || !b || m[0] < b[0] || m[0] > b[2] || m[1] < b[1] || m[1] > b[3]) return false;
    return inside(this._shape.rings, m[0], m[1]);
  };

  Object.defineProperty(Handle.prototype, '_pxBounds', {
    get: function () {
      var map = this._layer._map;
      var b = this._shape.box;
      if (!map || !b) return null;
      var s = TILE * Math.pow(2, map.getZoom());
      var o = map.getPixelOrigin();
      return L.bounds([b[0] * s - o.x, b[1] * s - o.y], [b[2] * s - o.x, b[3] * s - o.y]);
    },
  });

  var AreasLayer = L.Canvas.extend({
    options: {
      padding: 0.15, // beyond the view on each side: less to raster than 0.3, a short pan still drawn
      fillOpacity: 0.82,
      color: '#ffffff',
      weight: 0.6,
      opacity: 0.9,
      tooltip: null, // function (handle) → HTML of the hover tooltip
      tooltipOptions: { direction: 'top', offset: [0, -8], className: 'gm-tip' },
      onHover: null, // function (handle or null)
    },

    initialize: function (options) {
      L.Canvas.prototype.initialize.call(this, options);
      this._handles = [];
      this._index = null;
      this._hover = null;
    },

    /** Areas to draw: [{feature, rings (as the shapes endpoint sends them), color}], scale of the rings. */
    setAreas: function (areas, scale) {
      var handles = [];
      for (var i = 0; i < areas.length; i++) {
        var a = areas[i];
        handles.push(new Handle(this, a.feature, decode(a.rings || [], scale), a.color));
      }
      this._handles = handles;
      this._buildIndex();
      this._setHover(null);
      this._requestRedraw();
      return this;
    },

    getLayers: function () { return this._handles.slice(); },

    eachLayer: function (fn, ctx) {
      for (var i = 0; i < this._handles.length; i++) fn.call(ctx, this._handles[i]);
      return this;
    },

    getBounds: function () {
      var b = this._extent;
      if (!b) return L.latLngBounds([]);
      return L.latLngBounds([latOf(b[3]), lonOf(b[0])], [latOf(b[1]), lonOf(b[2])]);
    },

    /** Fill opacity and the other drawing options of every area. */
    setStyle: function (style) {
      L.Util.setOptions(this, style);
      this._requestRedraw();
      return this;
    },

    /** The area under a map position, or null. */
    hitAt: function (latlng) {
      if (!latlng || !this._index) return null;
      return this._hitMerc(mx(latlng.lng), my(latlng.lat));
    },

    closeTooltip: function () {
      if (this._tip && this._map) this._map.closeTooltip(this._tip);
      return this;
    },

    onAdd: function (map) {
      L.Canvas.prototype.onAdd.call(this, map);
      map.on('mousemove', this._onMapMove, this);
      map.on('mouseout', this._onMapOut, this);
      map.on('zoomstart movestart', this._onMapOut, this);
    },

    onRemove: function (map) {
      map.off('mousemove', this._onMapMove, this);
      map.off('mouseout', this._onMapOut, this);
      map.off('zoomstart movestart', this._onMapOut, this);
      this._setHover(null);
      this.closeTooltip();
      L.Canvas.prototype.onRemove.call(this, map);
    },

    // the canvas takes no events of its own: the map's mouse events go on as usual (the app
    // asks hitAt on a click; hover runs from the map's mousemove)
    _initContainer: function () {
      this._container = document.createElement('canvas');
      this._ctx = this._container.getContext('2d');
    },

    _destroyContainer: function () {
      L.Util.cancelAnimFrame(this._redrawRequest);
      delete this._ctx;
      L.DomUtil.remove(this._container);
      delete this._container;
    },

    _updatePaths: function () {
      if (this._postponeUpdatePaths) return;
      this._redrawBounds = null;
      this._redraw();
    },

    _requestRedraw: function () {
      if (!this._map) return;
      this._redrawBounds = null;
      this._redrawRequest = this._redrawRequest || L.Util.requestAnimFrame(this._redraw, this);
    },

    _toMerc: function (p) {
      var map = this._map;
      if (!map) return null;
      var s = TILE * Math.pow(2, map.getZoom());
      var o = map.getPixelOrigin();
      return [(p.x + o.x) / s, (p.y + o.y) / s];
    },

    _buildIndex: function () {
      var hs = this._handles;
      var ext = [Infinity, Infinity, -Infinity, -Infinity];
      for (var i = 0; i < hs.length; i++) {
        var b = hs[i]._shape.box;
        if (!b) continue;
        if (b[0] < ext[0]) ext[0] = b[0];
        if (b[1] < ext[1]) ext[1] = b[1];
        if (b[2] > ext[2]) ext[2] = b[2];
        if (b[3] > ext[3]) ext[3] = b[3];
      }
      if (!(ext[2] >= ext[0])) { this._extent = null; this._index = null; return; }
      this._extent = ext;
      var n = Math.max(1, Math.ceil(Math.sqrt(hs.length)));
      var w = (ext[2] - ext[0]) / n || 1e-12;
      var h = (ext[3] - ext[1]) / n || 1e-12;
      var buckets = new Array(n * n);
      for (var k = 0; k < hs.length; k++) {
        var bb = hs[k]._shape.box;
        if (!bb) continue;
        var x0 = Math.min(n - 1, Math.floor((bb[0] - ext[0]) / w));
        var x1 = Math.min(n - 1, Math.floor((bb[2] - ext[0]) / w));
        var y0 = Math.min(n - 1, Math.floor((bb[1] - ext[1]) / h));
        var y1 = Math.min(n - 1, Math.floor((bb[3] - ext[1]) / h));
        for (var gy = y0; gy <= y1; gy++) {
          for (var gx = x0; gx <= x1; gx++) {
            var at = gy * n + gx;
            (buckets[at] || (buckets[at] = [])).push(k);
          }
        }
      }
      this._index = { n: n, w: w, h: h, buckets: buckets };
    },

    _hitMerc: function (x, y) {
      var ext = this._extent;
      var ix = this._index;
      if (!ix || x < ext[0] || x > ext[2] || y < ext[1] || y > ext[3]) return null;
      var gx = Math.min(ix.n - 1, Math.floor((x - ext[0]) / ix.w));
      var gy = Math.min(ix.n - 1, Math.floor((y - ext[1]) / ix.h));
      var list = ix.buckets[gy * ix.n + gx] || [];
      for (var i = list.length - 1; i >= 0; i--) {
        var hd = this._handles[list[i]];
        var b = hd._shape.box;
        if (x < b[0] || x > b[2] || y < b[1] || y > b[3]) continue;
        if (inside(hd._shape.rings, x, y)) return hd;
      }
      return null;
    },

    _onMapMove: function (e) {
      var map = this._map;
      if (!map || map._animatingZoom || (map.dragging && map.dragging.moving())) return;
      var hd = this.hitAt(e.latlng);
      this._setHover(hd);
      // on an address dot drawn above, whose own tooltip shows (units_layer.js marks the event),
      // the area keeps its hover outline but not its tooltip
      var dot = e.originalEvent && e.originalEvent.gmUnitHit;
      if (hd && this.options.tooltip && !dot) {
        if (!this._tip) this._tip = L.tooltip(this.options.tooltipOptions);
        if (this._tipFor !== hd) {
          this._tip.setContent(this.options.tooltip(hd));
          this._tipFor = hd;
        }
        this._tip.setLatLng(e.latlng);
        if (!map.hasLayer(this._tip)) map.openTooltip(this._tip);
      } else {
        this.closeTooltip();
      }
    },

    _onMapOut: function () {
      this._setHover(null);
      this.closeTooltip();
    },

    _setHover: function (hd) {
      if (hd === this._hover) return;
      this._hover = hd;
      this._tipFor = null;
      if (this._map) this._map.getContainer().classList.toggle('gm-area-hover', Boolean(hd));
      if (this.options.onHover) this.options.onHover(hd);
    },

    _draw: function () {
      var map = this._map;
      var ctx = this._ctx;
      var b = this._bounds;
      if (!map || !ctx || !b || !this._handles.length) return;
      var s = TILE * Math.pow(2, this._zoom);
      var o = map.getPixelOrigin();
      // the canvas's extent in Mercator units
      var v0 = (b.min.x + o.x) / s, v1 = (b.min.y + o.y) / s, v2 = (b.max.x + o.x) / s, v3 = (b.max.y + o.y) / s;
      var groups = new Map();
      var shown = [];
      for (var i = 0; i < this._handles.length; i++) {
        var hd = this._handles[i];
        var bb = hd._shape.box;
        if (!bb || bb[2] < v0 || bb[0] > v2 || bb[3] < v1 || bb[1] > v3) continue;
        shown.push(hd);
        var c = hd.options.fillColor;
        var g = groups.get(c);
        if (g) g.push(hd); else groups.set(c, [hd]);
      }
      var trace = function (list) {
        ctx.beginPath();
        for (var k = 0; k < list.length; k++) {
          var rings = list[k]._shape.rings;
          for (var r = 0; r < rings.length; r++) {
            var ring = rings[r];
            var x0 = ring[0] * s - o.x;
            var y0 = ring[1] * s - o.y;
            ctx.moveTo(x0, y0);
            for (var p = 2; p < ring.length; p += 2) ctx.lineTo(ring[p] * s - o.x, ring[p + 1] * s - o.y);
            // back to the start rather than closePath(), which costs time in the number of
            // subpaths already in the path (seconds for a city's cells in one path)
            ctx.lineTo(x0, y0);
          }
        }
      };
      var opts = this.options;
      ctx.save();
      ctx.globalAlpha = opts.fillOpacity;
      groups.forEach(function (list, color) {
        trace(list);
        ctx.fillStyle = color;
        ctx.fill('evenodd');
      });
      if (opts.weight > 0) {
        trace(shown);
        ctx.globalAlpha = opts.opacity;
        ctx.lineWidth = opts.weight;
        ctx.strokeStyle = opts.color;
        ctx.lineJoin = 'round';
        ctx.stroke();
      }
      ctx.restore();
    },
  });

  var factory = function (options) { return new AreasLayer(options); };
  factory.Layer = AreasLayer;
  window.gmAreasLayer = factory;
})();
