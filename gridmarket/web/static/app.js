/* gridmarket — holistic map (网格化营销全息视图). Plain ES2020, no build step. */
'use strict';

(() => {
  // ---------------------------------------------------------------- texts

  const I18N = {
    'zh-CN': {
      'app.title': '网格化营销全息视图',
      'header.city': '城市',
      'header.logout': '退出登录',
      'login.title': '登录',
      'login.subtitle': '政企客户网格化营销与市场空间信息系统',
      'login.username': '用户名',
      'login.password': '密码',
      'login.submit': '登录',
      'login.busy': '正在登录…',
      'login.err.missing': '请输入用户名和密码',
      'login.err.bad': '用户名或密码错误',
      'login.err.rate': '登录失败次数过多，请稍后再试',
      'login.err.server': '服务器暂时不可用，请稍后再试',
      'login.err.net': '无法连接服务器，请检查网络',
      'login.err.expired': '登录已过期，请重新登录',
      'metric.penetration': '客户渗透率',
      'legend.sub': '五分位分级 · 网格单元数',
      'legend.nodata': '无数据',
      'map.loading': '正在加载地图…',
      'map.error': '地图数据加载失败',
      'map.nocity': '您的权限范围内暂无城市数据',
      'map.nocells': '该城市暂无网格单元',
      'map.zoomin': '放大',
      'map.zoomout': '缩小',
      'panel.close': '关闭',
      'panel.overview': '全市概况',
      'panel.hint': '点击地图上的网格单元查看详情',
      'panel.cells': '网格单元',
      'panel.statusMix': '客户状态分布',
      'panel.share': '占比',
      'field.grid': '网格',
      'field.district': '区县',
      'field.type': '类型',
      'field.source': '来源',
      'field.units': '地址单元数',
      'field.surveyed': '已摸查',
      'field.demand': '有需求客户数',
      'field.coverage': '市场空间信息完整率',
      'field.penetration': '客户渗透率',
      'field.revenue': '网格收入（月）',
      'source.drawn': '划定单元',
      'source.h3': 'H3 生成单元',
      'type.none': '未分类',
      'type.specialist_market': '专业市场',
      'type.commercial_building': '商务楼宇',
      'type.street_shops': '沿街商铺',
      'type.industrial_park': '产业园区',
      'type.campus': '校园',
      'type.hospital': '医院',
      'type.hotel': '宾馆酒店',
      'type.government': '党政军',
      'type.residential': '住宅小区',
      'type.mixed': '综合',
      'status.stock': '存量',
      'status.competing': '竞争',
      'status.other_network': '他网',
      'status.potential': '潜在',
      'status.vacant': '空置',
      'status.unknown': '未摸查',
      'role.admin': '系统管理员',
      'role.city_manager': '地市政企部经理',
      'role.regional_head': '区局营销中心主任',
      'role.specialist_lead': '专业营销中心负责人',
      'role.grid_manager': '网格经理',
      'role.account_manager': '客户经理',
      'role.planner': '市场经理',
    },
    en: {
      'app.title': 'Grid Marketing Holistic View',
      'header.city': 'City',
      'header.logout': 'Log out',
      'login.title': 'Sign in',
      'login.subtitle': 'Government & enterprise grid marketing and market-space system',
      'login.username': 'Username',
      'login.password': 'Password',
      'login.submit': 'Sign in',
      'login.busy': 'Signing in…',
      'login.err.missing': 'Enter your username and password',
      'login.err.bad': 'Incorrect username or password',
      'login.err.rate': 'Too many failed attempts; please try again later',
      'login.err.server': 'The server is unavailable; please try again later',
      'login.err.net': 'Cannot reach the server; check your network',
      'login.err.expired': 'Your session has expired; please sign in again',
      'metric.penetration': 'Customer penetration',
      'legend.sub': 'Quintiles · number of cells',
      'legend.nodata': 'No data',
      'map.loading': 'Loading map…',
      'map.error': 'Could not load the map data',
      'map.nocity': 'No city in your scope yet',
      'map.nocells': 'This city has no grid cells yet',
      'map.zoomin': 'Zoom in',
      'map.zoomout': 'Zoom out',
      'panel.close': 'Close',
      'panel.overview': 'City overview',
      'panel.hint': 'Click a grid cell on the map to see its details',
      'panel.cells': 'Grid cells',
      'panel.statusMix': 'Customer status mix',
      'panel.share': 'Share',
      'field.grid': 'Grid',
      'field.district': 'District',
      'field.type': 'Type',
      'field.source': 'Source',
      'field.units': 'Address units',
      'field.surveyed': 'Surveyed',
      'field.demand': 'Customers with demand',
      'field.coverage': 'Market-space info coverage',
      'field.penetration': 'Customer penetration',
      'field.revenue': 'Revenue (monthly)',
      'source.drawn': 'Drawn cell',
      'source.h3': 'H3 generated cell',
      'type.none': 'Unclassified',
      'type.specialist_market': 'Specialist market',
      'type.commercial_building': 'Commercial building',
      'type.street_shops': 'Street shops',
      'type.industrial_park': 'Industrial park',
      'type.campus': 'Campus',
      'type.hospital': 'Hospital',
      'type.hotel': 'Hotel',
      'type.government': 'Party / government / military',
      'type.residential': 'Residential',
      'type.mixed': 'Mixed',
      'status.stock': 'Stock',
      'status.competing': 'Competing',
      'status.other_network': 'Other network',
      'status.potential': 'Potential',
      'status.vacant': 'Vacant',
      'status.unknown': 'Not surveyed',
      'role.admin': 'Administrator',
      'role.city_manager': 'City manager',
      'role.regional_head': 'Regional head',
      'role.specialist_lead': 'Specialist lead',
      'role.grid_manager': 'Grid manager',
      'role.account_manager': 'Account manager',
      'role.planner': 'Planner',
    },
  };

  // ColorBrewer YlGnBu 5 (colour-blind safe), low → high penetration
  const RAMP = ['#ffffcc', '#a1dab4', '#41b6c4', '#2c7fb8', '#253494'];
  const NO_DATA = '#bfc5cc';
  const N_CLASSES = 5;
  const STATUSES = [
    { key: 'stock', color: '#1c7ed6' },
    { key: 'competing', color: '#74c0fc' },
    { key: 'other_network', color: '#e8590c' },
    { key: 'potential', color: '#fcc419' },
    { key: 'vacant', color: '#dee2e6' },
    { key: 'unknown', color: '#868e96' },
  ];
  const CELL_STYLE = { weight: 0.6, color: '#ffffff', opacity: 0.9, fillOpacity: 0.82 };
  // hover and selection are outlines drawn above the district lines; the selection has a white halo
  const HOVER_STYLES = [{ weight: 3, color: '#fd7e14', opacity: 1, fill: false }];
  const SELECTED_STYLES = [
    { weight: 7, color: '#ffffff', opacity: 0.95, fill: false },
    { weight: 3.5, color: '#e8590c', opacity: 1, fill: false },
  ];

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

  // html`...` escapes every interpolated value unless it is already html (Raw)
  class Raw { constructor(s) { this.s = s; } toString() { return this.s; } }
  const toHtml = (v) => {
    if (v instanceof Raw) return v.s;
    if (Array.isArray(v)) return v.map(toHtml).join('');
    if (v === null || v === undefined || v === false) return '';
    return esc(v);
  };
  const html = (strings, ...values) =>
    new Raw(strings.reduce((out, s, i) => out + s + (i < values.length ? toHtml(values[i]) : ''), ''));

  const nfInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const nfMoney = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const pct = (v) => (isNum(v) ? `${(v * 100).toFixed(1)}%` : t('legend.nodata'));
  const int = (v) => (isNum(v) ? nfInt.format(v) : '—');
  const money = (v) => (isNum(v) ? `¥${nfMoney.format(v)}` : '—');
  const ratio = (num, den) => (den > 0 ? num / den : null);

  function readConfig() {
    try {
      return JSON.parse($('gm-config').textContent || '{}') || {};
    } catch (_) {
      return {};
    }
  }

  const CONFIG = readConfig();

  // ---------------------------------------------------------------- state

  const state = {
    lang: 'zh-CN',
    user: null,
    csrf: null,
    cities: [],
    city: null,
    cells: null,
    classes: [],
    selected: null, // cell layer
    hoverOutline: null,
    selectedOutline: null,
    map: null,
    cellLayer: null,
    districtLayers: [],
    loadSeq: 0,
    loginErrorKey: null,
    statusKey: null,
  };

  function t(key) {
    const dict = I18N[state.lang] || I18N['zh-CN'];
    return dict[key] ?? I18N['zh-CN'][key] ?? key;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || `HTTP ${status}`);
      this.status = status;
    }
  }

  async function api(path, { method = 'GET', body } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    const res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return null;
    const type = res.headers.get('content-type') || '';
    const data = type.includes('json') ? await res.json().catch(() => null) : null;
    if (!res.ok) throw new ApiError(res.status, data && typeof data.detail === 'string' ? data.detail : null);
    return data;
  }

  // ---------------------------------------------------------------- language

  function setLang(lang) {
    state.lang = I18N[lang] ? lang : 'zh-CN';
    try { localStorage.setItem('gm-lang', state.lang); } catch (_) { /* private mode */ }
    applyLang();
  }

  function applyLang() {
    document.documentElement.lang = state.lang;
    document.title = `${t('app.title')} · gridmarket`;
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll('.gm-lang-btn').forEach((b) => {
      b.setAttribute('aria-pressed', String(b.dataset.lang === state.lang));
    });
    $('gm-panel-close').title = t('panel.close');
    $('gm-panel-close').setAttribute('aria-label', t('panel.close'));
    if (state.loginErrorKey) showLoginError(state.loginErrorKey);
    if (state.statusKey) setMapStatus(state.statusKey, $('gm-map-status').classList.contains('is-error'));
    renderUser();
    if (state.map) {
      const zin = document.querySelector('.leaflet-control-zoom-in');
      const zout = document.querySelector('.leaflet-control-zoom-out');
      if (zin) { zin.title = t('map.zoomin'); zin.setAttribute('aria-label', t('map.zoomin')); }
      if (zout) { zout.title = t('map.zoomout'); zout.setAttribute('aria-label', t('map.zoomout')); }
    }
    renderLegend();
    renderPanel();
  }

  // ---------------------------------------------------------------- login / logout

  function showLoginError(key) {
    state.loginErrorKey = key;
    const el = $('gm-login-error');
    el.hidden = !key;
    el.textContent = key ? t(key) : '';
  }

  function showLogin(errorKey = null) {
    teardownMap();
    state.user = null;
    state.csrf = null;
    document.body.classList.remove('is-app');
    document.body.classList.add('is-login');
    $('gm-app').hidden = true;
    $('gm-header-tools').hidden = true;
    $('gm-user').hidden = true;
    $('gm-login').hidden = false;
    showLoginError(errorKey);
    $('gm-username').focus();
  }

  function startSession(session) {
    state.user = session.user;
    state.csrf = session.csrf_token || null;
    document.body.classList.remove('is-login');
    document.body.classList.add('is-app');
    $('gm-login').hidden = true;
    $('gm-app').hidden = false;
    $('gm-user').hidden = false;
    showLoginError(null);
    renderUser();
    initMap();
    loadCities();
  }

  function renderUser() {
    const u = state.user;
    if (!u) return;
    const roleName = (state.lang === 'en' ? u.role_name_en : u.role_name_zh) || t(`role.${u.role}`);
    $('gm-user-name').textContent = u.username;
    $('gm-user-role').textContent = u.scope_name ? `${roleName} · ${u.scope_name}` : roleName;
    $('gm-avatar').textContent = (u.username || '?').slice(0, 1).toUpperCase();
  }

  async function onLoginSubmit(ev) {
    ev.preventDefault();
    const username = $('gm-username').value.trim();
    const password = $('gm-password').value;
    if (!username || !password) { showLoginError('login.err.missing'); return; }
    const btn = $('gm-login-submit');
    btn.disabled = true;
    btn.dataset.i18n = 'login.busy';
    btn.textContent = t('login.busy');
    try {
      const session = await api('/api/v1/auth/login', { method: 'POST', body: { username, password } });
      $('gm-password').value = '';
      startSession(session);
    } catch (err) {
      const key = !(err instanceof ApiError) ? 'login.err.net'
        : err.status === 429 ? 'login.err.rate'
          : err.status >= 500 ? 'login.err.server' : 'login.err.bad';
      showLoginError(key);
      $('gm-password').select();
    } finally {
      btn.disabled = false;
      btn.dataset.i18n = 'login.submit';
      btn.textContent = t('login.submit');
    }
  }

  async function logout() {
    try {
      await api('/api/v1/auth/logout', { method: 'POST' });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) console.warn('logout failed', err);
    }
    showLogin();
  }

  // any 401 after login means the session has ended
  function handleApiFailure(err) {
    if (err instanceof ApiError && err.status === 401) { showLogin('login.err.expired'); return true; }
    return false;
  }

  // ---------------------------------------------------------------- map

  function initMap() {
    if (state.map) return;
    const map = L.map('gm-map', {
      preferCanvas: true,
      renderer: L.canvas({ padding: 0.3 }),
      zoomControl: false,
      zoomSnap: 0.25,
      minZoom: 3,
      maxZoom: 19,
    });
    L.control.zoom({ position: 'topright', zoomInTitle: t('map.zoomin'), zoomOutTitle: t('map.zoomout') }).addTo(map);
    L.control.scale({ imperial: false, position: 'bottomright' }).addTo(map);
    map.attributionControl.setPrefix('Leaflet');

    // district fill below the cells, district outlines above them (never catching the mouse)
    map.createPane('gm-district-fill').style.zIndex = 350;
    map.createPane('gm-district-line').style.zIndex = 450;
    map.getPane('gm-district-line').style.pointerEvents = 'none';
    map.createPane('gm-highlight').style.zIndex = 460;
    map.getPane('gm-highlight').style.pointerEvents = 'none';
    state.highlightRenderer = L.canvas({ pane: 'gm-highlight' });

    if (CONFIG.tile_url) {
      L.tileLayer(CONFIG.tile_url, { attribution: esc(CONFIG.tile_attribution || ''), maxZoom: 19 }).addTo(map);
    }
    map.on('click', () => selectCell(null));
    state.map = map;

    if (window.ResizeObserver) {
      state.resizeObserver = new ResizeObserver(() => map.invalidateSize({ debounceMoveend: true }));
      state.resizeObserver.observe($('gm-map'));
    }
  }

  function teardownMap() {
    state.loadSeq += 1; // drop any load in flight
    document.body.removeAttribute('data-ready');
    if (state.resizeObserver) { state.resizeObserver.disconnect(); state.resizeObserver = null; }
    if (state.map) { state.map.remove(); state.map = null; }
    Object.assign(state, {
      cities: [], city: null, cells: null, classes: [], selected: null, cellLayer: null, districtLayers: [],
      hoverOutline: null, selectedOutline: null, highlightRenderer: null,
    });
    delete window.gmMap;
    setMapStatus(null);
    renderLegend();
    renderPanel();
    $('gm-panel').classList.remove('is-open');
  }

  function setMapStatus(key, isError = false) {
    state.statusKey = key;
    const box = $('gm-map-status');
    box.hidden = !key;
    box.classList.toggle('is-error', Boolean(key) && isError);
    $('gm-map-status-text').textContent = key ? t(key) : '';
  }

  async function loadCities() {
    const seq = ++state.loadSeq;
    setMapStatus('map.loading');
    let cities;
    try {
      cities = (await api('/api/v1/cities')).cities || [];
    } catch (err) {
      if (seq === state.loadSeq && !handleApiFailure(err)) setMapStatus('map.error', true);
      return;
    }
    if (seq !== state.loadSeq) return;
    state.cities = cities;
    renderCityPicker();
    if (!cities.length) {
      setMapStatus('map.nocity');
      markReady();
      return;
    }
    // the main city: the first with the most units
    const main = cities.reduce((best, c) => ((c.units || 0) > (best.units || 0) ? c : best), cities[0]);
    await loadCity(main.code);
  }

  function renderCityPicker() {
    const cities = state.cities;
    $('gm-header-tools').hidden = !cities.length;
    const select = $('gm-city-select');
    select.replaceChildren(...cities.map((c) => new Option(c.name, c.code)));
    $('gm-city-wrap').hidden = cities.length < 2;
    $('gm-city-name').hidden = cities.length !== 1;
    $('gm-city-name').textContent = cities.length === 1 ? cities[0].name : '';
  }

  async function loadCity(code) {
    const seq = ++state.loadSeq;
    document.body.removeAttribute('data-ready');
    state.city = state.cities.find((c) => c.code === code) || null;
    $('gm-city-select').value = code;
    setMapStatus('map.loading');
    const base = `/api/v1/cities/${encodeURIComponent(code)}`;
    let districts;
    let cells;
    try {
      [districts, cells] = await Promise.all([api(`${base}/districts`), api(`${base}/cells`)]);
    } catch (err) {
      if (seq === state.loadSeq && !handleApiFailure(err)) setMapStatus('map.error', true);
      return;
    }
    if (seq !== state.loadSeq || !state.map) return;
    draw(districts, cells);
    setMapStatus(cells.features && cells.features.length ? null : 'map.nocells');
    markReady();
  }

  function markReady() {
    // flag the page as drawn once the canvas has painted
    const seq = state.loadSeq;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      if (seq === state.loadSeq) document.body.dataset.ready = '1';
    }));
  }

  /** Quantile classes over the values: non-empty, non-overlapping [min, max] ranges of actual values. */
  function quantileClasses(values, k = N_CLASSES) {
    const sorted = values.filter(isNum).sort((a, b) => a - b);
    if (!sorted.length) return [];
    const uniq = [];
    const cum = []; // number of values ≤ uniq[i]
    sorted.forEach((v, i) => {
      if (uniq.length && uniq[uniq.length - 1] === v) cum[cum.length - 1] = i + 1;
      else { uniq.push(v); cum.push(i + 1); }
    });
    const n = sorted.length;
    const m = Math.min(k, uniq.length);
    const ends = [];
    let prev = -1;
    for (let i = 1; i < m; i++) {
      // cut where the running count is nearest i/m of the values, keeping room for the classes left
      const target = (n * i) / m;
      const last = uniq.length - (m - i) - 1;
      let best = prev + 1;
      for (let j = prev + 2; j <= last; j++) {
        if (Math.abs(cum[j] - target) < Math.abs(cum[best] - target)) best = j;
      }
      ends.push(best);
      prev = best;
    }
    ends.push(uniq.length - 1);
    const colours = m === 1 ? [RAMP[2]] : ends.map((_, i) => RAMP[Math.round((i * (RAMP.length - 1)) / (m - 1))]);
    let start = 0;
    return ends.map((end, i) => {
      const cls = { min: uniq[start], max: uniq[end], color: colours[i], count: cum[end] - (start ? cum[start - 1] : 0) };
      start = end + 1;
      return cls;
    });
  }

  function colorFor(value) {
    if (!isNum(value)) return NO_DATA;
    const cls = state.classes.find((c) => value >= c.min && value <= c.max);
    return cls ? cls.color : NO_DATA;
  }

  const cellCode = (f) => (f.id !== undefined && f.id !== null ? String(f.id) : String(f.properties.code));

  function draw(districtsFc, cellsFc) {
    const map = state.map;
    if (state.cellLayer) state.cellLayer.remove();
    state.districtLayers.forEach((l) => l.remove());
    state.hoverOutline = outline(state.hoverOutline, null);
    state.selectedOutline = outline(state.selectedOutline, null);
    state.selected = null;

    const features = (cellsFc && cellsFc.features) || [];
    state.cells = features;
    state.classes = quantileClasses(features.map((f) => f.properties.penetration));
    const colorOf = {};

    const fillRenderer = L.canvas({ pane: 'gm-district-fill' });
    const lineRenderer = L.canvas({ pane: 'gm-district-line' });
    const districtFill = L.geoJSON(districtsFc, {
      renderer: fillRenderer,
      interactive: false,
      style: { stroke: false, fillColor: '#f8f9fb', fillOpacity: 1 },
    }).addTo(map);
    const districtLine = L.geoJSON(districtsFc, {
      renderer: lineRenderer,
      interactive: false,
      style: { weight: 2.2, color: '#1b2a3a', opacity: 0.85, fill: false },
      onEachFeature: (f, layer) => {
        const name = f.properties && f.properties.name;
        if (name) {
          layer.bindTooltip(esc(name), { permanent: true, direction: 'center', className: 'gm-district-label', opacity: 1 });
        }
      },
    }).addTo(map);
    state.districtLayers = [districtFill, districtLine];

    const cellLayer = L.geoJSON(cellsFc, {
      style: (f) => {
        const color = colorFor(f.properties.penetration);
        colorOf[cellCode(f)] = color;
        return { ...CELL_STYLE, fillColor: color };
      },
      onEachFeature: (f, layer) => {
        layer.bindTooltip(() => tooltipHtml(f.properties), { sticky: true, direction: 'top', offset: [0, -8], className: 'gm-tip' });
        layer.on({
          mouseover: () => { state.hoverOutline = outline(state.hoverOutline, f, HOVER_STYLES); },
          mouseout: () => { state.hoverOutline = outline(state.hoverOutline, null); },
          click: (ev) => {
            L.DomEvent.stopPropagation(ev);
            selectCell(layer);
          },
        });
      },
    }).addTo(map);
    state.cellLayer = cellLayer;

    const city = state.city;
    let bounds = null;
    if (city && Array.isArray(city.bbox) && city.bbox.length === 4 && city.bbox.every(isNum)) {
      const [minx, miny, maxx, maxy] = city.bbox;
      bounds = L.latLngBounds([miny, minx], [maxy, maxx]);
    }
    if (!bounds || !bounds.isValid()) bounds = cellLayer.getBounds();
    if (!bounds.isValid()) bounds = districtLine.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24] });
    else map.setView([35, 105], 4);

    window.gmMap = {
      map,
      cellLayer,
      classes: state.classes.map(({ min, max, color }) => ({ min, max, color })),
      colorOf,
      noDataColor: NO_DATA,
      city: city ? city.code : null,
    };
    renderLegend();
    renderPanel();
  }

  /** Replace an outline overlay (or remove it when feature is null); returns the new overlay. */
  function outline(current, feature, styles = []) {
    if (current) current.remove();
    if (!feature || !state.map) return null;
    const group = L.layerGroup(styles.map((style) => L.geoJSON(feature, {
      pane: 'gm-highlight', renderer: state.highlightRenderer, interactive: false, style,
    })));
    return group.addTo(state.map);
  }

  function selectCell(layer) {
    state.selected = layer;
    state.selectedOutline = outline(state.selectedOutline, layer ? layer.feature : null, SELECTED_STYLES);
    $('gm-panel').classList.toggle('is-open', Boolean(layer));
    renderPanel();
  }

  // ---------------------------------------------------------------- legend, tooltip, panel

  function renderLegend() {
    const list = $('gm-legend-items');
    const classes = state.classes;
    $('gm-legend').hidden = !state.cells;
    if (!state.cells) { list.replaceChildren(); return; }
    const nulls = state.cells.filter((f) => !isNum(f.properties.penetration)).length;
    const range = (c) => (c.min === c.max ? pct(c.min) : `${pct(c.min)} – ${pct(c.max)}`);
    const item = (color, label, count, extra) => html`
      <li class="gm-legend-item${extra}" data-color="${color}">
        <span class="gm-swatch" style="background:${color}"></span>
        <span class="gm-legend-label">${label}</span>
        <span class="gm-legend-count">${int(count)}</span>
      </li>`;
    list.innerHTML = toHtml([
      ...classes.slice().reverse().map((c) => item(c.color, range(c), c.count, '')),
      item(NO_DATA, t('legend.nodata'), nulls, ' is-nodata'),
    ]);
  }

  function tooltipHtml(p) {
    return html`
      <div class="gm-tip-name">${p.name || p.code}</div>
      <div class="gm-tip-row"><span>${t('field.penetration')}</span><b>${pct(p.penetration)}</b></div>
      <div class="gm-tip-row"><span>${t('field.units')}</span><b>${int(p.units)}</b></div>`.s;
  }

  function statusMix(counts, units) {
    const bar = STATUSES.map((s) => {
      const n = counts[s.key] || 0;
      return n > 0 && units > 0
        ? html`<span style="width:${((100 * n) / units).toFixed(3)}%;background:${s.color}" title="${t(`status.${s.key}`)} ${int(n)}"></span>`
        : '';
    });
    const rows = STATUSES.map((s) => html`
      <tr>
        <td><span class="gm-dot" style="background:${s.color}"></span>${t(`status.${s.key}`)}</td>
        <td class="gm-num">${int(counts[s.key] || 0)}</td>
        <td class="gm-num gm-muted">${pct(ratio(counts[s.key] || 0, units))}</td>
      </tr>`);
    return html`
      <h3 class="gm-section-title">${t('panel.statusMix')}</h3>
      <div class="gm-mixbar" aria-hidden="true">${bar}</div>
      <table class="gm-status-table">
        <thead><tr><th></th><th class="gm-num">${t('field.units')}</th><th class="gm-num">${t('panel.share')}</th></tr></thead>
        <tbody>${rows}</tbody>
      </table>`;
  }

  const countsOf = (p) => Object.fromEntries(STATUSES.map((s) => [s.key, p[`n_${s.key}`] || 0]));

  function kpis(penetration, coverage, revenue) {
    return html`
      <div class="gm-kpis">
        <div class="gm-kpi gm-kpi-main">
          <span class="gm-kpi-label">${t('field.penetration')}</span>
          <span class="gm-kpi-value"><span class="gm-swatch" style="background:${colorFor(penetration)}"></span>${pct(penetration)}</span>
        </div>
        <div class="gm-kpi">
          <span class="gm-kpi-label">${t('field.coverage')}</span>
          <span class="gm-kpi-value">${pct(coverage)}</span>
        </div>
        <div class="gm-kpi">
          <span class="gm-kpi-label">${t('field.revenue')}</span>
          <span class="gm-kpi-value">${money(revenue)}</span>
        </div>
      </div>`;
  }

  function cellCard(p) {
    const type = p.type ? (I18N[state.lang][`type.${p.type}`] ? t(`type.${p.type}`) : p.type) : t('type.none');
    const source = p.source ? t(`source.${p.source}`) : '';
    const grid = p.grid_name ? (p.grid_code ? `${p.grid_name}（${p.grid_code}）` : p.grid_name) : p.grid_code;
    return html`
      <div class="gm-card" data-cell="${p.code}">
        <div class="gm-card-head">
          <h2 class="gm-card-title">${p.name || p.code}</h2>
          <div class="gm-card-code">${p.code}${source ? html` · <span class="gm-badge gm-badge-${p.source}">${source}</span>` : ''}</div>
        </div>
        <dl class="gm-kv">
          <dt>${t('field.grid')}</dt><dd>${grid || '—'}</dd>
          <dt>${t('field.district')}</dt><dd>${p.district_name || '—'}</dd>
          <dt>${t('field.type')}</dt><dd>${type}</dd>
        </dl>
        ${kpis(p.penetration, p.coverage, p.revenue)}
        <dl class="gm-kv gm-kv-nums">
          <dt>${t('field.units')}</dt><dd>${int(p.units)}</dd>
          <dt>${t('field.surveyed')}</dt><dd>${int(p.surveyed)}</dd>
          <dt>${t('field.demand')}</dt><dd>${int(p.demand)}</dd>
        </dl>
        ${statusMix(countsOf(p), p.units || 0)}
      </div>`;
  }

  function overviewCard() {
    const cells = state.cells || [];
    const sum = (key) => cells.reduce((acc, f) => acc + (Number(f.properties[key]) || 0), 0);
    const units = sum('units');
    const counts = Object.fromEntries(STATUSES.map((s) => [s.key, sum(`n_${s.key}`)]));
    const demand = counts.stock + counts.competing + counts.other_network + counts.potential;
    const city = state.city;
    return html`
      <div class="gm-card gm-overview">
        <div class="gm-card-head">
          <div class="gm-eyebrow">${t('panel.overview')}</div>
          <h2 class="gm-card-title">${city ? city.name : '—'}</h2>
        </div>
        ${kpis(ratio(counts.stock + counts.competing, demand), ratio(units - counts.unknown, units), sum('revenue'))}
        <dl class="gm-kv gm-kv-nums">
          <dt>${t('panel.cells')}</dt><dd>${int(cells.length)}</dd>
          <dt>${t('field.units')}</dt><dd>${int(units)}</dd>
          <dt>${t('field.demand')}</dt><dd>${int(demand)}</dd>
        </dl>
        ${statusMix(counts, units)}
        <p class="gm-hint">${t('panel.hint')}</p>
      </div>`;
  }

  function renderPanel() {
    const body = $('gm-panel-body');
    const layer = state.selected;
    $('gm-panel-close').hidden = !layer;
    if (!state.cells) { body.replaceChildren(); return; }
    body.innerHTML = (layer ? cellCard(layer.feature.properties) : overviewCard()).s;
  }

  // ---------------------------------------------------------------- start

  async function boot() {
    let lang = 'zh-CN';
    try { lang = localStorage.getItem('gm-lang') || lang; } catch (_) { /* private mode */ }
    state.lang = I18N[lang] ? lang : 'zh-CN';
    applyLang();

    $('gm-login-form').addEventListener('submit', onLoginSubmit);
    $('gm-logout').addEventListener('click', logout);
    $('gm-city-select').addEventListener('change', (ev) => loadCity(ev.target.value));
    $('gm-panel-close').addEventListener('click', () => selectCell(null));
    document.querySelectorAll('.gm-lang-btn').forEach((b) => b.addEventListener('click', () => setLang(b.dataset.lang)));
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && state.selected) selectCell(null); });

    try {
      startSession(await api('/api/v1/auth/me'));
    } catch (err) {
      if (!(err instanceof ApiError)) showLogin('login.err.net');
      else showLogin(err.status >= 500 ? 'login.err.server' : null);
    }
  }

  boot();
})();
