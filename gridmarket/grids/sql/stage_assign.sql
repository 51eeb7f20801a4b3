-- Assign each staged address its drawn cell; rows outside every drawn cell get their H3 hexagon
-- at the configured resolution (:res), from which the loader creates generated cells.
-- The drawn-cell probe is one GiST index scan per row (idx_cell_geom); see bench/ for figures.
CREATE TEMP TABLE stage_assigned ON COMMIT DROP AS
SELECT s.*, p.geom,
       (SELECT c.id FROM cell c
         WHERE c.source = 'drawn' AND ST_Intersects(c.geom, p.geom)
         ORDER BY c.id LIMIT 1) AS cell_id,
       NULL::bigint AS hex
FROM stage_unit s
CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom) p;

UPDATE stage_assigned s SET hex = :parent_expr WHERE s.cell_id IS NULL;

CREATE INDEX ON stage_assigned (hex);

CREATE INDEX ON stage_assigned (external_id);

ANALYZE stage_assigned;
