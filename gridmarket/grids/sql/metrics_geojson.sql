-- The areas of one level with every metric (metrics_level.sql, <metrics>) as one GeoJSON
-- FeatureCollection built in the database; <geometry> is the area's geometry (WGS84) given its
-- internal id res.aid (grids/metrics.py _GEOMETRY). Properties: the metrics row without the
-- internal id.
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', res.id,
        'geometry', ST_AsGeoJSON(geo.geom, 6)::json,
        'properties', to_jsonb(res) - 'aid' - 'ord'
    ) ORDER BY res.ord), '[]'::json)
)::text
FROM (SELECT q.*, row_number() OVER () AS ord FROM (
{{metrics}}
) q) res
LEFT JOIN LATERAL ({{geometry}}) geo ON true
