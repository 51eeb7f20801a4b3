-- The district of a generated H3 cell (temp table hex_home: h, lon/lat of the hexagon's centre):
-- the loaded district holding the centre (lowest id on a border); for a centre in no district,
-- the district holding most of the hexagon's address points ({{points}}: the points being
-- assigned, or the units already in the cell; units._HEX_POINTS); else null (unassigned area).
UPDATE hex_home x SET district_id = (
    SELECT r.id FROM region r
    WHERE r.level = 'district' AND NOT r.is_unassigned
      AND ST_Intersects(r.geom, ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326))
    ORDER BY r.id LIMIT 1
);

UPDATE hex_home x SET district_id = (
    SELECT r.id FROM ({{points}}) pt
    JOIN region r ON r.level = 'district' AND NOT r.is_unassigned AND ST_Intersects(r.geom, pt.geom)
    GROUP BY r.id ORDER BY count(*) DESC, r.id LIMIT 1
)
WHERE x.district_id IS NULL;
