//! Who the web app is signed in as, and development sign-in.
//!
//! `GET /api/v1/session` needs no token: the app asks it first, to learn whether a token it holds
//! (or the `Authorization` header an auth proxy adds) names a user, and whether it may offer the
//! development sign-in form. `POST /api/v1/session/dev` mints a token for a chosen name, only
//! when the operator turned development sign-in on (`DEV_SIGN_IN`); otherwise it is a 404, as if
//! it did not exist. Both answers are `Cache-Control: no-store`: they depend on the caller, and
//! one carries a token.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest as _, HttpRequest, HttpResponse, web};
use chrono::SecondsFormat;
use serde_json::Value;
use syllabus_domain::UserId;

use crate::auth::{Authenticator, MaybeCaller};
use crate::input::from_value;
use crate::problem::ApiError;
use crate::wire::{DevSignInRequest, MintedView, SessionView};

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

/// `POST /api/v1/session/dev` `{"name"}`: `201 {"token", "user_id", "expires_at"}`. The switch
/// and the address are checked before a byte of the body is read, so with it off (or from
/// elsewhere) every request is the same 404 and holds nothing.
///
/// Only a request addressed to a loopback name (`localhost`, `127.x.y.z`, `[::1]`) in its own
/// `Host` (or its URI's authority), with no forwarding header and with no `Origin` or a loopback
/// one, is answered: a page elsewhere that rebinds its own DNS name to this machine's loopback
/// address would otherwise mint tokens through the learner's browser, and such a page can set
/// `X-Forwarded-Host` or `Forwarded` with `fetch`.
pub(crate) async fn dev_sign_in(
    req: HttpRequest,
    auth: web::Data<Authenticator>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if !auth.dev_sign_in() {
        return Err(ApiError::not_found().into());
    }
    if let Err(why) = addressed_to_loopback(&req) {
        tracing::warn!(
            reason = why,
            "development sign-in refused for a request not addressed to a loopback name"
        );
        return Err(ApiError::not_found().into());
    }
    let body = web::Json::<Value>::from_request(&req, &mut payload.into_inner()).await?;
    let DevSignInRequest { name } = from_value(body.into_inner())?;
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

/// Headers a proxy sets to say where a request was addressed or came from. Development sign-in
/// trusts none of them and refuses a request that carries any.
const FORWARDING: [&str; 5] = [
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Whether `req` was addressed to a loopback name by a page of this machine: its own `Host`
/// header (or, without one, its URI's authority), no forwarding header, and no `Origin` or a
/// loopback one. `Err` says what failed, for the log.
fn addressed_to_loopback(req: &HttpRequest) -> Result<(), &'static str> {
    let headers = req.headers();
    if FORWARDING.iter().any(|h| headers.contains_key(*h)) {
        return Err("forwarding header");
    }
    let host = match headers.get(header::HOST) {
        Some(v) => v.to_str().map_err(|_| "host not text")?.to_owned(),
        None => req
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or("no host")?,
    };
    if !is_loopback_host(&host) {
        return Err("host");
    }
    match headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(origin) => {
            let origin = origin.to_str().map_err(|_| "origin not text")?;
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .ok_or("origin")?;
            if is_loopback_host(authority) {
                Ok(())
            } else {
                Err("origin")
            }
        }
    }
}

/// Whether a `Host` header (name or address, with or without a port) names this machine's
/// loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_count_as_loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.5:8080",
            "localhost.evil.example",
            "[::2]:80",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
