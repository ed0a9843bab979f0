-- Per customer, the purchase summary the buy-till-you-die models take, in days, as of the run
-- date: frequency = repeat purchase days (same-day orders are one transaction), recency = days
-- from the first to the last purchase, T = days from the first purchase to the run date,
-- monetary_value = mean value of the repeat transactions (0 without repeats). Orders dated after
-- the run date, and orders with no positive amount, are left out.
WITH ranked AS (
    SELECT
        *,
        row_number() OVER (PARTITION BY customer_key ORDER BY purchase_date) AS purchase_no
    FROM int_transactions
)
SELECT
    customer_key,
    count(*) - 1 AS frequency,
    days_between(min(purchase_date), max(purchase_date)) AS recency,
    days_between(min(purchase_date), max(r.run_date)) AS "T",
    coalesce(avg(amount) FILTER (WHERE purchase_no > 1), 0.0) AS monetary_value,
    count(*) AS transactions,
    sum(amount) AS total_amount,
    min(purchase_date) AS first_purchase_date,
    max(purchase_date) AS last_purchase_date,
    max(r.run_date) AS as_of_date
FROM ranked
CROSS JOIN run_context r
GROUP BY customer_key
