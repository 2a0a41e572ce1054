//! Statements the job runtime runs for every job, kept prepared on each pooled connection
//! (issue #22): diesel's `sql_query` is never cached, so each run of one is a Parse round trip,
//! then a Bind/Execute round trip, and a fresh parse and plan on the server. [`Prepared`] wraps a
//! fixed SQL text and its binds so that diesel-async caches its prepared statement by its text:
//! one round trip per run after the first.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;

/// A raw statement whose SQL text never changes between runs (a `&'static str`, binds only as
/// `$n`), safe to keep prepared.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared<Q>(pub(crate) Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    /// The wrapped `sql_query` marks itself unsafe to cache because its text may be built at
    /// run time; the statements wrapped here are constants.
    fn is_safe_to_cache_prepared(&self, _: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    // No type-based key: cached by its SQL text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Prepared<Q> {
    type SqlType = Untyped;
}
