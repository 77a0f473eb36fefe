//! The emulator's request/response model.
//!
//! The cloud fakes (`graph.rs`, `google.rs`) are pure state machines over these types: no sockets,
//! no clocks they read themselves, no randomness they seed themselves. The server (`server.rs`)
//! owns the sockets, fault injection and the request log, so every fake gets those for free and
//! can be unit-tested without a network.

use std::fmt;

/// One HTTP request as the fakes see it.
#[derive(Clone, Debug, Default)]
pub struct EmuRequest {
    /// Upper-case method: `GET`, `POST`, `PATCH`, `DELETE`.
    pub method: String,
    /// Percent-decoded path, e.g. `/v1.0/applications(uniqueName='mailreg-x-test')`.
    pub path: String,
    /// Percent-decoded query pairs in order, e.g. `("$filter", "tags/any(t:t eq 'a')")`.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl EmuRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The bearer token of the `Authorization` header, if any.
    pub fn bearer(&self) -> Option<&str> {
        let v = self.header("authorization")?;
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }

    /// The body parsed as JSON (`None` when empty or not JSON).
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body parsed as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// One HTTP response produced by a fake.
#[derive(Clone, Debug, PartialEq)]
pub struct EmuResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl EmuResponse {
    /// A JSON response with `Content-Type: application/json`.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        EmuResponse {
            status,
            headers: vec![(
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec(value).expect("JSON values always serialise"),
        }
    }

    /// A response without a body (204 and friends).
    pub fn empty(status: u16) -> Self {
        EmuResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl fmt::Display for EmuResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}
