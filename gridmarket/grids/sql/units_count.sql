-- Live units of a cell (:cell) the caller may read ({{unit_scope}}).
SELECT count(*)
FROM address_unit a
JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
WHERE a.retired_at IS NULL AND a.cell_id = :cell AND ({{unit_scope}})
