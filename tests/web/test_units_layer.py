"""gmUnitsLayer (static/units_layer.js) in a real browser: vector tiles drawn on canvas, click → unit."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from gridmarket.grids.records import STATUS_NAMES
from tests.web.browser import ARTIFACTS, READY, Watched, log_in

COLORS = {
    "stock": "#1a9850",
    "competing": "#fee08b",
    "other_network": "#d73027",
    "potential": "#4575b4",
    "vacant": "#bdbdbd",
    "unknown": "#7b3294",
}

UNIT_TIP = ".leaflet-tooltip.gm-unit-tip"
AREA_TIP = ".leaflet-tooltip.gm-tip:not(.gm-unit-tip)"

ADD_LAYER_JS = """([lon, lat, zoom, colors]) => new Promise((resolve) => {
  window.gmTest = {clicks: [], aggClicks: []};
  const map = gmMap.map;
  map.setView([lat, lon], zoom, {animate: false});
  const layer = window.gmUnitsLayer(map, {
    statusColors: colors,
    onClick: (p) => window.gmTest.clicks.push(p),
    onAggregateClick: (p) => window.gmTest.aggClicks.push(p),
    tooltip: (p, aggregate) => (aggregate ? `AGG ${p.units}` : `UNIT ${p.external_id}`),
  });
  window.gmTest.layer = layer;
  layer.once('load', () => resolve(true));
})"""

# page coordinates of a WGS84 point, and the canvas pixel colour there
PIXEL_JS = """([lon, lat]) => {
  const map = gmMap.map;
  const p = map.latLngToContainerPoint([lat, lon]);
  const box = map.getContainer().getBoundingClientRect();
  return {x: box.left + p.x, y: box.top + p.y};
}"""

TILE_COUNT_JS = """() => {
  const tiles = Object.values(window.gmTest.layer._tiles);
  return {
    tiles: tiles.length,
    points: tiles.reduce((n, t) => n + t.el._gmFeatures.filter((f) => !f.agg).length, 0),
    aggregates: tiles.reduce((n, t) => n + t.el._gmFeatures.filter((f) => f.agg).length, 0),
  };
}"""


def _unit(engine: Engine) -> tuple[str, str, float, float]:
    """A unit of the demo standing alone (no other unit within ~15 m), so its dot is its own."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT a.external_id, r.status, ST_X(a.geom), ST_Y(a.geom) FROM address_unit a "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "WHERE a.retired_at IS NULL AND NOT EXISTS (SELECT 1 FROM address_unit b "
                "WHERE b.id <> a.id AND ST_DWithin(a.geom, b.geom, 0.00015)) "
                "ORDER BY a.id LIMIT 1"
            )
        ).one()
    return str(row[0]), str(row[1]), float(row[2]), float(row[3])


def _app_page(watched: Watched, live_server: str, credentials: tuple[str, str]) -> Page:
    """The web app's page, logged in, its map drawn."""
    page = watched.page
    page.goto(f"{live_server}/")
    log_in(page, *credentials)
    page.wait_for_selector(READY, timeout=30_000)
    return page


def test_units_layer_draws_and_clicks(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str], engine: Engine
) -> None:
    page = _app_page(watched, live_server, admin_credentials)
    assert page.evaluate("typeof window.gmUnitsLayer") == "function"

    ext, status, lon, lat = _unit(engine)
    assert page.evaluate(ADD_LAYER_JS, [lon, lat, 18, COLORS]) is True
    counts: dict[str, Any] = page.evaluate(TILE_COUNT_JS)
    assert counts["points"] >= 1 and counts["aggregates"] == 0

    # the dot of the unit is drawn in its status colour at its place
    at = page.evaluate(PIXEL_JS, [lon, lat])
    page.mouse.move(at["x"], at["y"])
    # (the app's own units layer shows its tooltip as well, under the same pointer)
    expect(page.locator(UNIT_TIP, has_text=f"UNIT {ext}")).to_be_visible()
    page.mouse.click(at["x"], at["y"])
    page.wait_for_function("window.gmTest.clicks.length > 0", timeout=5_000)
    clicks = page.evaluate("window.gmTest.clicks")
    assert clicks[-1]["external_id"] == ext
    assert clicks[-1]["status"] == status
    assert page.evaluate("gmMap.map.getContainer().classList.contains('gm-units-hover')")
    page.screenshot(path=str(ARTIFACTS / "units_layer.png"))

    # a click away from every dot calls nothing
    page.mouse.click(at["x"] + 60, at["y"] + 60)
    page.wait_for_timeout(200)
    assert len(page.evaluate("window.gmTest.clicks")) == len(clicks)

    # low zoom: aggregates only, clickable, the counts shown
    page.evaluate(
        """([lon, lat]) => new Promise((resolve) => {
          window.gmTest.layer.once('load', () => resolve(true));
          gmMap.map.setView([lat, lon], 13, {animate: false});
        })""",
        [lon, lat],
    )
    counts = page.evaluate(TILE_COUNT_JS)
    assert counts["points"] == 0 and counts["aggregates"] >= 1
    target = page.evaluate(
        """() => {
          const layer = window.gmTest.layer, map = gmMap.map, size = layer.getTileSize();
          const box = map.getContainer().getBoundingClientRect();
          for (const t of Object.values(layer._tiles)) {
            for (const f of t.el._gmFeatures) {
              const pt = L.point(t.coords.x * size.x + f.x, t.coords.y * size.y + f.y);
              const c = map.latLngToContainerPoint(map.unproject(pt, t.coords.z));
              const s = map.getSize();
              if (c.x > 300 && c.y > 80 && c.x < s.x - 80 && c.y < s.y - 60)
                return {x: box.left + c.x, y: box.top + c.y, units: f.props.units};
            }
          }
          return null;
        }"""
    )
    assert target is not None
    page.mouse.move(target["x"], target["y"])
    expect(page.locator(UNIT_TIP, has_text=f"AGG {target['units']}")).to_be_visible()
    page.mouse.click(target["x"], target["y"])
    page.wait_for_function("window.gmTest.aggClicks.length > 0", timeout=5_000)
    agg = page.evaluate("window.gmTest.aggClicks[0]")
    assert agg["units"] == target["units"] and agg["cell"]  # per cell at z 13 (per H3 cell at z 14)
    page.screenshot(path=str(ARTIFACTS / "units_layer_aggregated.png"))

    # refresh() fetches the tiles again; the session cookie, never a token in the URL
    before = len(watched.requests)
    page.evaluate(
        "() => new Promise((r) => { const l = window.gmTest.layer; l.once('load', () => r(true)); "
        "l.refresh(); })"
    )
    tile_urls = [u for u in watched.requests if "/tiles/units/" in u]
    assert len(watched.requests) > before and tile_urls
    assert all("token" not in u and "?" not in u for u in tile_urls)
    assert not watched.foreign_requests()
    assert not watched.errors, watched.errors


