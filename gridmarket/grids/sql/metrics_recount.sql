-- Rebuild the metric aggregates from the base tables (metrics.recount_metrics): after a repair,
-- or to check them. The EXCLUSIVE lock on the delta table waits for the writers whose deltas
-- are not committed yet and makes new writers' triggers wait until this transaction ends, so the
-- snapshot of the statements below holds every change whose delta is deleted here, and every
-- later change adds its own delta on top of the rebuilt base.
LOCK TABLE cell_metric_delta IN EXCLUSIVE MODE;

DELETE FROM cell_metric_delta;

DELETE FROM cell_metric;

DELETE FROM cell_h3_metric;

DELETE FROM cell_rival;

DELETE FROM cell_expiry;

CREATE TEMP TABLE metrics_recounting ON COMMIT DROP AS
SELECT 1 AS sg, a.cell_id, {{h3_8}} AS h3_8, r.status, r.fixed_lines_own, r.fixed_lines_rival,
       r.broadband_own, r.broadband_rival, r.ld_minutes_own, r.ld_minutes_rival, r.revenue_month,
       r.rival_operator, r.contract_end
FROM address_unit a
JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
WHERE a.retired_at IS NULL;

INSERT INTO cell_h3_metric (cell_id, h3_8, {{cols}})
SELECT x.cell_id, x.h3_8, {{contrib_sums}}
FROM metrics_recounting x GROUP BY x.cell_id, x.h3_8;

INSERT INTO cell_metric (cell_id, {{cols}})
SELECT d.cell_id, {{sums}} FROM cell_h3_metric d GROUP BY d.cell_id;

INSERT INTO cell_rival (cell_id, h3_8, rival, units)
SELECT x.cell_id, x.h3_8, {{rival_key}}, count(*)
FROM metrics_recounting x WHERE {{rivalry}}
GROUP BY 1, 2, 3;

INSERT INTO cell_expiry (cell_id, h3_8, contract_end, units)
SELECT x.cell_id, x.h3_8, x.contract_end, count(*)
FROM metrics_recounting x WHERE {{rivalry}} AND x.contract_end IS NOT NULL
GROUP BY 1, 2, 3;

UPDATE cell_metric b SET rival_mix = coalesce((
    SELECT json_object_agg(x.rival, x.n ORDER BY x.rival)
    FROM (SELECT v.rival, sum(v.units) AS n FROM cell_rival v WHERE v.cell_id = b.cell_id
          GROUP BY v.rival HAVING sum(v.units) <> 0) x), '{}'::json);

UPDATE cell_metric b SET exp_day = CAST(:exp_day AS date), exp_n = coalesce((
    SELECT sum(ex.units) FROM cell_expiry ex
    WHERE ex.cell_id = b.cell_id
      AND ex.contract_end BETWEEN CAST(:exp_day AS date) AND CAST(:exp_day AS date) + 90), 0);

UPDATE metrics_epoch SET epoch = epoch + 1;

SELECT count(*) FROM metrics_recounting
