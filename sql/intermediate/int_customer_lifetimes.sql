-- Each purchasing customer's observed lifetime, for survival analysis. A customer with no
-- purchase for more than inactive_after_days before the run date counts as churned at the last
-- purchase (duration = days from the first to the last purchase); anyone else is still active,
-- censored at the run date (duration = days from the first purchase to the run date). The
-- cohort is the month of the first purchase.
SELECT
    customer_key,
    to_char(first_purchase_date, '%Y-%m') AS cohort,
    CAST(CASE WHEN churned THEN recency ELSE "T" END AS DOUBLE) AS duration,
    churned AS observed
FROM (
    SELECT
        r.*,
        days_between(r.last_purchase_date, r.as_of_date) > setting('inactive_after_days') AS churned
    FROM customer_rfm r
)
