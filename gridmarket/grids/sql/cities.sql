-- Cities in scope (:cities null = all) with their bbox and the number of cells the caller may
-- read ({{cell_scope}}: the scope condition on cell alias c). Unit counts come from the metric
-- aggregates (grids.territory.list_cities).
WITH c AS (
    SELECT c.id, c.city_id, c.geom FROM cell c
    WHERE (CAST(:cities AS integer[]) IS NULL OR c.city_id = ANY(CAST(:cities AS integer[])))
      AND ({{cell_scope}})
)
SELECT r.code, r.name,
       CASE WHEN b.box IS NULL THEN NULL
            ELSE json_build_array(ST_XMin(b.box), ST_YMin(b.box), ST_XMax(b.box), ST_YMax(b.box)) END AS bbox,
       coalesce(b.n, 0) AS cells
FROM region r
LEFT JOIN LATERAL (SELECT ST_Extent(c.geom)::box2d AS box, count(*) AS n FROM c WHERE c.city_id = r.id) b ON true
WHERE r.level = 'city'
  AND (CAST(:cities AS integer[]) IS NULL OR r.id = ANY(CAST(:cities AS integer[])))
