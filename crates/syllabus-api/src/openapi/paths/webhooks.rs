//! The operations of signed webhooks (issue #23) and their request schemas, with the domain's
//! bounds (`syllabus_domain::webhooks`).

use utoipa::openapi::RefOr;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use syllabus_domain::webhooks::{
    DESCRIPTION_MAX_CHARS, MAX_ENDPOINTS, URL_MAX_CHARS, WebhookEvent,
};

use super::super::requests::{id, paging};
use super::super::responses::{location, problem};
use super::Shared::{BadRequest, NotFound, RateLimited};
use super::{BODY, Op, STORE, json, of};
use crate::wire::fields::{names, or_null, reference};
use crate::wire::{
    CreatedEndpointView, DeliveryView, EndpointView, ItemsView, ListView, TestQueuedView,
};

/// The name of the body of `POST /webhooks`.
pub(in crate::openapi) const WEBHOOK_CREATE: &str = "WebhookCreate";
/// The name of the body of `PATCH /webhooks/{id}`.
pub(in crate::openapi) const WEBHOOK_CHANGES: &str = "WebhookChanges";

fn events() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(names::<WebhookEvent>())
        .min_items(Some(1))
        .description(Some(
            "Event types wanted (duplicates are removed). An unknown type or none: 422 naming \
             events.",
        ))
}

/// The request schemas, by name.
pub(in crate::openapi) fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let create = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "url",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(URL_MAX_CHARS))
                .description(Some(
                    "An absolute https URL without user information whose host is public \
                     (an address literal is checked at once, a name's addresses at every \
                     delivery). With WEBHOOK_ALLOW_LOOPBACK, also http to a loopback host. \
                     Refused: 422 naming url.",
                )),
        )
        .required("url")
        .property("events", events())
        .required("events")
        .property(
            "description",
            or_null(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(DESCRIPTION_MAX_CHARS))
                    .pattern(Some("^[^\\u0000]*$"))
                    .description(Some(
                        "Trimmed; blank or null is none; longer, or with NUL: 422.",
                    )),
            ),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let changes = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "enabled",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some(
                    "true re-enables it (its disabled_reason and failure streak are cleared); \
                     false disables it.",
                )),
        )
        .property("events", events())
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    vec![
        (WEBHOOK_CREATE.to_owned(), create.into()),
        (WEBHOOK_CHANGES.to_owned(), changes.into()),
    ]
}

/// The wire schemas the operations answer with.
pub(in crate::openapi) fn register(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    fn one<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
    one::<EndpointView>(schemas);
    one::<CreatedEndpointView>(schemas);
    one::<DeliveryView>(schemas);
    one::<TestQueuedView>(schemas);
}

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Delete, Get, Patch, Post};
    add(
        "/api/v1/webhooks",
        Post,
        Op::new(
            "createWebhook",
            "Add a webhook endpoint; its signing secret is in this answer only",
        )
        .description(&format!(
            "Deliveries follow the Standard Webhooks specification: `webhook-id`, \
             `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of \
             id.timestamp.body>` keyed with the decoded secret. At most {MAX_ENDPOINTS} \
             endpoints per user (409 WEBHOOK_LIMIT). Creating one sends nothing."
        ))
        .body(reference(WEBHOOK_CREATE))
        .idempotent()
        .answer(
            201,
            json(
                "Created: the endpoint and its secret",
                reference(&CreatedEndpointView::name()),
            )
            .header("Location", location())
            .build(),
        )
        .answer(
            409,
            problem("WEBHOOK_LIMIT: the caller has the most endpoints allowed; or IDEMPOTENCY_KEY_IN_USE"),
        )
        .answer(
            422,
            problem(
                "VALIDATION_ERROR naming url, events or description (refused by a rule); or \
                 IDEMPOTENCY_KEY_REUSED",
            ),
        )
        .errors(&BODY)
        .errors(&[RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/webhooks",
        Get,
        Op::new(
            "listWebhooks",
            "The caller's webhook endpoints, newest first",
        )
        .answer(
            200,
            json("Endpoints", ItemsView::<EndpointView>::schema()).build(),
        )
        .errors(&STORE),
    );
    add(
        "/api/v1/webhooks/{id}",
        Get,
        Op::new("getWebhook", "A webhook endpoint (never its secret)")
            .params([id()])
            .answer(200, json("The endpoint", of::<EndpointView>()).build())
            .errors(&[NotFound])
            .errors(&STORE),
    );
    add(
        "/api/v1/webhooks/{id}",
        Patch,
        Op::new(
            "updateWebhook",
            "Enable, disable or change the events of an endpoint",
        )
        .params([id()])
        .body(reference(WEBHOOK_CHANGES))
        .answer(
            200,
            json("The endpoint as changed", of::<EndpointView>()).build(),
        )
        .answer(422, problem("VALIDATION_ERROR naming events"))
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/webhooks/{id}",
        Delete,
        Op::new("deleteWebhook", "Delete an endpoint and its deliveries")
            .params([id()])
            .answer(204, Response::new("Deleted"))
            .errors(&[NotFound, RateLimited])
            .errors(&STORE),
    );
    add(
        "/api/v1/webhooks/{id}/test",
        Post,
        Op::new(
            "testWebhook",
            "Queue a webhook.test event to this endpoint only",
        )
        .params([id()])
        .answer(202, json("Queued", of::<TestQueuedView>()).build())
        .answer(
            409,
            problem(
                "INVALID_STATE: the endpoint is disabled, or a test event to it is still pending",
            ),
        )
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/webhooks/{id}/deliveries",
        Get,
        Op::new(
            "listWebhookDeliveries",
            "An endpoint's deliveries with their attempts, newest first",
        )
        .params([id()])
        .params(paging())
        .answer(
            200,
            json("A page of deliveries", ListView::<DeliveryView>::schema()).build(),
        )
        .errors(&[BadRequest, NotFound])
        .errors(&STORE),
    );
}
