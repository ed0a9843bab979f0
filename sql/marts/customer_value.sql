-- Per customer: P(alive) and expected purchases over the next horizon_days from the purchase
-- model (BG/NBD or Pareto/NBD, fitted on customer_rfm), expected spend per purchase
-- (Gamma-Gamma), CLV over clv_months discounted monthly at the pipeline's rate and multiplied
-- by its margin, the CLV decile (1 = top 10%) and segment, cost to serve (agent minutes on
-- answered calls and served chats x support_cost_per_minute), expected cost to serve over the
-- CLV horizon (cost per purchase so far x expected purchases), poor_fit when that expected
-- cost exceeds the CLV, and cross-sell breadth (distinct product categories bought).
-- value_note explains every null; settings come from the pipeline's `value:` section
-- (`setting()`, also the table pipeline_settings).
WITH support AS (
    SELECT customer_key, sum(minutes) AS support_minutes, count(*) AS support_contacts
    FROM (
        SELECT customer_key, coalesce(talk_secs, 0) / 60.0 AS minutes FROM fct_calls WHERE answered
        UNION ALL
        SELECT customer_key, coalesce(seconds_between(started_at, ended_at), 0.0) / 60.0 FROM fct_chats WHERE NOT is_missed
    )
    GROUP BY customer_key
),
categories AS (
    SELECT customer_key, count(DISTINCT product_category) AS categories_bought
    FROM int_purchases
    GROUP BY customer_key
),
valued AS (
    SELECT
        v.*,
        rfm.transactions,
        rfm.total_amount,
        rfm.as_of_date,
        coalesce(s.support_contacts, 0) AS support_contacts,
        coalesce(s.support_minutes, 0.0) AS support_minutes,
        coalesce(s.support_minutes, 0.0) * setting('support_cost_per_minute') AS cost_to_serve,
        coalesce(c.categories_bought, 0) AS categories_bought
    FROM customer_value_model('customer_rfm') v
    JOIN customer_rfm rfm ON rfm.customer_key = v.customer_key
    LEFT JOIN support s ON s.customer_key = v.customer_key
    LEFT JOIN categories c ON c.customer_key = v.customer_key
)
SELECT
    customer_key,
    model,
    frequency,
    recency,
    "T",
    monetary_value,
    transactions,
    total_amount,
    p_alive,
    expected_purchases,
    expected_spend,
    clv,
    value_decile,
    CASE
        WHEN value_decile = 1 THEN 'top_10'
        WHEN value_decile <= 3 THEN 'next_20'
        WHEN value_decile <= 7 THEN 'middle_40'
        WHEN value_decile <= 10 THEN 'bottom_30'
    END AS value_segment,
    support_contacts,
    support_minutes,
    cost_to_serve,
    cost_to_serve / transactions * expected_purchases_clv_horizon AS expected_cost_to_serve,
    cost_to_serve / transactions * expected_purchases_clv_horizon > clv AS poor_fit,
    clv - cost_to_serve / transactions * expected_purchases_clv_horizon AS net_value,
    categories_bought,
    value_note,
    as_of_date
FROM valued
