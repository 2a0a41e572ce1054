//! The settings of issue #22's usage and cost: `LLM_PRICES` and `LLM_PRICE_CURRENCY` (the
//! budget and retention are plain numbers, read beside the others).

use anyhow::bail;
use syllabus_domain::usage::PriceTable;

use super::Env;

/// `LLM_PRICES` (issue #22): `model=input/output,…` in currency units per million tokens;
/// unset, no model has a price.
pub(super) fn prices(env: &Env) -> anyhow::Result<PriceTable> {
    match env.get("LLM_PRICES") {
        None => Ok(PriceTable::default()),
        Some(v) => PriceTable::parse(v).map_err(|e| {
            anyhow::anyhow!(
                "LLM_PRICES is invalid: {e} (expected model=input/output per million tokens, \
                 comma-separated, such as gpt-4o-mini=0.15/0.60)"
            )
        }),
    }
}

/// `LLM_PRICE_CURRENCY` (default `USD`): a label of 1 to 16 letters, digits, `-` or `_`.
pub(super) fn currency(env: &Env, default: String) -> anyhow::Result<String> {
    match env.get("LLM_PRICE_CURRENCY") {
        None => Ok(default),
        Some(v) => {
            let v = v.trim();
            if v.len() > 16
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                bail!(
                    "LLM_PRICE_CURRENCY is invalid: expected 1 to 16 letters, digits, `-` or `_`, got `{v}`"
                );
            }
            Ok(v.to_owned())
        }
    }
}
