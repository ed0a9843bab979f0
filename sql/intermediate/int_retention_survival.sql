-- The Kaplan-Meier survival of each cohort at the end of every 30-day period observed: the
-- input of the retention projection.
WITH periods AS (
    SELECT cohort, unnest(range(0, CAST(floor(max(time) / 30.0) AS BIGINT) + 1)) AS period
    FROM retention_curve
    GROUP BY cohort
)
SELECT p.cohort, p.period, min(c.survival) AS survival
FROM periods p
JOIN retention_curve c ON c.cohort = p.cohort AND c.time <= p.period * 30.0
GROUP BY p.cohort, p.period
