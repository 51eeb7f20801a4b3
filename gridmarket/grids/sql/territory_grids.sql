-- Upsert the staged grids, then cells, then characteristic grids (statements in this order;
-- grids.territory_write reads each one's RETURNING). Only rows that change are written (IS
-- DISTINCT FROM guards). A grid takes its city from its district; a cell its district and city
-- from its grid; a characteristic grid the city resolved during validation.
INSERT INTO grid AS t (code, name, city_id, district_id, kind, geom, area_km2)
SELECT s.code, s.name, d.city_id, d.id, 'drawn', s.geom, s.area_km2
FROM stage_grid s
JOIN region d ON d.code = s.district_code
WHERE s.level = 'grid'
ORDER BY s.row_no
ON CONFLICT (code) DO UPDATE
SET name = EXCLUDED.name, city_id = EXCLUDED.city_id, district_id = EXCLUDED.district_id,
    geom = EXCLUDED.geom, area_km2 = EXCLUDED.area_km2
WHERE (t.name, t.city_id, t.district_id, t.geom, t.area_km2)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.city_id, EXCLUDED.district_id, EXCLUDED.geom, EXCLUDED.area_km2)
RETURNING t.id, (t.xmax = 0) AS inserted;

INSERT INTO cell AS t (code, name, city_id, district_id, grid_id, type, source, geom, area_km2)
SELECT s.code, s.name, g.city_id, g.district_id, g.id, s.type, 'drawn', s.geom, s.area_km2
FROM stage_grid s
JOIN grid g ON g.code = s.parent_code
WHERE s.level = 'cell'
ORDER BY s.row_no
ON CONFLICT (code) DO UPDATE
SET name = EXCLUDED.name, city_id = EXCLUDED.city_id, district_id = EXCLUDED.district_id,
    grid_id = EXCLUDED.grid_id, type = EXCLUDED.type, geom = EXCLUDED.geom, area_km2 = EXCLUDED.area_km2
WHERE (t.name, t.city_id, t.district_id, t.grid_id, t.type, t.geom, t.area_km2)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.city_id, EXCLUDED.district_id, EXCLUDED.grid_id,
                        EXCLUDED.type, EXCLUDED.geom, EXCLUDED.area_km2)
RETURNING t.id, (t.xmax = 0) AS inserted;

-- cells not in the file follow a grid that moved to another district
UPDATE cell c
SET district_id = g.district_id, city_id = g.city_id
FROM grid g
WHERE g.id = c.grid_id
  AND g.code IN (SELECT s.code FROM stage_grid s WHERE s.level = 'grid')
  AND (c.district_id, c.city_id) IS DISTINCT FROM (g.district_id, g.city_id)
RETURNING c.id, false AS inserted;

INSERT INTO feature_grid AS t (code, name, city_id, type, industries, geom)
SELECT s.code, s.name, s.city_id, s.type, s.industries, s.geom
FROM stage_grid s
WHERE s.level = 'feature_grid'
ORDER BY s.row_no
ON CONFLICT (code) DO UPDATE
SET name = EXCLUDED.name, city_id = EXCLUDED.city_id, type = EXCLUDED.type,
    industries = EXCLUDED.industries, geom = EXCLUDED.geom
WHERE (t.name, t.city_id, t.type, t.industries, t.geom)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.city_id, EXCLUDED.type, EXCLUDED.industries, EXCLUDED.geom)
RETURNING t.id, (t.xmax = 0) AS inserted;

-- member cells: the file's list replaces the stored one (an empty list empties it)
DELETE FROM feature_grid_cell fc
USING feature_grid f, stage_grid s, cell c
WHERE s.level = 'feature_grid' AND f.code = s.code AND fc.feature_grid_id = f.id AND c.id = fc.cell_id
  AND NOT (c.code = ANY (coalesce(s.member_cells, '{}')))
RETURNING fc.feature_grid_id AS id, false AS inserted;

INSERT INTO feature_grid_cell (feature_grid_id, cell_id)
SELECT DISTINCT f.id, c.id
FROM stage_grid s
JOIN feature_grid f ON f.code = s.code
CROSS JOIN LATERAL unnest(s.member_cells) AS m(code)
JOIN cell c ON c.code = m.code
WHERE s.level = 'feature_grid'
ON CONFLICT DO NOTHING
RETURNING feature_grid_id AS id, false AS inserted
