-- The fitted parameters of the customer-value models (the purchase model and Gamma-Gamma),
-- one row per parameter, with log-likelihood, iterations, convergence and the number of
-- customers: how much to trust customer_value.
SELECT f.*, r.run_date AS as_of_date
FROM value_model_fits('customer_rfm') f
CROSS JOIN run_context r
