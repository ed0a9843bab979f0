-- Acquisition cohorts: cohort month (month of the first purchase) x months since the first
-- purchase, up to the run date: customers who bought in that month, their share of the cohort,
-- revenue, and revenue retained relative to the cohort's first month.
WITH firsts AS (
    SELECT customer_key, min(purchase_date) AS first_date
    FROM int_transactions
    GROUP BY customer_key
),
activity AS (
    SELECT
        CAST(date_trunc('month', f.first_date) AS DATE) AS cohort_month,
        CAST(
            (date_part('year', t.purchase_date) - date_part('year', f.first_date)) * 12
            + date_part('month', t.purchase_date) - date_part('month', f.first_date)
            AS BIGINT
        ) AS months_since_first,
        t.customer_key,
        t.amount
    FROM int_transactions t
    JOIN firsts f ON f.customer_key = t.customer_key
),
cohorts AS (
    SELECT
        CAST(date_trunc('month', first_date) AS DATE) AS cohort_month,
        count(*) AS cohort_customers
    FROM firsts
    GROUP BY 1
),
grid AS (
    SELECT
        c.cohort_month,
        c.cohort_customers,
        unnest(range(0, CAST(
            (date_part('year', r.run_date) - date_part('year', c.cohort_month)) * 12
            + date_part('month', r.run_date) - date_part('month', c.cohort_month)
            AS BIGINT
        ) + 1)) AS months_since_first
    FROM cohorts c
    CROSS JOIN run_context r
),
cells AS (
    SELECT cohort_month, months_since_first, count(DISTINCT customer_key) AS active_customers, sum(amount) AS revenue
    FROM activity
    GROUP BY cohort_month, months_since_first
)
SELECT
    g.cohort_month,
    g.months_since_first,
    g.cohort_customers,
    coalesce(c.active_customers, 0) AS active_customers,
    CAST(coalesce(c.active_customers, 0) AS DOUBLE) / g.cohort_customers AS active_share,
    coalesce(c.revenue, 0.0) AS revenue,
    coalesce(c.revenue, 0.0) / first_value(coalesce(c.revenue, 0.0)) OVER (
        PARTITION BY g.cohort_month ORDER BY g.months_since_first
    ) AS revenue_retained
FROM grid g
LEFT JOIN cells c ON c.cohort_month = g.cohort_month AND c.months_since_first = g.months_since_first
