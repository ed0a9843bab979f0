-- One row per agent review (a self-review, a team lead's, a peer's or QA's, of one employee
-- for one period): its rubric score, the change since the same kind of review of the previous
-- period, and, for a self-review, how far it is above the manager's review of the same period.
--
-- * `score` (0-100): the weighted mean of the criteria scored, each put on 0-100 over its scale
--   (`Weight` as exported, 1 when absent); criteria not rated (`N/A`) are left out of both
--   sums. Null when no criterion was rated.
-- * `review_date`: the start of the period reviewed (or the day of the review without one):
--   the time of the review metrics.
-- * `previous_score` / `score_change`: the employee's review by the same role for the
--   previous period reviewed (the self-evaluation delta for self-reviews).
-- * `manager_score` / `self_vs_manager`: on self-reviews, the manager's review of the same
--   employee and period, and self minus manager (how much the agent over-rates their work).
-- A review re-exported in a later file counts once (the last file read wins per criterion).
WITH criteria AS (
    SELECT *
    FROM (
        SELECT
            *,
            row_number() OVER (PARTITION BY review_id, criterion ORDER BY _source_file DESC, _source_line DESC) AS copy_rank
        FROM stg_agent_reviews
    )
    WHERE copy_rank = 1
),
reviews AS (
    SELECT
        review_id,
        min(employee_id) AS employee_id,
        max(employee_name) AS employee_name,
        max(reviewer_id) AS reviewer_id,
        min(reviewer_role) AS reviewer_role,
        min(period_start) AS period_start,
        max(period_end) AS period_end,
        max(scorecard) AS scorecard,
        max(reviewed_at) AS reviewed_at,
        count(*) AS criteria,
        count(score) AS criteria_scored,
        100.0 * sum(coalesce(weight, 1.0) * (score - scale_min) / (scale_max - scale_min)) FILTER (WHERE score IS NOT NULL AND scale_max > scale_min)
            / sum(coalesce(weight, 1.0)) FILTER (WHERE score IS NOT NULL AND scale_max > scale_min) AS score
    FROM criteria
    GROUP BY review_id
),
dated AS (
    SELECT *, coalesce(period_start, CAST(reviewed_at AS DATE)) AS review_date
    FROM reviews
),
ordered AS (
    SELECT
        *,
        lag(score) OVER (PARTITION BY employee_id, reviewer_role ORDER BY review_date, review_id) AS previous_score
    FROM dated
),
managers AS (
    SELECT employee_id, review_date, avg(score) AS manager_score
    FROM dated
    WHERE reviewer_role = 'manager'
    GROUP BY employee_id, review_date
)
SELECT
    o.review_id,
    o.employee_id,
    o.employee_name,
    o.reviewer_id,
    o.reviewer_role,
    o.period_start,
    o.period_end,
    o.review_date,
    o.scorecard,
    o.reviewed_at,
    o.criteria,
    o.criteria_scored,
    o.score,
    o.previous_score,
    o.score - o.previous_score AS score_change,
    CASE WHEN o.reviewer_role = 'self' THEN m.manager_score END AS manager_score,
    CASE WHEN o.reviewer_role = 'self' THEN o.score - m.manager_score END AS self_vs_manager
FROM ordered o
LEFT JOIN managers m ON m.employee_id = o.employee_id AND m.review_date = o.review_date
