-- The `units` layer at street zoom: one point per address unit the caller may read, in one
-- ST_AsMVT statement. The bbox filter is in 4326 on address_unit.geom (GiST
-- idx_address_unit_geom); the envelope grows by the buffer so that points near an edge are in
-- both tiles (a renderer draws whole circles and a click near an edge hits the point).
-- Parameters: z, x, y, extent, buffer, margin (= buffer / extent); {{scope}} = Scope.unit_sql("a", "r").
--
-- Plan (1,000,000-unit demo, z 16 tile in 杭州市, 4,526 units in 317 buildings, admin; EXPLAIN
-- ANALYZE ≈ 23 ms, 12 ms a tile on average over the bench's street tiles without EXPLAIN):
--   Aggregate
--     -> Nested Loop Left Join
--          -> Nested Loop
--               -> Bitmap Heap Scan on address_unit a  Filter: (retired_at IS NULL)
--                    -> Bitmap Index Scan on idx_address_unit_geom  Index Cond: (geom && <tile in 4326>)
--               -> Index Scan using market_record_unit_validity on market_record r  (address_unit_id = a.id)
--          -> Memoize  Cache Key: a.building_id  Hits: 4209  Misses: 317
--               -> Index Scan using building_pkey on building b
-- The building code is a LATERAL subquery with OFFSET 0: the units of a building lie together,
-- so a Memoize node looks each building up once (a scalar subquery looked it up per unit, +4 ms;
-- a plain LEFT JOIN made the planner hash all 170,000 buildings, +30 ms). The plan depends on
-- the tile's bounds: the statement is planned for each tile's values (grids.tiles.tile runs it
-- unprepared; a generic plan of the prepared statement lost the Memoize, +3 ms).
WITH bounds AS NOT MATERIALIZED (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326) AS filter
)
SELECT ST_AsMVT(t, 'units', :extent, 'geom', 'id')
FROM (
    SELECT ST_AsMVTGeom(ST_Transform(a.geom, 3857), bounds.tile, :extent, :buffer, true) AS geom,
           a.id, a.external_id, r.status, bu.code AS building, a.floor, a.room
    FROM bounds
    JOIN address_unit a ON a.geom && bounds.filter
    -- the current record looked up per unit (OFFSET 0 keeps the planner from a hash join over
    -- every current record, 0.5 s instead of 0.1 s for a z 14 tile of 50,000 units)
    CROSS JOIN LATERAL (
        SELECT r.status, r.customer_id FROM market_record r
        WHERE r.address_unit_id = a.id AND r.valid_to IS NULL OFFSET 0
    ) r
    LEFT JOIN LATERAL (SELECT b.code FROM building b WHERE b.id = a.building_id OFFSET 0) bu ON true
    WHERE a.retired_at IS NULL AND {{scope}}
) t
