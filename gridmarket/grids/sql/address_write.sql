-- Address import, step 3: apply the plan (address_plan.sql) in set-based statements, in the
-- caller's transaction. Rows with action 'conflict' are not applied at all. Each statement touches
-- only rows whose values change, so a re-import of the same file writes nothing. Buildings and
-- customers: a given value wins, an empty one keeps the stored value; the first row (lowest row
-- number) giving a value decides within the file; a new building is placed at its first unit.
-- buildings_updated
UPDATE building b
SET name = coalesce(f.name, b.name), type = coalesce(f.type, b.type)
FROM (
    SELECT city_id, building_code,
           (array_agg(building_name ORDER BY row_no) FILTER (WHERE building_name IS NOT NULL))[1] AS name,
           (array_agg(building_type ORDER BY row_no) FILTER (WHERE building_type IS NOT NULL))[1] AS type
    FROM address_plan
    WHERE action <> 'conflict' AND building_code IS NOT NULL
    GROUP BY city_id, building_code
) f
WHERE b.city_id = f.city_id AND b.code = f.building_code
  AND (b.name, b.type) IS DISTINCT FROM (coalesce(f.name, b.name), coalesce(f.type, b.type));

-- buildings_inserted
INSERT INTO building (city_id, code, name, type, geom, cell_id)
SELECT city_id, building_code,
       (array_agg(building_name ORDER BY row_no) FILTER (WHERE building_name IS NOT NULL))[1],
       (array_agg(building_type ORDER BY row_no) FILTER (WHERE building_type IS NOT NULL))[1],
       (array_agg(geom ORDER BY row_no))[1],
       (array_agg(cell_id ORDER BY row_no))[1]
FROM address_plan p
WHERE action <> 'conflict' AND building_code IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM building b WHERE b.city_id = p.city_id AND b.code = p.building_code)
GROUP BY city_id, building_code
ORDER BY city_id, building_code
ON CONFLICT (city_id, code) DO NOTHING;

-- customers_updated
UPDATE customer k
SET name = coalesce(f.name, k.name), credit_code = coalesce(f.credit_code, k.credit_code),
    industry = coalesce(f.industry, k.industry)
FROM (
    SELECT city_id, customer_code,
           (array_agg(customer_name ORDER BY row_no) FILTER (WHERE customer_name IS NOT NULL))[1] AS name,
           (array_agg(credit_code ORDER BY row_no) FILTER (WHERE credit_code IS NOT NULL))[1] AS credit_code,
           (array_agg(industry ORDER BY row_no) FILTER (WHERE industry IS NOT NULL))[1] AS industry
    FROM address_plan
    WHERE action <> 'conflict' AND customer_code IS NOT NULL
    GROUP BY city_id, customer_code
) f
WHERE k.city_id = f.city_id AND k.source_code = f.customer_code
  AND (k.name, k.credit_code, k.industry)
      IS DISTINCT FROM (coalesce(f.name, k.name), coalesce(f.credit_code, k.credit_code),
                        coalesce(f.industry, k.industry));

-- customers_inserted
INSERT INTO customer (city_id, source_code, name, credit_code, industry)
SELECT city_id, customer_code,
       coalesce((array_agg(customer_name ORDER BY row_no) FILTER (WHERE customer_name IS NOT NULL))[1],
                customer_code),
       (array_agg(credit_code ORDER BY row_no) FILTER (WHERE credit_code IS NOT NULL))[1],
       (array_agg(industry ORDER BY row_no) FILTER (WHERE industry IS NOT NULL))[1]
FROM address_plan p
WHERE action <> 'conflict' AND customer_code IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM customer k WHERE k.city_id = p.city_id AND k.source_code = p.customer_code)
GROUP BY city_id, customer_code
ORDER BY city_id, customer_code
ON CONFLICT (city_id, source_code) DO NOTHING;

-- units_updated: changed units (a moved one with its new cell, H3 index and city)
UPDATE address_unit a
SET address = p.address, building_id = b.id, floor = p.floor, room = p.room, geom = p.geom,
    h3_12 = p.h3_12, cell_id = p.cell_id, city_id = p.city_id
FROM address_plan p
LEFT JOIN building b ON b.city_id = p.city_id AND b.code = p.building_code
WHERE p.action = 'update' AND p.unit_changed AND a.id = p.unit_id;

-- units_inserted
WITH ins AS (
    INSERT INTO address_unit (city_id, external_id, address, building_id, floor, room, cell_id, h3_12, geom)
    SELECT p.city_id, p.external_id, p.address, b.id, p.floor, p.room, p.cell_id, p.h3_12, p.geom
    FROM address_plan p
    LEFT JOIN building b ON b.city_id = p.city_id AND b.code = p.building_code
    WHERE p.action = 'insert'
    ORDER BY p.row_no
    RETURNING id, external_id
)
UPDATE address_plan p SET unit_id = ins.id FROM ins WHERE p.external_id = ins.external_id;

-- records_closed: the current version ends when the row's change begins
UPDATE market_record r
SET valid_to = p.dated_at
FROM address_plan p
WHERE p.action = 'update' AND p.record_changed AND r.id = p.record_id;

-- records_inserted: version 1 of new units, version + 1 of changed records (source 'import')
INSERT INTO market_record (
    address_unit_id, city_id, version, customer_id, status, main_services,
    fixed_lines_own, fixed_lines_rival, broadband_own, broadband_rival,
    ld_minutes_own, ld_minutes_rival, revenue_month, rival_operator, contract_end,
    contact_name, contact_phone, surveyed_at, source, valid_from
)
SELECT p.unit_id, p.city_id, p.version + 1, k.id, p.status, p.main_services,
       p.fixed_lines_own, p.fixed_lines_rival, p.broadband_own, p.broadband_rival,
       p.ld_minutes_own, p.ld_minutes_rival, p.revenue_month, p.rival_operator, p.contract_end,
       p.contact_name, p.contact_phone, p.surveyed_at, 'import', p.dated_at
FROM address_plan p
LEFT JOIN customer k ON k.city_id = p.city_id AND k.source_code = p.customer_code
WHERE p.action = 'insert' OR (p.action = 'update' AND p.record_changed)
ORDER BY p.row_no;

-- buildings_moved: a building written to lies in the cell of its first unit
UPDATE building b
SET cell_id = u.cell_id
FROM (
    SELECT DISTINCT ON (a.building_id) a.building_id, a.cell_id
    FROM address_unit a
    WHERE a.building_id IN (
        SELECT b2.id FROM address_plan p
        JOIN building b2 ON b2.city_id = p.city_id AND b2.code = p.building_code
        WHERE p.action IN ('insert', 'update')
    )
    ORDER BY a.building_id, a.id
) u
WHERE b.id = u.building_id AND b.cell_id IS DISTINCT FROM u.cell_id