# the app's own units layer (added by app.js at start-up), and whether a unit's dot is decoded
# with the given room
APP_LAYER_JS = "Object.values(gmMap.map._layers).find((l) => l instanceof window.gmUnitsLayer.Layer)"
APP_LAYER_ROOM_JS = (
    "([ext, room]) => { const layer = "
    + APP_LAYER_JS
    + "; return Boolean(layer) && Object.values(layer._tiles).some((t) => (t.el._gmFeatures || []).some("
    + "(f) => !f.agg && f.props.external_id === ext && (f.props.room ?? null) === room)); }"
)
EVIL_ROOM = '<img src=x onerror="window.gmXss=1">室'  # must be shown as text


def test_app_dot_hover_shows_the_address_and_a_click_opens_its_card(
    watched: Watched, live_server: str, admin_credentials: tuple[str, str], engine: Engine
) -> None:
    page = _app_page(watched, live_server, admin_credentials)
    ext, status, lon, lat = _unit(engine)
    with engine.connect() as conn:
        building, floor, room = conn.execute(
            text(
                "SELECT b.code, a.floor, a.room FROM address_unit a "
                "LEFT JOIN building b ON b.id = a.building_id WHERE a.external_id = :e"
            ),
            {"e": ext},
        ).one()
    page.evaluate("([lat, lon]) => gmMap.map.setView([lat, lon], 18, {animate: false})", [lat, lon])
    page.wait_for_function(APP_LAYER_ROOM_JS, arg=[ext, room], timeout=15_000)
    at = page.evaluate(PIXEL_JS, [lon, lat])
    hovering_area = "gmMap.map.getContainer().classList.contains('gm-area-hover')"

    # beside the dot: the cell's tooltip
    page.mouse.move(at["x"] - 30, at["y"] - 30)
    expect(page.locator(AREA_TIP)).to_be_visible()

    # on the dot: the address's own tooltip (id, status, building · floor · room) instead of the
    # cell's, whose hover outline stays
    page.mouse.move(at["x"], at["y"])
    tip = page.locator(UNIT_TIP)
    expect(tip).to_be_visible()
    expect(tip.locator(".gm-tip-level")).to_contain_text(ext)
    expect(tip.locator(f'.gm-tip-main[data-status="{status}"] b')).to_have_text(STATUS_NAMES[status])
    place = [str(x) for x in (building, f"{floor} 层" if floor is not None else None, room) if x]
    assert place
    expect(tip).to_contain_text(" · ".join(place))
    expect(page.locator(AREA_TIP)).to_have_count(0)
    assert page.evaluate("gmMap.map.getContainer().classList.contains('gm-units-hover')")
    assert page.evaluate(hovering_area)
    page.screenshot(path=str(ARTIFACTS / "units_tooltip.png"))

    # off the dot: its tooltip goes, the cell's comes back
    page.mouse.move(at["x"] - 30, at["y"] - 30)
    expect(page.locator(UNIT_TIP)).to_have_count(0)
    expect(page.locator(AREA_TIP)).to_be_visible()

    # a room that is markup is shown as text, never run
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE address_unit SET room = :r WHERE external_id = :e"), {"r": EVIL_ROOM, "e": ext}
        )
    try:
        page.evaluate("() => " + APP_LAYER_JS + ".refresh()")
        page.wait_for_function(APP_LAYER_ROOM_JS, arg=[ext, EVIL_ROOM], timeout=15_000)
        page.mouse.move(at["x"], at["y"])
        expect(tip.locator(".gm-tip-name")).to_have_text(EVIL_ROOM)
        expect(tip.locator("img")).to_have_count(0)

        # a click on the dot opens the address card of that unit (and closes the dot's tooltip)
        page.mouse.click(at["x"], at["y"])
        card = page.locator(f'#gm-panel .gm-unit-card[data-unit="{ext}"]')
        expect(card).to_be_visible()
        expect(card.locator(".gm-unit-status")).to_have_text(STATUS_NAMES[status])
        expect(page.locator(UNIT_TIP)).to_have_count(0)
        assert page.evaluate("window.gmXss") is None
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE address_unit SET room = :r WHERE external_id = :e"), {"r": room, "e": ext}
            )
    assert not watched.foreign_requests()
    assert not watched.errors, watched.errors
