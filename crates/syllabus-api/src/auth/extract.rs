//! The extractors handlers take for the user of a request: [`Caller`] (a token is required) and
//! [`MaybeCaller`] (a token is optional). A handler lists `Caller` before its body, so a request
//! without a valid token is answered 401 before its body is read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, web};
use syllabus_domain::UserId;

use super::verify::Authenticator;
use crate::problem::ApiError;

/// The user named by a request's `Authorization` header: `None` without the header; a 401 for a
/// header that is not a valid bearer token.
fn bearer_user(
    req: &HttpRequest,
) -> Pin<Box<dyn Future<Output = Result<Option<UserId>, ApiError>>>> {
    let auth = req
        .app_data::<web::Data<Authenticator>>()
        .map(|d| Arc::clone(d));
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned));
    Box::pin(async move {
        let auth = auth.ok_or_else(ApiError::internal)?;
        let Some(header) = header else {
            return Ok(None);
        };
        let header = header.map_err(|_| {
            ApiError::unauthorized("The Authorization header must be `Bearer <token>`.")
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("The Authorization header must be `Bearer <token>`.")
            })?;
        Ok(Some(auth.authenticate(token.trim()).await?))
    })
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub UserId);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let user = bearer_user(req);
        Box::pin(async move {
            user.await?.map(Self).ok_or_else(|| {
                ApiError::unauthorized("An Authorization: Bearer token is required.")
            })
        })
    }
}

/// The user of a request that may come without a token: `None` without an `Authorization`
/// header; a header that is there must hold a valid token (else 401, as for [`Caller`]).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<UserId>);

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let user = bearer_user(req);
        Box::pin(async move { Ok(Self(user.await?)) })
    }
}
