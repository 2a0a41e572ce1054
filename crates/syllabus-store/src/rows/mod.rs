//! The rows diesel reads and writes (`Queryable`, `QueryableByName`, `Insertable`), one file per
//! table family, with their conversions to and from records. A one-off result of a single query
//! (a count, a timestamp) stays next to that query instead.

pub(crate) mod attempts;
pub(crate) mod content;
pub(crate) mod jobs;
pub(crate) mod numbers;
pub(crate) mod plans;
pub(crate) mod previews;
pub(crate) mod webhooks;
