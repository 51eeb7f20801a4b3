-- District outlines of a city as one GeoJSON FeatureCollection.
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', r.code,
        'geometry', ST_AsGeoJSON(r.geom, 6)::json,
        'properties', json_build_object('code', r.code, 'name', r.name)
    ) ORDER BY r.code), '[]'::json)
)::text
FROM region r
WHERE r.level = 'district' AND r.city_id = :city AND r.geom IS NOT NULL
