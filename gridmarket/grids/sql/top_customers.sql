-- The customers of an area with the most monthly revenue, over the address units of the area that
-- the caller may read ({{unit_scope}}, alias a with current record r). The area is the cells
-- selected by :level / :area (cell, grid, district or city code, or a characteristic grid).
WITH cells AS (
  SELECT c.id
  FROM cell c
  LEFT JOIN grid g ON g.id = c.grid_id
  LEFT JOIN region d ON d.id = c.district_id
  LEFT JOIN region ci ON ci.id = c.city_id
  WHERE (:level = 'cell' AND c.code = :area)
     OR (:level = 'grid' AND g.code = :area)
     OR (:level = 'district' AND d.code = :area)
     OR (:level = 'city' AND ci.code = :area)
     OR (:level = 'feature_grid' AND c.id IN (
           SELECT fc.cell_id FROM feature_grid_cell fc JOIN feature_grid f ON f.id = fc.feature_grid_id
           WHERE f.code = :area))
)
SELECT cu.source_code AS code, cu.name, cu.industry,
       count(*) AS units,
       round(sum(COALESCE(r.revenue_month, 0))::numeric, 2)::float8 AS revenue,
       count(*) FILTER (WHERE r.status IN ('stock', 'competing')) AS own_units,
       count(*) FILTER (WHERE r.status = 'other_network') AS rival_units,
       min(a.external_id) AS first_unit
FROM address_unit a
JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
JOIN customer cu ON cu.id = r.customer_id
WHERE a.retired_at IS NULL AND a.cell_id IN (SELECT id FROM cells) AND ({{unit_scope}})
GROUP BY cu.id, cu.source_code, cu.name, cu.industry
ORDER BY revenue DESC, units DESC, cu.source_code
LIMIT :lim
