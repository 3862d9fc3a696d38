-- Helpers for the dashboard views. Re-created with them by every 'switchyard migrate'
-- (see dashboards/README.md); nothing here stores data.

-- The lower bound of every dashboard: SET switchyard.since = '<timestamptz>' in a session
-- narrows the views to data at or after it ('switchyard report --since' does this).
-- Unset or empty: everything.
CREATE OR REPLACE FUNCTION sy_dash_since() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('switchyard.since', true), '')::timestamptz,
                    '-infinity'::timestamptz)
$$;

-- Wilson score interval at 95% (z = 1.959964) for k successes out of n; NULL when n = 0.
CREATE OR REPLACE FUNCTION sy_wilson_lo(k bigint, n bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(n, 0) <= 0 THEN NULL ELSE
        greatest(0.0, (k::float8 / n + z * z / (2 * n)
                       - z * sqrt((k::float8 / n) * (1 - k::float8 / n) / n + z * z / (4.0 * n * n)))
                      / (1 + z * z / n)) END
    FROM (SELECT 1.959963984540054::float8 AS z) c
$$;

CREATE OR REPLACE FUNCTION sy_wilson_hi(k bigint, n bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(n, 0) <= 0 THEN NULL ELSE
        least(1.0, (k::float8 / n + z * z / (2 * n)
                    + z * sqrt((k::float8 / n) * (1 - k::float8 / n) / n + z * z / (4.0 * n * n)))
                   / (1 + z * z / n)) END
    FROM (SELECT 1.959963984540054::float8 AS z) c
$$;

-- Normal 95% interval of a mean from n, sum and sum of squares: mean -/+ 1.96 * s / sqrt(n),
-- s the sample standard deviation. NULL below 2 observations.
CREATE OR REPLACE FUNCTION sy_mean_ci(n bigint, s double precision, sq double precision,
                                      upper boolean) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN coalesce(n, 0) < 2 THEN NULL ELSE
        s / n + (CASE WHEN upper THEN 1 ELSE -1 END) * 1.959963984540054
                * sqrt(greatest(sq - s * s / n, 0) / (n - 1) / n) END
$$;

-- Sum of latency histograms (rollups' latency_hist), bucket by bucket. PL/pgSQL updates the
-- state array in place: about 4 times faster than sy_hist_add's unnest per row.
CREATE OR REPLACE FUNCTION sy_hist_sum_step(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    FOR i IN 1 .. 40 LOOP
        a[i] := a[i] + coalesce(b[i], 0);
    END LOOP;
    RETURN a;
END;
$$;

CREATE OR REPLACE AGGREGATE sy_hist_sum(bigint[]) (
    SFUNC = sy_hist_sum_step, STYPE = bigint[],
    INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}');

-- The q-quantile of a latency histogram in milliseconds: the upper bound of the first
-- bucket whose cumulative count reaches q x total (the controller's rule,
-- experiments/stats.c exp_hist_quantile_bucket). NULL for an empty histogram and when the
-- quantile falls in the open last bucket (above 120 s).
CREATE OR REPLACE FUNCTION sy_hist_quantile_ms(h bigint[], q double precision) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT round((sy_lat_bounds())[min(i)] / 1000.0, 1)
    FROM (SELECT i, sum(greatest(c, 0)) OVER (ORDER BY i) AS cum,
                 sum(greatest(c, 0)) OVER () AS total
          FROM unnest(h) WITH ORDINALITY AS t(c, i)) x
    WHERE total > 0 AND cum >= q * total
$$;
