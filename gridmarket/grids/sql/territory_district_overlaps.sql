-- Districts that overlap a new or redrawn district (parameter districts) by more than a
-- thousandth of the smaller one: a warning (an address there belongs to the lower-id district).
-- GiST candidates (&&); only pairs whose interiors meet ('2********') are measured.
SELECT code, other_code, km2
FROM (
    SELECT a.code, b.code AS other_code,
           ST_Area(ST_Intersection(a.geom, b.geom)::geography) / 1e6 AS km2,
           least(a.area_km2, b.area_km2) AS smaller
    FROM region a
    JOIN region b ON b.level = 'district' AND NOT b.is_unassigned AND b.id <> a.id AND b.geom && a.geom
    WHERE a.id = ANY (CAST(:districts AS integer[]))
      AND (b.id > a.id OR NOT b.id = ANY (CAST(:districts AS integer[])))
      AND ST_Relate(a.geom, b.geom, '2********')
) o
WHERE km2 > 0.001 * smaller
ORDER BY code, other_code
