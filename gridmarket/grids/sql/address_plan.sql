-- Address import, step 2: one plan row per staged row (after units.assign_points filled
-- stage_assigned for new and moved units). Values are merged: an empty cell (NULL) keeps the
-- stored value. A missing status is derived from the merged line counts when the row gives any
-- line count (METRICS.md), else the stored status stays (a new unit: derived, 'unknown' without
-- counts). action: 'insert' (new unit), 'unchanged', 'conflict' (a change dated at or before the
-- stored record's last change: not applied), 'update'.
DROP TABLE IF EXISTS address_plan;

CREATE TEMP TABLE address_plan ON COMMIT DROP AS
SELECT q.*,
       CASE
           WHEN q.unit_id IS NULL THEN 'insert'
           WHEN NOT (q.unit_changed OR q.record_changed) THEN 'unchanged'
           WHEN q.stored_from IS NOT NULL AND q.dated_at <= q.stored_from THEN 'conflict'
           ELSE 'update'
       END AS action
FROM (
    SELECT s.row_no, s.external_id, s.unit_id, s.dated_at, r.id AS record_id,
           coalesce(r.version, 0) AS version, r.valid_from AS stored_from,
           coalesce(sa.cell_id, a.cell_id) AS cell_id,
           coalesce(c.city_id, a.city_id) AS city_id,
           ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom, s.h3_12,
           s.address, m.building_code, s.building_name, s.building_type, m.floor, m.room,
           m.customer_code, s.customer_name, s.credit_code, s.industry,
           st.status, m.main_services, m.fixed_lines_own, m.fixed_lines_rival,
           m.broadband_own, m.broadband_rival, m.ld_minutes_own, m.ld_minutes_rival,
           m.revenue_month, m.rival_operator, m.contract_end, m.contact_name, m.contact_phone,
           m.surveyed_at,
           a.id IS NOT NULL AND (
               s.needs_cell
               OR (a.address, ob.code, a.floor, a.room)
                  IS DISTINCT FROM (s.address, m.building_code, m.floor, m.room)
           ) AS unit_changed,
           r.id IS NULL OR (
               oc.source_code, r.status, r.main_services, r.fixed_lines_own, r.fixed_lines_rival,
               r.broadband_own, r.broadband_rival, r.ld_minutes_own, r.ld_minutes_rival,
               r.revenue_month, r.rival_operator, r.contract_end, r.contact_name, r.contact_phone,
               r.surveyed_at
           ) IS DISTINCT FROM (
               m.customer_code, st.status, m.main_services, m.fixed_lines_own, m.fixed_lines_rival,
               m.broadband_own, m.broadband_rival, m.ld_minutes_own, m.ld_minutes_rival,
               m.revenue_month, m.rival_operator, m.contract_end, m.contact_name, m.contact_phone,
               m.surveyed_at
           ) AS record_changed
    FROM stage_unit s
    LEFT JOIN stage_assigned sa ON sa.row_no = s.row_no
    LEFT JOIN cell c ON c.id = sa.cell_id
    LEFT JOIN address_unit a ON a.id = s.unit_id
    LEFT JOIN building ob ON ob.id = a.building_id
    LEFT JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
    LEFT JOIN customer oc ON oc.id = r.customer_id
    CROSS JOIN LATERAL (
        SELECT coalesce(s.building_code, ob.code) AS building_code,
               coalesce(s.floor, a.floor) AS floor,
               coalesce(s.room, a.room) AS room,
               coalesce(s.customer_code, oc.source_code) AS customer_code,
               coalesce(s.main_services, r.main_services) AS main_services,
               coalesce(s.fixed_lines_own, r.fixed_lines_own, 0) AS fixed_lines_own,
               coalesce(s.fixed_lines_rival, r.fixed_lines_rival, 0) AS fixed_lines_rival,
               coalesce(s.broadband_own, r.broadband_own, 0) AS broadband_own,
               coalesce(s.broadband_rival, r.broadband_rival, 0) AS broadband_rival,
               coalesce(s.ld_minutes_own, r.ld_minutes_own, 0) AS ld_minutes_own,
               coalesce(s.ld_minutes_rival, r.ld_minutes_rival, 0) AS ld_minutes_rival,
               coalesce(s.revenue_month, r.revenue_month, 0) AS revenue_month,
               coalesce(s.rival_operator, r.rival_operator) AS rival_operator,
               coalesce(s.contract_end, r.contract_end) AS contract_end,
               coalesce(s.contact_name, r.contact_name) AS contact_name,
               coalesce(s.contact_phone, r.contact_phone) AS contact_phone,
               coalesce(s.surveyed_at, r.surveyed_at) AS surveyed_at
    ) m
    CROSS JOIN LATERAL (
        SELECT m.fixed_lines_own + m.broadband_own AS own,
               m.fixed_lines_rival + m.broadband_rival AS rival,
               num_nonnulls(s.fixed_lines_own, s.fixed_lines_rival, s.broadband_own, s.broadband_rival) > 0
                   AS counted
    ) n
    CROSS JOIN LATERAL (
        SELECT coalesce(
            s.status,
            CASE WHEN r.id IS NOT NULL AND NOT n.counted THEN r.status END,
            CASE
                WHEN n.own > 0 AND n.rival = 0 THEN 'stock'
                WHEN n.own > 0 AND n.rival > 0 THEN 'competing'
                WHEN n.own = 0 AND n.rival > 0 THEN 'other_network'
                ELSE 'unknown'
            END
        ) AS status
    ) st
) q;

CREATE INDEX ON address_plan (action);

ANALYZE address_plan
