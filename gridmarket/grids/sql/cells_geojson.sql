-- Every cell of a city (:city) with its counts by status and penetration (METRICS.md), as one
-- GeoJSON FeatureCollection built in the database. Ratios with a zero denominator are null.
-- Reads the current record of each live unit (market_record_current, partial unique index).
-- {{cell_scope}} is the caller's scope condition on cell alias c (grids.scope.Scope.cell_sql).
WITH agg AS (
    SELECT a.cell_id,
           count(*) AS units,
           count(*) FILTER (WHERE r.status = 'stock') AS n_stock,
           count(*) FILTER (WHERE r.status = 'competing') AS n_competing,
           count(*) FILTER (WHERE r.status = 'other_network') AS n_other_network,
           count(*) FILTER (WHERE r.status = 'potential') AS n_potential,
           count(*) FILTER (WHERE r.status = 'vacant') AS n_vacant,
           count(*) FILTER (WHERE r.status = 'unknown') AS n_unknown,
           sum(r.revenue_month) AS revenue
    FROM address_unit a
    JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
    WHERE a.city_id = :city AND a.retired_at IS NULL
    GROUP BY a.cell_id
), m AS (
    SELECT c.id, c.code, c.name, c.type, c.source, c.geom,
           g.code AS grid_code, g.name AS grid_name, d.name AS district_name,
           coalesce(agg.units, 0) AS units,
           coalesce(agg.n_stock, 0) AS n_stock,
           coalesce(agg.n_competing, 0) AS n_competing,
           coalesce(agg.n_other_network, 0) AS n_other_network,
           coalesce(agg.n_potential, 0) AS n_potential,
           coalesce(agg.n_vacant, 0) AS n_vacant,
           coalesce(agg.n_unknown, 0) AS n_unknown,
           coalesce(agg.revenue, 0) AS revenue
    FROM cell c
    JOIN grid g ON g.id = c.grid_id
    JOIN region d ON d.id = c.district_id
    LEFT JOIN agg ON agg.cell_id = c.id
    WHERE c.city_id = :city AND ({{cell_scope}})
      AND (CAST(:cell AS integer) IS NULL OR c.id = CAST(:cell AS integer))
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', m.code,
        'geometry', ST_AsGeoJSON(m.geom, 6)::json,
        'properties', json_build_object(
            'code', m.code, 'name', m.name, 'grid_code', m.grid_code, 'grid_name', m.grid_name,
            'district_name', m.district_name, 'type', m.type, 'source', m.source,
            'units', m.units,
            'n_stock', m.n_stock, 'n_competing', m.n_competing,
            'n_other_network', m.n_other_network, 'n_potential', m.n_potential,
            'n_vacant', m.n_vacant, 'n_unknown', m.n_unknown,
            'surveyed', m.units - m.n_unknown,
            'coverage', (m.units - m.n_unknown)::float8 / nullif(m.units, 0),
            'demand', m.n_stock + m.n_competing + m.n_other_network + m.n_potential,
            'penetration', (m.n_stock + m.n_competing)::float8
                / nullif(m.n_stock + m.n_competing + m.n_other_network + m.n_potential, 0),
            'revenue', m.revenue
        )
    ) ORDER BY m.code), '[]'::json)
)::text
FROM m
