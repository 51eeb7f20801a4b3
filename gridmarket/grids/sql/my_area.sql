-- Extent and number of the cells in the caller's area scope ({{cell_scope}} on alias c).
SELECT count(*) AS cells,
       CASE WHEN count(*) = 0 THEN NULL ELSE json_build_array(
           ST_XMin(ST_Extent(c.geom)), ST_YMin(ST_Extent(c.geom)),
           ST_XMax(ST_Extent(c.geom)), ST_YMax(ST_Extent(c.geom))) END AS bbox
FROM cell c
WHERE (CAST(:cities AS integer[]) IS NULL OR c.city_id = ANY(CAST(:cities AS integer[])))
  AND ({{cell_scope}})
