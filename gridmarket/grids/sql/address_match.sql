-- Address import, step 1: match the staged rows (stage_unit) to stored units by address_id
-- (external_id). A stored unit whose point is unchanged keeps its cell (needs_cell false); new
-- units and moved ones go through the write-time cell assignment (units.assign_points).
UPDATE stage_unit s
SET unit_id = a.id,
    needs_cell = NOT (ST_X(a.geom) = s.lon AND ST_Y(a.geom) = s.lat)
FROM address_unit a
WHERE a.external_id = s.external_id;

UPDATE stage_unit SET needs_cell = true WHERE unit_id IS NULL;

CREATE UNIQUE INDEX ON stage_unit (row_no);

ANALYZE stage_unit
