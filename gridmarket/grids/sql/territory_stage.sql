-- Temp tables of a territory import (dropped at commit): the file's regions or grids, already
-- validated, in WGS84; geometries come in as EWKB hex and are stored as MultiPolygon 4326.
DROP TABLE IF EXISTS stage_region;

CREATE TEMP TABLE stage_region (
    row_no integer PRIMARY KEY,
    code text NOT NULL,
    name text NOT NULL,
    level text NOT NULL,
    parent_code text,
    geom geometry(MultiPolygon, 4326) NOT NULL,
    area_km2 float8 NOT NULL
) ON COMMIT DROP;

DROP TABLE IF EXISTS stage_grid;

CREATE TEMP TABLE stage_grid (
    row_no integer PRIMARY KEY,
    code text NOT NULL,
    name text NOT NULL,
    level text NOT NULL,
    parent_code text,
    district_code text,
    type text,
    industries text[] NOT NULL DEFAULT '{}',
    member_cells text[],
    city_id integer,
    geom geometry(MultiPolygon, 4326),
    area_km2 float8
) ON COMMIT DROP
