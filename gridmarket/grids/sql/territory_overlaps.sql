-- Drawn cells that would overlap by more than min_m2 square metres (geodesic area of the
-- intersection): pairs within the file (stage_grid, level cell), and file cells against drawn
-- cells in the database that the file does not replace by the same code. Candidates come from
-- the GiST indexes (&&); only pairs whose interiors meet ('2********') have their intersection
-- measured, so cells that merely share a border cost one relate test.
SELECT row_no, code, other_row, other_code, m2
FROM (
    SELECT a.row_no, a.code, b.row_no AS other_row, b.code AS other_code,
           ST_Area(ST_Intersection(a.geom, b.geom)::geography) AS m2
    FROM stage_grid a
    JOIN stage_grid b ON b.level = 'cell' AND a.row_no < b.row_no AND a.geom && b.geom
    WHERE a.level = 'cell' AND ST_Relate(a.geom, b.geom, '2********')
    UNION ALL
    SELECT a.row_no, a.code, NULL::integer, c.code,
           ST_Area(ST_Intersection(a.geom, c.geom)::geography)
    FROM stage_grid a
    JOIN cell c ON c.source = 'drawn' AND c.geom && a.geom
    WHERE a.level = 'cell' AND ST_Relate(a.geom, c.geom, '2********')
      AND NOT EXISTS (SELECT 1 FROM stage_grid s WHERE s.level = 'cell' AND s.code = c.code)
) o
WHERE m2 > :min_m2
ORDER BY row_no, other_row NULLS LAST, other_code
