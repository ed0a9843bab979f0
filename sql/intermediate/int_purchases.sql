-- The orders that count as purchases, each with its customer_key: live orders dated up to the
-- run date with a positive amount. Orders dated after the run date, and orders with no positive
-- amount, are left out.
SELECT
    k.customer_key,
    o.order_id,
    o.effective_date,
    o.total_amount,
    o.product_category
FROM int_orders o
JOIN int_customer_keys k ON k.kind = 'order' AND k.id = o.order_id
CROSS JOIN run_context r
WHERE o.effective_date <= r.run_date AND o.total_amount > 0
