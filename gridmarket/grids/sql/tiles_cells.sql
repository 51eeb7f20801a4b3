-- The `cells` layer: the polygons of the cells the caller may read (Scope.cell_sql, as the
-- city's cells of /api/v1/cities/{code}/cells) meeting the tile, with the counts per status
-- (base aggregates cell_metric + pending cell_metric_delta rows, as grids/metrics.py reads
-- them) and the ratios of METRICS.md the map colours by (null when the denominator is 0).
-- Parameters: z, x, y, extent, buffer, margin; {{scope}} = Scope.cell_sql("c").
WITH bounds AS NOT MATERIALIZED (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326) AS filter
),
c AS (
    SELECT c.id, c.code, c.name, c.grid_id, c.type, c.geom
    FROM bounds JOIN cell c ON c.geom && bounds.filter
    WHERE {{scope}}
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
    SELECT c.id, c.code, c.name, c.grid_id, c.type, c.geom,
           (coalesce(b.units, 0) + coalesce(d.units, 0))::bigint AS units,
           (coalesce(b.n_stock, 0) + coalesce(d.s, 0))::bigint AS s,
           (coalesce(b.n_competing, 0) + coalesce(d.k, 0))::bigint AS k,
           (coalesce(b.n_other_network, 0) + coalesce(d.o, 0))::bigint AS o,
           (coalesce(b.n_potential, 0) + coalesce(d.p, 0))::bigint AS p,
           (coalesce(b.n_vacant, 0) + coalesce(d.v, 0))::bigint AS v,
           (coalesce(b.n_unknown, 0) + coalesce(d.u, 0))::bigint AS u
    FROM c LEFT JOIN cell_metric b ON b.cell_id = c.id LEFT JOIN d ON d.cell_id = c.id
)
SELECT ST_AsMVT(t, 'cells', :extent, 'geom', 'id')
FROM (
    SELECT m.geom, z.id, z.code, z.name, gr.code AS grid, z.type, z.units,
           z.s AS n_stock, z.k AS n_competing, z.o AS n_other_network, z.p AS n_potential,
           z.v AS n_vacant, z.u AS n_unknown,
           (z.units - z.u)::float8 / nullif(z.units, 0) AS coverage,
           (z.s + z.k)::float8 / nullif(z.s + z.k + z.o + z.p, 0) AS penetration,
           z.s::float8 / nullif(z.s + z.k, 0) AS exclusivity,
           z.o + z.p AS opportunity
    FROM z CROSS JOIN bounds
    JOIN grid gr ON gr.id = z.grid_id
    CROSS JOIN LATERAL (
        SELECT ST_AsMVTGeom(ST_Transform(z.geom, 3857), bounds.tile, :extent, :buffer, true) AS geom
    ) m
    WHERE m.geom IS NOT NULL
) t
