-- Cities in scope (:cities null = all) with their bbox, the number of cells the caller may read
-- ({{cell_scope}}: the scope condition on cell alias c) and the units in those cells, from the
-- metric aggregates (compacted sums + pending deltas: the same figure as metrics' units, at the
-- cost of one row per cell instead of a metrics read; grids.territory.list_cities).
WITH c AS (
    SELECT c.id, c.city_id, c.geom FROM cell c
    WHERE (CAST(:cities AS integer[]) IS NULL OR c.city_id = ANY(CAST(:cities AS integer[])))
      AND ({{cell_scope}})
),
u AS (
    SELECT c.city_id, sum(x.units) AS units
    FROM c
    JOIN (SELECT b.cell_id, b.units FROM cell_metric b
          UNION ALL
          SELECT d.cell_id, d.units FROM cell_metric_delta d) x ON x.cell_id = c.id
    GROUP BY c.city_id
)
SELECT r.code, r.name,
       CASE WHEN b.box IS NULL THEN NULL
            ELSE json_build_array(ST_XMin(b.box), ST_YMin(b.box), ST_XMax(b.box), ST_YMax(b.box)) END AS bbox,
       coalesce(b.n, 0) AS cells,
       coalesce(u.units, 0)::bigint AS units
FROM region r
LEFT JOIN LATERAL (SELECT ST_Extent(c.geom)::box2d AS box, count(*) AS n FROM c WHERE c.city_id = r.id) b ON true
LEFT JOIN u ON u.city_id = r.id
WHERE r.level = 'city'
  AND (CAST(:cities AS integer[]) IS NULL OR r.id = ANY(CAST(:cities AS integer[])))
