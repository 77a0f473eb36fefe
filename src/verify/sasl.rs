//! SASL XOAUTH2 and OAUTHBEARER (RFC 7628): the initial response a client sends, the answer to
//! a server's error challenge, and what that challenge says in plain words.
//!
//! Servers never put the reason for a rejected token in the final `NO`/`-ERR`/`535`; they put it
//! in a base64 JSON challenge sent *before* it (`{"status":"401","schemes":"bearer",…}` for
//! XOAUTH2, `{"status":"invalid_token"}` for OAUTHBEARER), and wait for the client to answer it
//! (an empty response for XOAUTH2, `%x01` for OAUTHBEARER) before they send the final status.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mechanism {
    /// Google's and Microsoft's `XOAUTH2`.
    Xoauth2,
    /// RFC 7628 `OAUTHBEARER`.
    Oauthbearer,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }

    /// The base64 initial client response. It carries the token: never log it.
    pub fn initial_response(self, user: &str, token: &str, host: &str, port: u16) -> String {
        let raw = match self {
            Mechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
            Mechanism::Oauthbearer => {
                // RFC 5801 gs2 header: `,` and `=` in the authzid are escaped.
                let authzid = user.replace('=', "=3D").replace(',', "=2C");
                format!(
                    "n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
                )
            }
        };
        STANDARD.encode(raw)
    }

    /// What the client answers to an error challenge, already base64 (XOAUTH2: an empty
    /// response; OAUTHBEARER: `%x01`, RFC 7628 §3.2.3).
    pub fn error_ack(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "",
            Mechanism::Oauthbearer => "AQ==",
        }
    }
}

/// The decoded error challenge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorChallenge {
    pub status: Option<String>,
    pub scope: Option<String>,
}

impl ErrorChallenge {
    /// Decodes a base64 JSON challenge; `None` when it is not one (an ordinary empty `+`).
    pub fn decode(b64: &str) -> Option<ErrorChallenge> {
        let bytes = STANDARD.decode(b64.trim()).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let field = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_owned);
        Some(ErrorChallenge {
            status: field("status"),
            scope: field("scope"),
        })
    }

    /// The challenge in plain words. The scope is blamed only when the server says the token
    /// lacks it (403 / `insufficient_scope`): Dovecot names its scope in every rejection, also
    /// for a token issued to another account, where "scope" would send the person the wrong way.
    pub fn explain(&self) -> String {
        match self.status.as_deref() {
            Some("401") | Some("invalid_token") => {
                "the server rejected the access token: invalid, expired, revoked, or issued for another mailbox".to_owned()
            }
            // Gmail answers 400 for a token it cannot use for this user.
            Some("400") => {
                "the server rejected the access token (status 400): invalid, expired, or issued for another account".to_owned()
            }
            Some("403") | Some("insufficient_scope") => {
                let scope = self
                    .scope
                    .as_deref()
                    .map(|s| format!(" (the server wants scope {s})"))
                    .unwrap_or_default();
                format!("the access token lacks the mail scope{scope}")
            }
            Some(other) => format!("the server rejected the access token (status {other})"),
            None => "the server rejected the access token".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> String {
        String::from_utf8(STANDARD.decode(s).unwrap()).unwrap()
    }

    #[test]
    fn xoauth2_matches_googles_documented_format() {
        let ir = Mechanism::Xoauth2.initial_response(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
            "h",
            1,
        );
        // The example from Google's XOAUTH2 protocol page.
        assert_eq!(
            ir,
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn oauthbearer_follows_rfc7628_and_escapes_the_authzid() {
        let ir = Mechanism::Oauthbearer.initial_response(
            "user@example.com",
            "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
            "server.example.com",
            143,
        );
        assert_eq!(
            decode(&ir),
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        let odd = Mechanism::Oauthbearer.initial_response("a,b=c", "t", "h", 1);
        assert!(decode(&odd).starts_with("n,a=a=2Cb=3Dc,\x01"));
        assert_eq!(Mechanism::Oauthbearer.error_ack(), STANDARD.encode([1u8]));
        assert_eq!(Mechanism::Xoauth2.error_ack(), "");
    }

    #[test]
    fn error_challenges_decode_and_explain() {
        let dovecot = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=";
        let c = ErrorChallenge::decode(dovecot).unwrap();
        assert_eq!(c.status.as_deref(), Some("401"));
        assert_eq!(c.scope.as_deref(), Some("mail"));
        assert!(c.explain().contains("invalid, expired"));
        assert!(!c.explain().contains("scope"), "no scope blame on a 401");
        let ob = ErrorChallenge::decode(&STANDARD.encode(r#"{"status":"invalid_token"}"#)).unwrap();
        assert!(
            ob.explain()
                .starts_with("the server rejected the access token")
        );
        let gmail =
            ErrorChallenge::decode(&STANDARD.encode(
                r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#,
            ))
            .unwrap();
        assert!(gmail.explain().contains("another account"));
        let scope = ErrorChallenge::decode(
            &STANDARD.encode(r#"{"status":"insufficient_scope","scope":"mail"}"#),
        )
        .unwrap();
        assert_eq!(
            scope.explain(),
            "the access token lacks the mail scope (the server wants scope mail)"
        );
        assert_eq!(ErrorChallenge::decode(""), None);
        assert_eq!(ErrorChallenge::decode("not base64!"), None);
    }
}
