-- Fold the pending deltas into the base tables (metrics.compact_metrics), in the caller's
-- transaction, which already holds the compaction advisory lock (one compaction at a time).
--
-- DELETE … RETURNING takes exactly the delta rows visible to this statement and nothing else:
-- writers keep INSERTing new deltas meanwhile (they never wait: no row they write is touched
-- here), and a reader sees either the old base + these deltas or the new base without them,
-- never both, because the move commits atomically. Base rows are only ever written here.
CREATE TEMP TABLE metrics_compacting ON COMMIT DROP AS
WITH d AS (DELETE FROM cell_metric_delta RETURNING *)
SELECT * FROM d;

INSERT INTO cell_metric (cell_id, {{cols}})
SELECT d.cell_id, {{sums}}
FROM metrics_compacting d
GROUP BY d.cell_id
ON CONFLICT (cell_id) DO UPDATE SET {{adds}};

INSERT INTO cell_h3_metric (cell_id, h3_8, {{cols}})
SELECT d.cell_id, d.h3_8, {{sums}}
FROM metrics_compacting d
GROUP BY d.cell_id, d.h3_8
ON CONFLICT (cell_id, h3_8) DO UPDATE SET {{h3_adds}};

INSERT INTO cell_rival (cell_id, h3_8, rival, units)
SELECT d.cell_id, d.h3_8, d.rival, sum(d.n_rival)
FROM metrics_compacting d WHERE d.rival IS NOT NULL
GROUP BY d.cell_id, d.h3_8, d.rival
ON CONFLICT (cell_id, h3_8, rival) DO UPDATE SET units = cell_rival.units + excluded.units;

INSERT INTO cell_expiry (cell_id, h3_8, contract_end, units)
SELECT d.cell_id, d.h3_8, d.contract_end, sum(d.n_expiry)
FROM metrics_compacting d WHERE d.contract_end IS NOT NULL
GROUP BY d.cell_id, d.h3_8, d.contract_end
ON CONFLICT (cell_id, h3_8, contract_end) DO UPDATE SET units = cell_expiry.units + excluded.units;

-- the per-cell rival_mix object of the cells whose rivals changed
UPDATE cell_metric b SET rival_mix = coalesce((
    SELECT json_object_agg(x.rival, x.n ORDER BY x.rival)
    FROM (SELECT v.rival, sum(v.units) AS n FROM cell_rival v WHERE v.cell_id = b.cell_id
          GROUP BY v.rival HAVING sum(v.units) <> 0) x), '{}'::json)
WHERE b.cell_id IN (SELECT d.cell_id FROM metrics_compacting d WHERE d.rival IS NOT NULL);

-- each cell's expiring_90d as of today (parameter exp_day, in the operator's time zone): for
-- the cells whose expiry counts changed, for new rows, and for every cell on the first compaction
-- of a day
UPDATE cell_metric b SET exp_day = CAST(:exp_day AS date), exp_n = coalesce((
    SELECT sum(ex.units) FROM cell_expiry ex
    WHERE ex.cell_id = b.cell_id
      AND ex.contract_end BETWEEN CAST(:exp_day AS date) AND CAST(:exp_day AS date) + 90), 0)
WHERE b.exp_day IS DISTINCT FROM CAST(:exp_day AS date)
   OR b.cell_id IN (SELECT d.cell_id FROM metrics_compacting d WHERE d.contract_end IS NOT NULL);

-- rows that now stand for no unit (a unit count of 0 means every other sum is 0 too)
DELETE FROM cell_metric b
WHERE b.units = 0 AND b.cell_id IN (SELECT d.cell_id FROM metrics_compacting d);

DELETE FROM cell_h3_metric b
WHERE b.units = 0 AND b.cell_id IN (SELECT d.cell_id FROM metrics_compacting d);

DELETE FROM cell_rival b
WHERE b.units = 0 AND b.cell_id IN (SELECT d.cell_id FROM metrics_compacting d);

DELETE FROM cell_expiry b
WHERE b.units = 0 AND b.cell_id IN (SELECT d.cell_id FROM metrics_compacting d);

-- no figure changed, but delta rows left: the cached reads must know (metrics._data_version
-- counts compactions; the cell map re-reads the cells logged here, metrics._fast_entry)
UPDATE metrics_epoch SET compactions = compactions + 1;

INSERT INTO metrics_compaction (cell_id)
SELECT DISTINCT d.cell_id FROM metrics_compacting d;

DELETE FROM metrics_compaction WHERE at < now() - interval '6 hours';

SELECT count(*) FROM metrics_compacting
