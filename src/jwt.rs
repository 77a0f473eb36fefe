//! The claims of a JWT access token, read without verifying its signature: only to address a
//! call (`tid`) or to explain a refusal (`roles`), never to trust anything. Entra's tokens are
//! JWTs; a token that is not (or is oversized) has no claims here.

use base64::Engine as _;
use serde_json::Value;

/// Tokens longer than this are not read (Entra's are a few kilobytes).
const MAX_TOKEN: usize = 64 * 1024;

pub fn unverified_claims(token: &str) -> Option<Value> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let mut parts = token.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
