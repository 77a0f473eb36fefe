//! What a store holds: the credentials' fields as a flat string map, the same names as the
//! `json` output. `Debug` never shows the client secret; [`Payload::masked`] is what plans show.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::credentials::{Record, mask};
use crate::output::context::for_record;
use crate::spec::secret::{FIELDS, SecretSpec};

/// The field that is a secret (masked in plans, never logged).
pub const SECRET_FIELD: &str = "client_secret";

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Payload(pub BTreeMap<String, String>);

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.masked().iter().map(|(k, v)| (k.clone(), v.clone())))
            .finish()
    }
}

impl Payload {
    /// The payload a `[[secret]]` entry wants, from the record; `None` while the provider's
    /// credentials are not complete (no Microsoft secret yet, no Google client imported).
    pub fn from_record(record: &Record, spec: &SecretSpec) -> Option<Payload> {
        let ctx = for_record(record, spec.provider, &Default::default(), true)?;
        let all: [(&str, Option<String>); 12] = [
            ("provider", Some(spec.provider.as_str().to_owned())),
            ("name", Some(ctx.name)),
            ("env", Some(ctx.env)),
            ("tenant", ctx.tenant),
            ("project_id", ctx.project_id),
            ("client_id", Some(ctx.client_id)),
            (SECRET_FIELD, Some(ctx.client_secret)),
            ("secret_expires", ctx.secret_expires),
            ("auth_url", Some(ctx.auth_url)),
            ("token_url", Some(ctx.token_url)),
            ("scope", Some(ctx.scope)),
            ("redirect_uri", Some(ctx.redirect_uri)),
        ];
        debug_assert_eq!(all.len(), FIELDS.len());
        let wanted = |k: &str| spec.fields.is_empty() || spec.fields.iter().any(|f| f == k);
        Some(Payload(
            all.into_iter()
                .filter(|(k, _)| wanted(k))
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                .collect(),
        ))
    }

    /// Parses a stored JSON object of strings (Key Vault, Secret Manager); `None` when the
    /// stored value is something else (someone wrote another format: a change).
    pub fn from_json_text(text: &str) -> Option<Payload> {
        match serde_json::from_str::<Value>(text).ok()? {
            Value::Object(m) => Some(Payload(
                m.into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Some((k, s)),
                        _ => None,
                    })
                    .collect::<Option<_>>()?,
            )),
            _ => None,
        }
    }

    pub fn from_map(m: &serde_json::Map<String, Value>) -> Option<Payload> {
        Self::from_json_text(&Value::Object(m.clone()).to_string())
    }

    /// One JSON object with sorted keys (the stored form in Key Vault and Secret Manager).
    pub fn to_json_text(&self) -> String {
        serde_json::to_string(&self.0).expect("string maps serialise")
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.0).expect("string maps serialise")
    }

    /// The fields with the secret masked, for plans and logs.
    pub fn masked(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| {
                let v = if k == SECRET_FIELD {
                    mask(v)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_masked_never_show_the_secret() {
        let p = Payload(BTreeMap::from([
            ("client_id".into(), "id-1".into()),
            (SECRET_FIELD.into(), "s3cr3t-value".into()),
        ]));
        let shown = format!("{p:?}");
        assert_eq!(
            shown,
            "{\"client_id\": \"id-1\", \"client_secret\": \"s3c…(hidden)\"}"
        );
        assert_eq!(Payload::from_json_text(&p.to_json_text()), Some(p));
        assert_eq!(Payload::from_json_text("{\"a\":1}"), None);
        assert_eq!(Payload::from_json_text("text"), None);
    }
}
