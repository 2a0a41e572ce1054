//! Who the web app is signed in as, and development sign-in.
//!
//! `GET /api/v1/session` needs no token: the app asks it first, to learn whether a token it holds
//! (or the `Authorization` header an auth proxy adds) names a user, and whether it may offer the
//! development sign-in form. `POST /api/v1/session/dev` mints a token for a chosen name, only
//! when the operator turned development sign-in on (`DEV_SIGN_IN`); otherwise it is a 404, as if
//! it did not exist. Both answers are `Cache-Control: no-store`: they depend on the caller, and
//! one carries a token.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use syllabus_domain::UserId;

use crate::auth::{Authenticator, MaybeCaller};
use crate::input::from_value;
use crate::problem::ApiError;

#[derive(Serialize)]
struct SessionView<'a> {
    user_id: Option<&'a str>,
    dev_sign_in: bool,
}

#[derive(Deserialize)]
struct DevSignIn {
    name: String,
}

#[derive(Serialize)]
struct MintedView<'a> {
    token: &'a str,
    user_id: &'a str,
    expires_at: String,
}

fn no_store() -> (header::HeaderName, HeaderValue) {
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// `GET /api/v1/session`: `{"user_id": …|null, "dev_sign_in": bool}`.
pub(crate) async fn session(caller: MaybeCaller, auth: web::Data<Authenticator>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(no_store())
        .json(SessionView {
            user_id: caller.0.as_ref().map(UserId::as_str),
            dev_sign_in: auth.dev_sign_in(),
        })
}

/// `POST /api/v1/session/dev` `{"name"}`: `201 {"token", "user_id", "expires_at"}`. The switch is
/// checked before the body, so with it off every request is the same 404.
pub(crate) async fn dev_sign_in(
    auth: web::Data<Authenticator>,
    body: Result<web::Json<Value>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    if !auth.dev_sign_in() {
        return Err(ApiError::not_found().into());
    }
    let DevSignIn { name } = from_value(body?.into_inner())?;
    let user = UserId::parse(name.trim()).ok_or_else(|| {
        ApiError::field(
            "name",
            format!(
                "must be 1 to {} bytes without control characters (surrounding spaces are trimmed)",
                UserId::MAX_LEN
            ),
        )
    })?;
    let minted = auth
        .mint_dev_token(&user, chrono::Utc::now())
        .ok_or_else(ApiError::not_found)?
        .map_err(|e| {
            tracing::error!(error = %e, "development sign-in could not mint a token");
            ApiError::internal()
        })?;
    tracing::info!(user.id = %user, "development sign-in minted a token");
    Ok(HttpResponse::Created()
        .insert_header(no_store())
        .json(MintedView {
            token: &minted.token,
            user_id: user.as_str(),
            expires_at: minted.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        }))
}
