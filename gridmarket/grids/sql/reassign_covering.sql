-- The address units that may move into a new or redrawn drawn cell (parameter covering): those
-- inside a new cell, or inside a redrawn cell's new outline but not its old one (temp table
-- cell_before; a unit inside both is already the cell's own or belongs to a lower-id cell that
-- still holds it). Nested loop over the cells with a GiST probe on idx_address_unit_geom each;
-- point tests against one cell in a row, so PostGIS reuses the prepared polygons. (Measuring the
-- gained part with ST_Difference first was slower: the overlay costs more than the point tests.)
INSERT INTO reassign_scope (unit_id)
SELECT a.id
FROM cell c
LEFT JOIN cell_before b ON b.id = c.id
JOIN address_unit a ON a.geom && c.geom AND ST_Intersects(c.geom, a.geom)
WHERE c.id = ANY (CAST(:covering AS integer[]))
  AND (b.id IS NULL OR NOT ST_Intersects(b.geom, a.geom))
ON CONFLICT DO NOTHING
