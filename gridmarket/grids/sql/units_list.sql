-- Address units with their current market record, filtered by the caller's read scope
-- ({{unit_scope}}) and by either a cell (:cell) or one external id (:external_id).
-- phone_visible ({{phone_scope}}) tells the caller whether the contact phone may be shown unmasked.
SELECT a.id, a.external_id, a.address, a.floor, a.room,
       ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
       c.code AS cell_code, b.code AS building_code, b.name AS building_name,
       cu.source_code AS customer_code, cu.name AS customer_name, cu.industry,
       r.version, r.status, r.main_services,
       r.fixed_lines_own, r.fixed_lines_rival, r.broadband_own, r.broadband_rival,
       r.ld_minutes_own, r.ld_minutes_rival, r.revenue_month, r.rival_operator, r.contract_end,
       r.contact_name, r.contact_phone, r.surveyed_at, r.valid_from AS changed_at, r.source,
       ({{phone_scope}}) AS phone_visible
FROM address_unit a
JOIN cell c ON c.id = a.cell_id
JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
LEFT JOIN building b ON b.id = a.building_id
LEFT JOIN customer cu ON cu.id = r.customer_id
WHERE a.retired_at IS NULL
  AND (CAST(:cell AS integer) IS NULL OR a.cell_id = CAST(:cell AS integer))
  AND (CAST(:external_id AS text) IS NULL OR a.external_id = CAST(:external_id AS text))
  AND ({{unit_scope}})
ORDER BY b.code NULLS LAST, a.floor NULLS FIRST, a.room, a.external_id
LIMIT :limit OFFSET :offset
