-- Every METRICS.md metric for the areas of one level, as rows (grids/metrics.py builds the parts).
--
-- <cell_scope>   the caller's scope on cell alias c (Scope.cell_sql): the rule everywhere is
--                  "the units in the cells the caller may read"
-- <cell_filter>  filters on the cells (city / district / grid / cell / province codes, bbox)
-- <inbox>        whether the cell meets the bbox (true without one)
-- <ctes>         optional CTEs: chg (units changed since the as-of instant t), chp / pu (units changed within
--                  the period and their state at its start and end), uk (unit rows with a sign)
-- <main>         the 14 additive sums per area: the compacted base + pending deltas of the cell
--                  aggregates and/or unit rows (direct, or the as-of correction)
-- <expiring>     expiring_90d per area; <period> churned, won, new_own_lines per area
-- <rivals>       rival_mix per area
-- <areas>        the areas of the level: aid, id, code, name, area_km2, sort (cells: and their
--                  grid and district codes and names, type, source)
-- <keep>         which areas to return (h3: those holding units or period changes)
--
-- The ratio formulas are here once: a zero denominator gives null (nullif), never 0.
--
-- The map of a city's cells (current, no filter on units) takes metrics_cells.sql instead.
--
-- Plan that matters (EXPLAIN ANALYZE, 1,000,000-unit demo, grid level of 杭州市: 8,000 cells in
-- 667 grids, current, admin scope, compacted, jit off as metrics.py sets it; ≈ 150 ms on a
-- busy 2-vCPU VM against ≈ 4.5 s for the same formulas over the base tables):
--   Sort (rows=667)
--     CTE sc: Index Scan using ix_cell_city_id on cell (rows=8000), materialized once
--     ar: HashAggregate of sc per grid ⋈ grid ⋈ (HashAggregate of every cell of those grids:
--         the whole grid's area when all its cells are in scope)
--     m:  HashAggregate per grid <- Hash Full Join (Index Scan using cell_metric_pkey, 7,751
--         rows; pending deltas grouped per cell) ⋈ sc
--     e:  cell_metric.exp_n of the cells whose exp_day is the as-of day; cell_expiry (Index Only
--         Scan on cell_expiry_contract_end) only for the others
--     p:  Index Only Scans on market_record_valid_from / market_record_valid_to (the versions
--         of the month), then per candidate unit an Index Scan on address_unit_pkey and two on
--         market_record_unit_validity (the states at the period's start and end)
--     rv: cell_rival ⋈ sc grouped per (grid, rival)
--   No scan of address_unit or market_record beyond the units changed in the period.
WITH sc AS MATERIALIZED (
    SELECT c.id, c.grid_id, c.district_id, c.city_id, ci.parent_id AS province_id, c.area_km2,
           c.code, c.name, c.type, c.source, {{inbox}} AS inbox
    FROM cell c
    JOIN region ci ON ci.id = c.city_id
    WHERE ({{cell_scope}}) AND {{cell_filter}}
){{ctes}},
m (aid, units, n_stock, n_competing, n_other_network, n_potential, n_vacant, n_unknown,
   n_fixed_own, n_broadband_own, ld_minutes_own, ld_minutes_rival, lines_own, lines_all, revenue) AS (
{{main}}
),
e (aid, n) AS (
{{expiring}}
),
p (aid, churned, won, new_own_lines) AS (
{{period}}
),
rv (aid, rival_mix) AS (
{{rivals}}
),
ar AS (
{{areas}}
),
z AS (
    SELECT ar.*,
           coalesce(m.units, 0) AS units,
           coalesce(m.n_stock, 0) AS s,
           coalesce(m.n_competing, 0) AS c,
           coalesce(m.n_other_network, 0) AS o,
           coalesce(m.n_potential, 0) AS p,
           coalesce(m.n_vacant, 0) AS v,
           coalesce(m.n_unknown, 0) AS u,
           coalesce(m.n_fixed_own, 0) AS fo,
           coalesce(m.n_broadband_own, 0) AS bo,
           coalesce(m.ld_minutes_own, 0) AS ldo,
           coalesce(m.ld_minutes_rival, 0) AS ldr,
           coalesce(m.lines_own, 0) AS lo,
           coalesce(m.lines_all, 0) AS la,
           coalesce(m.revenue, 0) AS rev,
           coalesce(e.n, 0) AS expiring,
           coalesce(p.churned, 0) AS churned,
           coalesce(p.won, 0) AS won,
           coalesce(p.new_own_lines, 0) AS new_own_lines,
           coalesce(rv.rival_mix, '{}'::json) AS rival_mix
    FROM ar
    LEFT JOIN m ON m.aid = ar.aid
    LEFT JOIN e ON e.aid = ar.aid
    LEFT JOIN p ON p.aid = ar.aid
    LEFT JOIN rv ON rv.aid = ar.aid
)
{{final}}
