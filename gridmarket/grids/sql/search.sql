-- Search by address, customer name or code, cell and building code, within the caller's scope:
-- units and customers by {{unit_scope}} (alias a, current record r), cells and buildings by
-- {{cell_scope}} (alias c). :q is the text, :pat '%text%' and :pre 'text%' with % _ \ escaped.
-- rank: 0 exact code, 1 prefix, 2 anywhere; kind_order keeps units, customers, cells, buildings.
SELECT kind, code, label, sub, city_code, cell_code, lon, lat
FROM (
  (SELECT 'unit' AS kind, 0 AS kind_order, a.external_id AS code, a.address AS label, cu.name AS sub,
          ci.code AS city_code, c.code AS cell_code, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
          CASE WHEN a.external_id = :q THEN 0 WHEN a.address ILIKE :pre THEN 1 ELSE 2 END AS rank,
          length(a.address) AS len
   FROM address_unit a
   JOIN cell c ON c.id = a.cell_id
   JOIN region ci ON ci.id = a.city_id
   LEFT JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
   LEFT JOIN customer cu ON cu.id = r.customer_id
   WHERE a.retired_at IS NULL AND (a.address ILIKE :pat OR a.external_id = :q) AND ({{unit_scope}})
   ORDER BY rank, len, code
   LIMIT :lim)
  UNION ALL
  (SELECT 'customer', 1, code, label, sub, city_code, cell_code, lon, lat, rank, len
   FROM (
     SELECT DISTINCT ON (cu.id) cu.source_code AS code, cu.name AS label, a.address AS sub,
            ci.code AS city_code, c.code AS cell_code, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
            CASE WHEN :q IN (cu.unified_code, cu.source_code, cu.credit_code) THEN 0
                 WHEN cu.name ILIKE :pre THEN 1 ELSE 2 END AS rank,
            length(cu.name) AS len
     FROM customer cu
     JOIN market_record r ON r.customer_id = cu.id AND r.valid_to IS NULL
     JOIN address_unit a ON a.id = r.address_unit_id AND a.retired_at IS NULL
     JOIN cell c ON c.id = a.cell_id
     JOIN region ci ON ci.id = a.city_id
     WHERE (cu.name ILIKE :pat OR :q IN (cu.unified_code, cu.source_code, cu.credit_code))
       AND ({{unit_scope}})
     ORDER BY cu.id, a.external_id
   ) AS found
   ORDER BY rank, len, code
   LIMIT :lim)
  UNION ALL
  (SELECT 'cell', 2, c.code, c.name, g.name, ci.code, c.code,
          ST_X(ST_PointOnSurface(c.geom)), ST_Y(ST_PointOnSurface(c.geom)),
          CASE WHEN c.code = :q THEN 0 WHEN c.code ILIKE :pre THEN 1 ELSE 2 END AS rank,
          length(c.code) AS len
   FROM cell c
   JOIN region ci ON ci.id = c.city_id
   JOIN grid g ON g.id = c.grid_id
   WHERE (c.code ILIKE :pre OR c.name ILIKE :pat) AND ({{cell_scope}})
   ORDER BY rank, c.code
   LIMIT :lim)
  UNION ALL
  (SELECT 'building', 3, b.code, COALESCE(b.name, b.code), c.name, ci.code, c.code,
          ST_X(b.geom), ST_Y(b.geom),
          CASE WHEN b.code = :q THEN 0 WHEN b.code ILIKE :pre THEN 1 ELSE 2 END AS rank,
          length(b.code) AS len
   FROM building b
   JOIN cell c ON c.id = b.cell_id
   JOIN region ci ON ci.id = b.city_id
   WHERE (b.code ILIKE :pre OR b.name ILIKE :pat) AND ({{cell_scope}})
   ORDER BY rank, b.code
   LIMIT :lim)
) AS hits
ORDER BY rank, kind_order, len, code
LIMIT :lim
