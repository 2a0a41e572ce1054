//! The endpoint's host, parsed once the same way for every use: the provider's name, the schema
//! profile and the token-budget field all read it from the base URL.

/// The host of a base URL, or `None` when it does not parse or has none.
pub(crate) fn host(base_url: &str) -> Option<url::Host<String>> {
    reqwest::Url::parse(base_url)
        .ok()?
        .host()
        .map(|h| h.to_owned())
}
