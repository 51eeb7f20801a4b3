-- Generated cells whose district may change after a regions import: those touching the old or
-- new boundary of a district that is new or was redrawn (parameter districts; old boundaries in
-- temp table region_before). No other cell can change: its centre and its points lie in the same
-- districts as before. This includes the cells of the unassigned area that a new district now
-- covers. GiST probes (&&) on idx_cell_geom.
SELECT DISTINCT c.id
FROM (
    SELECT r.geom FROM region r WHERE r.id = ANY (CAST(:districts AS integer[]))
    UNION ALL
    SELECT b.geom FROM region_before b WHERE b.id = ANY (CAST(:districts AS integer[]))
) d
JOIN cell c ON c.source = 'h3' AND c.geom && d.geom AND ST_Intersects(d.geom, c.geom)
ORDER BY c.id
