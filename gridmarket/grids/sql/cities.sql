-- Cities in scope (:cities null = all) with their bbox and unit/cell counts, most units first.
SELECT r.code, r.name,
       CASE WHEN b.box IS NULL THEN NULL
            ELSE json_build_array(ST_XMin(b.box), ST_YMin(b.box), ST_XMax(b.box), ST_YMax(b.box)) END AS bbox,
       coalesce(u.n, 0) AS units,
       coalesce(c.n, 0) AS cells
FROM region r
LEFT JOIN LATERAL (SELECT ST_Extent(x.geom)::box2d AS box FROM cell x WHERE x.city_id = r.id) b ON true
LEFT JOIN LATERAL (SELECT count(*) AS n FROM address_unit a
                   WHERE a.city_id = r.id AND a.retired_at IS NULL) u ON true
LEFT JOIN LATERAL (SELECT count(*) AS n FROM cell x WHERE x.city_id = r.id) c ON true
WHERE r.level = 'city'
  AND (CAST(:cities AS integer[]) IS NULL OR r.id = ANY(CAST(:cities AS integer[])))
ORDER BY units DESC, r.code
