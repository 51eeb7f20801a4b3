-- New address units and their first market record, one set-based statement.
-- A missing status is derived from the row's counts (METRICS.md).
WITH ins AS (
    INSERT INTO address_unit (city_id, external_id, address, building_id, floor, room, cell_id, h3_12, geom)
    SELECT c.city_id, s.external_id, s.address, b.id, s.floor, s.room, s.cell_id, s.h3_12, s.geom
    FROM stage_assigned s
    JOIN cell c ON c.id = s.cell_id
    LEFT JOIN building b ON b.city_id = c.city_id AND b.code = s.building_code
    ORDER BY s.row_no
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, external_id, city_id
)
INSERT INTO market_record (
    address_unit_id, city_id, version, customer_id, status, main_services,
    fixed_lines_own, fixed_lines_rival, broadband_own, broadband_rival,
    ld_minutes_own, ld_minutes_rival, revenue_month, rival_operator, contract_end,
    contact_name, contact_phone, surveyed_at, source, valid_from
)
SELECT ins.id, ins.city_id, 1, cu.id,
       coalesce(s.status, CASE
           WHEN own > 0 AND rival = 0 THEN 'stock'
           WHEN own > 0 AND rival > 0 THEN 'competing'
           WHEN own = 0 AND rival > 0 THEN 'other_network'
           ELSE 'unknown' END),
       s.main_services,
       coalesce(s.fixed_lines_own, 0), coalesce(s.fixed_lines_rival, 0),
       coalesce(s.broadband_own, 0), coalesce(s.broadband_rival, 0),
       coalesce(s.ld_minutes_own, 0), coalesce(s.ld_minutes_rival, 0), coalesce(s.revenue_month, 0),
       s.rival_operator, s.contract_end, s.contact_name, s.contact_phone, s.surveyed_at,
       :source, :valid_from
FROM ins
JOIN stage_assigned s ON s.external_id = ins.external_id
CROSS JOIN LATERAL (
    SELECT coalesce(s.fixed_lines_own, 0) + coalesce(s.broadband_own, 0) AS own,
           coalesce(s.fixed_lines_rival, 0) + coalesce(s.broadband_rival, 0) AS rival
) n
LEFT JOIN customer cu ON cu.city_id = ins.city_id AND cu.source_code = s.customer_code
