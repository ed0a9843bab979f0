-- Purchase transactions as the buy-till-you-die models count them: one row per customer and
-- purchase day (same-day orders are one transaction, amounts summed), over the purchases of
-- int_purchases (up to the run date, positive amounts only).
SELECT
    customer_key,
    effective_date AS purchase_date,
    sum(total_amount) AS amount,
    count(*) AS orders
FROM int_purchases
GROUP BY customer_key, effective_date
