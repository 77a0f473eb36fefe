//! Entra's token-endpoint error answers, read before azure_identity parses them.
//!
//! azure_identity 1.0 fails to deserialize Entra's error bodies (`expected a borrowed string`)
//! and loses the AADSTS code. The transport reads the answer itself and keeps the code, the
//! first sentence and, for the common mistakes, what to change.

use crate::error::Error;

/// What to do about the common AADSTS codes.
fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "AADSTS90002" | "AADSTS900023" => {
            "the tenant does not exist: check the `microsoft.tenant` line of the spec (a tenant ID or a domain such as contoso.onmicrosoft.com)"
        }
        "AADSTS7000215" => {
            "AZURE_CLIENT_SECRET must be the secret's Value (shown once, when it was created), not its Secret ID"
        }
        "AADSTS700016" => {
            "no application with AZURE_CLIENT_ID in this directory: the tenant or the client ID is wrong"
        }
        "AADSTS7000222" => {
            "the client secret has expired: create a new one for the app and update AZURE_CLIENT_SECRET"
        }
        "AADSTS53003" => {
            "a Conditional Access policy blocked the sign-in: ask an administrator to exclude this identity or location"
        }
        "AADSTS65001" | "AADSTS650057" => {
            "consent is missing: an administrator must grant admin consent for the app's Graph permissions"
        }
        "AADSTS7000218" => {
            "the request needs a client secret: allow public client flows on the app, or sign in with a secret"
        }
        _ => return None,
    })
}

/// The AADSTS code and the first sentence of an OAuth error answer, if it is one.
pub fn parse(body: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let desc = v.get("error_description")?.as_str()?;
    let desc = desc.lines().next().unwrap_or(desc);
    let (code, rest) = desc.split_once(':')?;
    if !code.starts_with("AADSTS") || !code[6..].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = rest.trim();
    let sentence = match rest.find(". ") {
        Some(i) => &rest[..=i],
        None => rest,
    };
    let clean: String = sentence
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    Some((code.to_owned(), clean))
}

/// The codes that blame the spec's `microsoft.tenant`, not the credential.
fn blames_tenant(code: &str) -> bool {
    matches!(code, "AADSTS90002" | "AADSTS900023")
}

/// The sign-in error for an AADSTS answer: code in `code`, a hint for the common ones. When
/// the code blames the spec's tenant and `tenant_at` says where it is written, the hint
/// names that `file:line:column`.
pub fn error(
    source: &str,
    status: u16,
    code: String,
    sentence: &str,
    tenant_at: Option<&str>,
) -> Error {
    let mut e = Error::auth(format!(
        "signing in to Microsoft Entra ID with {source} failed: {code}: {sentence}"
    ));
    match (tenant_at, blames_tenant(&code)) {
        (Some(at), true) => {
            e = e.with_hint(format!(
                "the tenant does not exist: check `microsoft.tenant` at {at} (a tenant ID or a domain such as contoso.onmicrosoft.com)"
            ));
        }
        _ => {
            if let Some(h) = hint(&code) {
                e = e.with_hint(h);
            }
        }
    }
    e.code = Some(code);
    e.status = Some(status);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_code_and_first_sentence() {
        let body = br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x.onmicrosoft.com' not found. Check to make sure you have the correct tenant ID.\r\nTrace ID: 1\r\nCorrelation ID: 2"}"#;
        let (code, s) = parse(body).unwrap();
        assert_eq!(code, "AADSTS90002");
        assert_eq!(s, "Tenant 'x.onmicrosoft.com' not found.");
        let e = error("client secret", 400, code.clone(), &s, None);
        assert_eq!(e.code.as_deref(), Some("AADSTS90002"));
        assert!(e.hint.unwrap().contains("`microsoft.tenant`"));
        let e = error("client secret", 400, code, &s, Some("mailreg.toml:4:10"));
        assert_eq!(
            e.hint.as_deref(),
            Some(
                "the tenant does not exist: check `microsoft.tenant` at mailreg.toml:4:10 (a tenant ID or a domain such as contoso.onmicrosoft.com)"
            )
        );
        assert!(parse(br#"{"error":"invalid_client","error_description":"bad"}"#).is_none());
        assert!(parse(b"not json").is_none());
    }
}
