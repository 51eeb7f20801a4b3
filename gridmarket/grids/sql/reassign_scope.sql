-- The address units a territory import must re-check (temp table reassign_scope):
-- 1. every unit of a cell whose district or city changed, or that was re-homed (parameter moved);
-- 2. the units of a redrawn drawn cell that its new outline no longer covers (parameter redrawn):
--    a unit still inside keeps its cell unless a new or redrawn cell covers it, and those are
--    found by reassign_covering.sql. The point-in-polygon test runs per unit against its own
--    cell (units of one cell in a row, so PostGIS reuses the prepared polygon).
INSERT INTO reassign_scope (unit_id)
SELECT a.id FROM address_unit a WHERE a.cell_id = ANY (CAST(:moved AS integer[]))
ON CONFLICT DO NOTHING;

INSERT INTO reassign_scope (unit_id)
SELECT a.id
FROM cell c
JOIN address_unit a ON a.cell_id = c.id
WHERE c.id = ANY (CAST(:redrawn AS integer[])) AND NOT ST_Intersects(c.geom, a.geom)
ON CONFLICT DO NOTHING
