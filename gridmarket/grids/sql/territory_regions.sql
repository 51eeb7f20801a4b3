-- Upsert the staged regions of one level (parameter level), parents first (the caller runs province,
-- city, district in turn). Only rows that change are written (IS DISTINCT FROM guard), so
-- importing the same file twice updates nothing. A city's city_id is itself (set just after
-- insert for a new city), a district's is its parent city; an empty parent_code of a city keeps
-- the stored parent. RETURNING: the rows written, and whether each was inserted.
INSERT INTO region AS t (code, name, level, parent_id, city_id, geom, area_km2)
SELECT s.code, s.name, s.level,
       CASE WHEN s.parent_code IS NULL THEN e.parent_id ELSE p.id END,
       CASE s.level WHEN 'province' THEN NULL WHEN 'city' THEN e.id ELSE p.city_id END,
       s.geom, s.area_km2
FROM stage_region s
LEFT JOIN region p ON p.code = s.parent_code
LEFT JOIN region e ON e.code = s.code
WHERE s.level = :level
ORDER BY s.row_no
ON CONFLICT (code) DO UPDATE
SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, city_id = EXCLUDED.city_id,
    geom = EXCLUDED.geom, area_km2 = EXCLUDED.area_km2
WHERE (t.name, t.parent_id, t.city_id, t.geom, t.area_km2)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.parent_id, EXCLUDED.city_id, EXCLUDED.geom, EXCLUDED.area_km2)
RETURNING t.id, t.code, (t.xmax = 0) AS inserted
