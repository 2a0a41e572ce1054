//! The learner's web app: the files under `crates/syllabus-api/web/`, embedded in the binary with
//! `include_bytes!` (no build step, nothing fetched at run time) and served at `/` and
//! `/assets/{name}`. They are not API: the OpenAPI document leaves them out. The script is native
//! ES modules (`app.js` imports the others by relative URL), each listed in `ASSETS`.
//!
//! Every answer is revalidated (`Cache-Control: no-cache`) against a strong `ETag` hashed from the
//! bytes once, so a new binary's files are picked up at once and an unchanged file costs a `304`.
//! The content security policy allows only this origin's scripts, styles, images and API calls.

use std::hash::{Hash as _, Hasher as _};
use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::problem::ApiError;

/// One embedded file.
struct Asset {
    /// Its name under `/assets/`.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// One of the app's ES modules, `web/{name}`, imported by `app.js` or by another module.
macro_rules! module {
    ($name:literal) => {
        Asset {
            name: $name,
            content_type: "text/javascript; charset=utf-8",
            bytes: include_bytes!(concat!("../web/", $name)),
        }
    };
}

/// Every embedded file; `index.html` is also the page at `/`.
static ASSETS: [Asset; 36] = [
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../web/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../web/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../web/app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../web/favicon.svg"),
    },
    module!("api.js"),
    module!("bounds.js"),
    module!("calendar.js"),
    module!("chart.js"),
    module!("dates.js"),
    module!("dom.js"),
    module!("due.js"),
    module!("events.js"),
    module!("fields.js"),
    module!("flashcards.js"),
    module!("format.js"),
    module!("integrations.js"),
    module!("jobs.js"),
    module!("module-card.js"),
    module!("module-regen.js"),
    module!("nav.js"),
    module!("outline.js"),
    module!("plan-edit.js"),
    module!("plan-form.js"),
    module!("plan.js"),
    module!("plans.js"),
    module!("progress.js"),
    module!("public.js"),
    module!("review.js"),
    module!("schedule.js"),
    module!("session.js"),
    module!("share.js"),
    module!("sign-in.js"),
    module!("skill-graph.js"),
    module!("skills.js"),
    module!("views.js"),
    module!("webhook-card.js"),
];

/// The strong entity tag of each of [`ASSETS`], in the same order: hashed at first use (the
/// bytes never change while the process runs).
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            // SipHash with fixed keys: the same bytes give the same tag in every process of a
            // build, so several instances behind one balancer agree.
            let mut hasher = std::hash::DefaultHasher::new();
            asset.bytes.hash(&mut hasher);
            format!("\"{:016x}\"", hasher.finish())
        })
        .collect()
});

/// The policy of the app's pages: this origin only, no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /` and `HEAD /`: the app's page.
pub(crate) async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "index.html")
}

/// `GET /assets/{name}` and `HEAD`: an embedded file, or the API's 404 problem.
pub(crate) async fn asset(
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    serve(&req, &name)
}

/// The file `name` with its headers, `304` when the request's `If-None-Match` names its tag.
fn serve(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let (asset, etag) = ASSETS
        .iter()
        .zip(ETAGS.iter())
        .find(|(a, _)| a.name == name)
        .ok_or_else(ApiError::not_found)?;
    let fresh = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .any(|v| matches(v, etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    Ok(if fresh {
        res.finish()
    } else {
        res.content_type(asset.content_type).body(asset.bytes)
    })
}

/// Whether an `If-None-Match` value (`*` or a list of tags) names `etag`. RFC 9110 §13.1.2
/// compares weakly: `W/"x"` matches `"x"`.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_a_star() {
        let tag = "\"0123456789abcdef\"";
        for (value, expected) in [
            ("\"0123456789abcdef\"", true),
            ("W/\"0123456789abcdef\"", true),
            ("\"other\", \"0123456789abcdef\"", true),
            ("*", true),
            ("\"other\"", false),
            ("0123456789abcdef", false),
            ("", false),
        ] {
            assert_eq!(matches(value, tag), expected, "{value}");
        }
    }

    #[test]
    fn every_asset_has_a_distinct_strong_tag() {
        assert_eq!(ETAGS.len(), ASSETS.len());
        for tag in ETAGS.iter() {
            assert!(
                tag.starts_with('"') && tag.ends_with('"') && tag.len() == 18,
                "{tag}"
            );
        }
        let mut distinct = ETAGS.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), ASSETS.len());
        assert!(ASSETS.iter().any(|a| a.name == "index.html"));
    }

    /// A module added under `web/` and not listed here would be a 404 for the browser.
    #[test]
    fn every_file_of_the_web_app_is_embedded_and_scripts_are_javascript() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(files, embedded);
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            assert_eq!(
                asset.content_type, "text/javascript; charset=utf-8",
                "{}",
                asset.name
            );
        }
    }
}
