-- The fast path of metrics_level.sql: every cell of a request for the current state at the
-- cell level without a filter on units (the map of a city's cells). Each cell in the caller's
-- scope (<cell_scope>) and filters (<cell_filter>) is joined once to its compacted sums
-- (cell_metric, with its rival_mix object and its expiring count as of the compaction's day),
-- to its pending deltas (summed per cell, few after compaction) and to its period figures (only
-- the units changed within the period are read). No output value is re-rendered that need not
-- be: rival_mix is stored as json text. For the current month the period figures come from
-- cell_metric (stored by compaction) for every cell without pending deltas; only the units of the
-- other cells are looked up (<period_ctes>, metrics._PERIOD_CTES_STORED). <delta_cells> restricts the delta scans to the cells of
-- an incremental re-read (metrics._patch: only the cells changed since a cached read).
--
-- EXPLAIN ANALYZE (1,000,000-unit demo, 杭州市 = 8,000 cells of which 7,751 hold units,
-- current, admin scope, compacted, jit off as metrics.py sets it):
--   Sort (Sort Key: c.code COLLATE "C", rows=8000)
--     Hash Left Join ×6 on c.id: p (period), e (expiring of stale cells: none after today's
--     compaction), dr / dirty (rival_mix of cells with pending rival deltas), d (pending deltas)
--       Hash Join region dist, grid g
--         Nested Loop: Index Only Scan using region_pkey on region ci
--           Hash Right Join: Seq Scan on cell_metric b (11,216 rows)
--                            Hash: Index Scan using ix_cell_city_id on cell c (8,000 rows)
--   Joins ≈ 35 ms, computing the ~40 output values of 8,000 rows ≈ 60-90 ms, period (1,663
--   units changed this month, 52,578 of their versions) ≈ 40 ms, on a busy 2-vCPU VM; the same
--   formulas over address_unit ⨝ market_record take ≈ 5.5 s there.
WITH d AS (
    SELECT dd.cell_id, {{delta_sums}}
    FROM cell_metric_delta dd
    WHERE {{delta_cells}}
    GROUP BY dd.cell_id
),
dr AS (
    SELECT y.cell_id, json_object_agg(y.rival, y.n ORDER BY y.rival) AS rival_mix
    FROM (
        SELECT x.cell_id, x.rival, sum(x.n)::bigint AS n FROM (
            SELECT v.cell_id, v.rival, v.units AS n FROM cell_rival v
            WHERE v.cell_id IN (SELECT dd.cell_id FROM cell_metric_delta dd
                                WHERE dd.rival IS NOT NULL AND {{delta_cells}})
            UNION ALL
            SELECT dd.cell_id, dd.rival, dd.n_rival FROM cell_metric_delta dd
            WHERE dd.rival IS NOT NULL AND {{delta_cells}}
        ) x
        GROUP BY x.cell_id, x.rival
        HAVING sum(x.n) <> 0
    ) y
    GROUP BY y.cell_id
),
dirty AS (
    SELECT DISTINCT dd.cell_id FROM cell_metric_delta dd WHERE dd.rival IS NOT NULL AND {{delta_cells}}
),
e AS (
    -- cell_metric.exp_n is the count as of exp_day (compaction): the expiry rows are read only
    -- for the cells whose exp_day is another day, plus the pending deltas
    SELECT x.cell_id, sum(x.n) AS n
    FROM (
        SELECT ex.cell_id, ex.units AS n FROM cell_expiry ex
        WHERE ex.contract_end BETWEEN :as_of AND :exp_end
          AND ex.cell_id IN (SELECT b2.cell_id FROM cell_metric b2
                             WHERE b2.exp_day IS DISTINCT FROM CAST(:as_of AS date))
        UNION ALL
        SELECT dd.cell_id, dd.n_expiry FROM cell_metric_delta dd
        WHERE dd.contract_end BETWEEN :as_of AND :exp_end AND {{delta_cells}}
    ) x
    GROUP BY x.cell_id
){{period_ctes}},
p AS (
    SELECT a.cell_id, sum(a.churned) AS churned, sum(a.won) AS won, sum(a.new_own_lines) AS new_own_lines
    FROM pu a
    GROUP BY a.cell_id
),
z AS (
    SELECT c.id::bigint AS aid, c.code AS id, c.code, c.name, c.area_km2, c.code AS sort,
           g.code AS grid_code, g.name AS grid_name, dist.code AS district_code,
           dist.name AS district_name, c.type, c.source,
           {{sums}},
           CASE WHEN b.exp_day = CAST(:as_of AS date) THEN b.exp_n ELSE 0 END + coalesce(e.n, 0) AS expiring,
           {{period_sums}},
           CASE WHEN dirty.cell_id IS NULL THEN coalesce(b.rival_mix, '{}'::json)
                ELSE coalesce(dr.rival_mix, '{}'::json) END AS rival_mix
    FROM cell c
    JOIN region ci ON ci.id = c.city_id
    JOIN grid g ON g.id = c.grid_id
    JOIN region dist ON dist.id = c.district_id
    LEFT JOIN cell_metric b ON b.cell_id = c.id
    LEFT JOIN d ON d.cell_id = c.id
    LEFT JOIN dirty ON dirty.cell_id = c.id
    LEFT JOIN dr ON dr.cell_id = c.id
    LEFT JOIN e ON e.cell_id = c.id
    LEFT JOIN p ON p.cell_id = c.id
    WHERE ({{cell_scope}}) AND {{cell_filter}}
)
{{final}}
