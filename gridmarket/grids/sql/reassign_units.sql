-- Apply a reassignment (temp table reassign_assigned, filled by units.assign_points from the
-- units in reassign_scope) in the caller's transaction. Statement order matters; units.py reads
-- each statement's row count in this order. On the 1,000,000-unit demo, moving 165,000 units
-- (8,000 cells redrawn 10 m smaller, 3,869 generated cells created) takes about 18 s here,
-- most of it the address_unit rows and their indexes.
-- 1. units whose cell or city changes (only those rows are written: IS DISTINCT FROM guard);
UPDATE address_unit a
SET cell_id = p.cell_id, city_id = c.city_id
FROM reassign_assigned p
JOIN cell c ON c.id = p.cell_id
WHERE a.id = p.unit_id
  AND (a.cell_id, a.city_id) IS DISTINCT FROM (p.cell_id, c.city_id);

-- 2. every version of their market records follows the unit's city (the shard key); nothing
--    else of a record changes;
UPDATE market_record m
SET city_id = a.city_id
FROM reassign_assigned p
JOIN address_unit a ON a.id = p.unit_id
WHERE m.address_unit_id = p.unit_id
  AND m.city_id IS DISTINCT FROM a.city_id;

-- 3. a building's cell is the cell of its first unit (as at write time);
UPDATE building b
SET cell_id = u.cell_id
FROM (
    SELECT DISTINCT ON (a.building_id) a.building_id, a.cell_id
    FROM address_unit a
    WHERE a.building_id IN (
        SELECT x.building_id FROM reassign_assigned x
        WHERE x.building_id IS NOT NULL AND x.old_cell_id IS DISTINCT FROM x.cell_id
    )
    ORDER BY a.building_id, a.id
) u
WHERE b.id = u.building_id
  AND b.cell_id IS DISTINCT FROM u.cell_id;

-- 4. generated cells the moved units left, now holding no unit and referenced by nothing.
DELETE FROM cell c
WHERE c.source = 'h3'
  AND c.id IN (
      SELECT p.old_cell_id FROM reassign_assigned p WHERE p.old_cell_id IS DISTINCT FROM p.cell_id
  )
  AND NOT EXISTS (SELECT 1 FROM address_unit a WHERE a.cell_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM assignment s WHERE s.cell_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM feature_grid_cell f WHERE f.cell_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM building b WHERE b.cell_id = c.id)
