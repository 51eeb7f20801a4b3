-- The METRICS.md formulas, once, over a relation z of one row per area (metrics_level.sql and
-- metrics_cells.sql end with it): z holds aid, id, code, name, area_km2, sort (a cell also
-- grid_code, grid_name, district_code, district_name, type, source: <extra>), units,
-- s c o p v u (units per status), fo bo (in demand with own fixed lines / own broadband), ldo ldr
-- (minutes own / rival), lo la (own lines / all four), rev, expiring, churned, won,
-- new_own_lines and rival_mix. A zero denominator gives null (nullif), never 0.
SELECT z.aid, z.id, CAST(:level AS text) AS level, z.name, z.code, z.area_km2{{extra}},
       z.units,
       z.s AS n_stock, z.c AS n_competing, z.o AS n_other_network, z.p AS n_potential,
       z.v AS n_vacant, z.u AS n_unknown,
       z.units - z.u AS surveyed,
       (z.units - z.u)::float8 / nullif(z.units, 0) AS coverage,
       z.s + z.c + z.o + z.p AS demand,
       (z.s + z.c)::float8 / nullif(z.s + z.c + z.o + z.p, 0) AS penetration,
       z.fo::float8 / nullif(z.s + z.c + z.o + z.p, 0) AS fixed_line_penetration,
       z.bo::float8 / nullif(z.s + z.c + z.o + z.p, 0) AS broadband_penetration,
       (z.ldo / nullif(z.ldo + z.ldr, 0))::float8 AS long_distance_share,
       z.lo::float8 / nullif(z.la, 0) AS line_share,
       z.s::float8 / nullif(z.s + z.c, 0) AS exclusivity,
       z.rev::float8 AS revenue,
       z.rev::float8 / nullif(z.area_km2, 0) AS revenue_density,
       z.rev::float8 / nullif(z.s + z.c, 0) AS arpa,
       z.o + z.p AS opportunity,
       z.expiring::bigint AS expiring_90d,
       z.rival_mix,
       z.churned::bigint AS churned, z.won::bigint AS won, z.new_own_lines::bigint AS new_own_lines
FROM z
WHERE {{keep}}
ORDER BY z.sort COLLATE "C"
