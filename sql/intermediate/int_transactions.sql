-- Purchase transactions as the buy-till-you-die models count them: one row per customer and
-- purchase day (same-day orders are one transaction, amounts summed), up to the run date.
-- Orders without a positive amount are left out.
SELECT
    k.customer_key,
    o.effective_date AS purchase_date,
    sum(o.total_amount) AS amount,
    count(*) AS orders
FROM int_orders o
JOIN int_customer_keys k ON k.kind = 'order' AND k.id = o.order_id
CROSS JOIN run_context r
WHERE o.effective_date <= r.run_date AND o.total_amount > 0
GROUP BY k.customer_key, o.effective_date
