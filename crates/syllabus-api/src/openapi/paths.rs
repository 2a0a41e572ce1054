//! Every operation of the API, as `crate::configure` routes it: its method and path, parameters,
//! body and answers. The bodies are the wire types' schemas (referenced by the names they derive)
//! and the request schemas of [`super::requests`]; the shared error answers are
//! [`super::responses::Shared`].
//!
//! Listed here rather than on the handlers: the handlers stay free of documentation attributes,
//! and [`paths`] shows the whole API, one module a resource, in the order they are documented.

use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Paths};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, RefOr, Required};

use super::requests;
use super::responses::{self, Shared, location};
use crate::wire::JobView;
use crate::wire::fields::reference;

mod account;
pub(super) mod edits;
mod flashcards;
mod jobs;
mod plans;
mod progress;
mod service;
mod skill_tree;
pub(super) mod study;
pub(super) mod webhooks;

use Shared::{
    BadRequest, IdempotencyKeyInUse, IdempotencyKeyReused, Internal, PayloadTooLarge,
    RequestTimeout, Unauthorized, Unavailable, UnsupportedMediaType,
};

/// The errors of an operation that reads a JSON body, besides its own.
const BODY: [Shared; 4] = [
    BadRequest,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
];

/// The errors of an operation that reads the store for a signed-in user.
const STORE: [Shared; 3] = [Unauthorized, Internal, Unavailable];

/// One operation being described.
struct Op(OperationBuilder);

impl Op {
    fn new(id: &str, summary: &str) -> Self {
        Self(
            OperationBuilder::new()
                .operation_id(Some(id))
                .summary(Some(summary)),
        )
    }

    fn description(self, text: &str) -> Self {
        Self(self.0.description(Some(text)))
    }

    fn params(self, params: impl IntoIterator<Item = utoipa::openapi::path::Parameter>) -> Self {
        let op = params.into_iter().fold(self.0, OperationBuilder::parameter);
        Self(op)
    }

    /// A required JSON body.
    fn body(self, schema: impl Into<RefOr<Schema>>) -> Self {
        Self(
            self.0.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", Content::new(Some(schema)))
                    .build(),
            )),
        )
    }

    /// An optional JSON body (no body is `{}`).
    fn optional_body(self, schema: impl Into<RefOr<Schema>>) -> Self {
        Self(
            self.0.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::False))
                    .content("application/json", Content::new(Some(schema)))
                    .build(),
            )),
        )
    }

    /// Open to anyone, without a token: `security: []`.
    fn public(self) -> Self {
        Self(self.0.securities(Some(Vec::new())))
    }

    /// Open to anyone without a token, and checking one when sent: `security: [{}, {bearer}]`.
    fn token_optional(self) -> Self {
        Self(
            self.0
                .securities(Some([SecurityRequirement::default(), responses::bearer()])),
        )
    }

    /// A create that takes an `Idempotency-Key` (issue #23): the header, and its 409 and 422.
    /// Before an operation's own 409, which then names `IDEMPOTENCY_KEY_IN_USE` too.
    fn idempotent(self) -> Self {
        self.params([requests::idempotency_key()]).errors(&[
            BadRequest,
            IdempotencyKeyInUse,
            IdempotencyKeyReused,
        ])
    }

    fn answer(self, status: u16, response: Response) -> Self {
        Self(self.0.response(status.to_string(), response))
    }

    fn errors<'a>(self, shared: impl IntoIterator<Item = &'a Shared>) -> Self {
        let op = shared.into_iter().fold(self.0, |op, s| {
            op.response(s.status().to_string(), s.reference())
        });
        Self(op)
    }
}

fn json(description: &str, schema: impl Into<RefOr<Schema>>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
}

/// A reference to `T`'s component schema.
fn of<T: ToSchema>() -> RefOr<Schema> {
    reference(&T::name()).into()
}

/// `202` with the queued job and its `Location`.
fn queued() -> Response {
    json("Queued", of::<JobView>())
        .header("Location", location())
        .build()
}

/// The documented operations, by path.
pub(super) fn paths() -> Paths {
    let mut paths = Paths::new();
    let mut add = |path: &str, method: HttpMethod, op: Op| {
        paths.add_path_operation(path, vec![method], op.0.build());
    };
    plans::add(&mut add);
    progress::add(&mut add);
    flashcards::add(&mut add);
    skill_tree::add(&mut add);
    jobs::add(&mut add);
    account::add(&mut add);
    service::add(&mut add);
    // A plan edited by hand (issue #21 item 2).
    edits::add(&mut add);
    // Spaced review and the Anki export (issue #24).
    study::add(&mut add);
    // Signed webhooks (issue #23).
    webhooks::add(&mut add);
    paths
}
