-- The `units` layer at the H3 zooms (between the cell zooms and the point zoom): never a point
-- per unit, but one point per H3 cell of a zoom-dependent resolution (parent of
-- address_unit.h3_12 by bit layout) at the mean position of all its units, with the number of
-- units per status. The units are read from the tile grown by :reach (the buffer plus a
-- hexagon's diameter), so every hexagon meeting the buffered tile is whole; a hexagon is kept
-- when its point lies in the buffered tile. Its point lies in exactly one tile, so the
-- features inside the tiles' squares (0..extent) of a zoom add up to the units once; those in
-- the buffer are the neighbours' (drawn whole by a renderer; counted by their own tile).
-- Parameters: z, x, y, extent, buffer, margin (= buffer / extent), reach, res;
-- {{scope}} = Scope.unit_sql("a", "r"); {{parent}} = the H3 parent of a.h3_12 at :res.
WITH bounds AS NOT MATERIALIZED (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :reach), 4326) AS filter,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326) AS keep
),
g AS (
    SELECT {{parent}} AS h3,
           count(*) AS units,
           count(*) FILTER (WHERE r.status = 'stock') AS n_stock,
           count(*) FILTER (WHERE r.status = 'competing') AS n_competing,
           count(*) FILTER (WHERE r.status = 'other_network') AS n_other_network,
           count(*) FILTER (WHERE r.status = 'potential') AS n_potential,
           count(*) FILTER (WHERE r.status = 'vacant') AS n_vacant,
           count(*) FILTER (WHERE r.status = 'unknown') AS n_unknown,
           mode() WITHIN GROUP (ORDER BY r.status) AS status,
           avg(ST_X(a.geom)) AS lon, avg(ST_Y(a.geom)) AS lat
    FROM bounds
    JOIN address_unit a ON a.geom && bounds.filter
    -- the current record looked up per unit (OFFSET 0 keeps the planner from a hash join over
    -- every current record, 0.5 s instead of 0.1 s for a z 14 tile of 50,000 units)
    CROSS JOIN LATERAL (
        SELECT r.status, r.customer_id FROM market_record r
        WHERE r.address_unit_id = a.id AND r.valid_to IS NULL OFFSET 0
    ) r
    WHERE a.retired_at IS NULL AND {{scope}}
    GROUP BY 1
)
SELECT ST_AsMVT(t, 'units_agg', :extent, 'geom')
FROM (
    SELECT ST_AsMVTGeom(ST_Transform(p.pt, 3857), bounds.tile, :extent, :buffer, true) AS geom,
           to_hex(g.h3) AS h3, CAST(:res AS integer) AS resolution, g.units,
           g.n_stock, g.n_competing, g.n_other_network, g.n_potential, g.n_vacant, g.n_unknown,
           g.status
    FROM g CROSS JOIN bounds
    CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(g.lon, g.lat), 4326) AS pt) p
    WHERE p.pt && bounds.keep
) t
