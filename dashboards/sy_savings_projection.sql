-- sy_savings_projection(per_day, experiment, phase, cohort, mix): daily cost at a given
-- traffic, single model against routed, from the per-request costs an arm actually had.
--
-- Per task type t of the arm (experiment, phase if given else all its phases, cohort
-- default 'routed', since switchyard.since): single_model_per_request = baseline cost / n,
-- routed_per_request = cost / n. The mix is the arm's observed one, or mix
-- ('{"simple": 50, "code": 20, ...}', weights normalised to sum 1; every task type it
-- names must have requests). Daily: per_day x share x per-request cost; one row per task
-- type and a last row 'all' with the totals. experiments/README.md, "Cost arithmetic",
-- is the worked example (50,000 a day: $625.00 against $357.50, 42.8%).
DROP FUNCTION IF EXISTS sy_savings_projection(double precision, text, text, text, jsonb);
CREATE FUNCTION sy_savings_projection(
    per_day double precision, p_experiment text, p_phase text DEFAULT NULL,
    p_cohort text DEFAULT 'routed', mix jsonb DEFAULT NULL
) RETURNS TABLE (task_type text, share_pct numeric, requests_per_day numeric,
                 single_model_per_request numeric, routed_per_request numeric,
                 single_model_usd_per_day numeric, routed_usd_per_day numeric,
                 savings_usd_per_day numeric, savings_pct numeric)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    missing   text;
    tasks     text[];
    ns        bigint[];
    costs     double precision[];
    baselines double precision[];
BEGIN
    IF per_day IS NULL OR per_day < 0 THEN
        RAISE EXCEPTION 'per_day must be a number >= 0 (got %)', per_day;
    END IF;
    IF mix IS NOT NULL AND (jsonb_typeof(mix) <> 'object' OR EXISTS (
            SELECT 1 FROM jsonb_each(mix) e
            WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text::float8 < 0)
        OR NOT EXISTS (SELECT 1 FROM jsonb_each(mix) e WHERE e.value::text::float8 > 0)) THEN
        RAISE EXCEPTION 'mix must be an object of task type -> weight >= 0, one of them > 0';
    END IF;
    SELECT array_agg(a.t ORDER BY a.t), array_agg(a.n ORDER BY a.t),
           array_agg(a.cost ORDER BY a.t), array_agg(a.baseline ORDER BY a.t)
    INTO tasks, ns, costs, baselines
    FROM (SELECT r.task_type AS t, sum(r.n)::bigint AS n, sum(r.cost_sum) AS cost,
                 sum(r.baseline_cost_sum) AS baseline
          FROM rollups_minute r
          WHERE r.experiment = p_experiment AND (p_phase IS NULL OR r.phase = p_phase)
            AND r.cohort = p_cohort AND r.minute >= sy_dash_since()
          GROUP BY r.task_type
          HAVING sum(r.n) > 0) a;
    IF mix IS NOT NULL THEN
        SELECT string_agg(e.key, ', ' ORDER BY e.key) INTO missing
        FROM jsonb_each(mix) e
        WHERE e.value::text::float8 > 0
          AND NOT (e.key = ANY (coalesce(tasks, '{}')));
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'mix names task types without requests in that arm: %', missing;
        END IF;
    END IF;
    RETURN QUERY
    WITH w AS (
        SELECT a.t, a.cost / a.n AS c, a.baseline / a.n AS b,
               CASE WHEN mix IS NULL THEN a.n::float8 / sum(a.n) OVER ()
                    ELSE coalesce((mix ->> a.t)::float8, 0)
                         / (SELECT sum(e.value::text::float8) FROM jsonb_each(mix) e) END AS share
        FROM unnest(tasks, ns, costs, baselines) AS a(t, n, cost, baseline)
    ), d AS (
        SELECT w.t, w.share, w.c, w.b, per_day * w.share AS reqs,
               per_day * w.share * w.b AS single, per_day * w.share * w.c AS routed
        FROM w
    ), rows AS (
        SELECT 0 AS o, d.t, d.share, d.reqs, d.b, d.c, d.single, d.routed FROM d
        UNION ALL
        SELECT 1, 'all', sum(d.share), sum(d.reqs), sum(d.share * d.b), sum(d.share * d.c),
               sum(d.single), sum(d.routed)
        FROM d HAVING count(*) > 0
    )
    SELECT x.t, round((100 * x.share)::numeric, 1), round(x.reqs::numeric, 1),
           round(x.b::numeric, 6), round(x.c::numeric, 6),
           round(x.single::numeric, 2), round(x.routed::numeric, 2),
           round((x.single - x.routed)::numeric, 2),
           round((100 * (x.single - x.routed) / nullif(x.single, 0))::numeric, 1)
    FROM rows x
    ORDER BY x.o, coalesce(array_position(ARRAY['simple', 'code', 'reasoning', 'complex'], x.t), 99),
             x.t;
END;
$$;
