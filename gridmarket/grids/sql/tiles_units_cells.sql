-- The `units` layer at city zooms (below the H3 zooms): one point per cell the caller may read
-- the units of, at ST_PointOnSurface of the cell, with its counts per status from the metric
-- aggregates (cell_metric + pending cell_metric_delta rows, as grids/metrics.py reads them), so
-- a tile costs a lookup per cell, not a row per unit. A cell belongs to the one tile holding
-- its point, so the features inside the tiles' squares (0..extent) of a zoom add up to the
-- units once; the cells whose point is in the buffer are the neighbours' (drawn whole).
-- Used only when the caller's unit scope is a set of whole cells (grids/tiles.py).
-- Parameters: z, x, y, extent, buffer, margin (= buffer / extent); {{scope}} = a condition on cell c.
WITH bounds AS NOT MATERIALIZED (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326) AS filter
),
c AS (
    SELECT c.id, c.code, p.pt
    FROM bounds JOIN cell c ON c.geom && bounds.filter
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(c.geom) AS pt) p
    WHERE p.pt && bounds.filter AND {{scope}}
),
d AS (
    SELECT dd.cell_id, sum(dd.units) AS units, sum(dd.n_stock) AS s, sum(dd.n_competing) AS k,
           sum(dd.n_other_network) AS o, sum(dd.n_potential) AS p, sum(dd.n_vacant) AS v,
           sum(dd.n_unknown) AS u
    FROM cell_metric_delta dd
    WHERE dd.cell_id IN (SELECT c.id FROM c)
    GROUP BY dd.cell_id
),
z AS (
    SELECT c.code, c.pt,
           (coalesce(b.units, 0) + coalesce(d.units, 0))::bigint AS units,
           (coalesce(b.n_stock, 0) + coalesce(d.s, 0))::bigint AS s,
           (coalesce(b.n_competing, 0) + coalesce(d.k, 0))::bigint AS k,
           (coalesce(b.n_other_network, 0) + coalesce(d.o, 0))::bigint AS o,
           (coalesce(b.n_potential, 0) + coalesce(d.p, 0))::bigint AS p,
           (coalesce(b.n_vacant, 0) + coalesce(d.v, 0))::bigint AS v,
           (coalesce(b.n_unknown, 0) + coalesce(d.u, 0))::bigint AS u
    FROM c LEFT JOIN cell_metric b ON b.cell_id = c.id LEFT JOIN d ON d.cell_id = c.id
)
SELECT ST_AsMVT(t, 'units_agg', :extent, 'geom')
FROM (
    SELECT ST_AsMVTGeom(ST_Transform(z.pt, 3857), bounds.tile, :extent, :buffer, true) AS geom,
           z.code AS cell, z.units,
           z.s AS n_stock, z.k AS n_competing, z.o AS n_other_network, z.p AS n_potential,
           z.v AS n_vacant, z.u AS n_unknown,
           -- the most frequent status (ties: the first in this order)
           (ARRAY['stock', 'competing', 'other_network', 'potential', 'vacant', 'unknown'])[
               array_position(ARRAY[z.s, z.k, z.o, z.p, z.v, z.u], greatest(z.s, z.k, z.o, z.p, z.v, z.u))
           ] AS status
    FROM z CROSS JOIN bounds
    WHERE z.units > 0
) t
