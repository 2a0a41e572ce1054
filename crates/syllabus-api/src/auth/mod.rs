//! Bearer JWT authentication: HS256 with a shared secret, or RS256/ES256 keys from a JWKS URL.
//! `exp` is enforced; `iss` and `aud` are checked when configured; `sub` is the user.
//!
//! - `verify`: the [`Authenticator`], which checks a token against its [`KeySource`];
//! - `jwks`: the cache of JWKS keys it asks for a `kid`'s key;
//! - `mint`: minting ([`mint()`]), next to the verification it must satisfy: the `token` command
//!   and development sign-in (`POST /api/v1/session/dev`, only with
//!   [`Authenticator::with_dev_sign_in`]) share it;
//! - `extract`: the [`Caller`] and [`MaybeCaller`] extractors that handlers take.

mod extract;
mod jwks;
mod mint;
mod verify;

pub use extract::{Caller, MaybeCaller};
pub use mint::{DEV_TOKEN_TTL, MintError, Minted, SigningKey, mint};
pub use verify::{Authenticator, KeySource};
