DROP TABLE llm_usage_months;
DROP TABLE llm_usage_daily;
DROP TABLE llm_calls;
