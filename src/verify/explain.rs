//! Final server answers in plain words. The texts matched are what the servers send: Dovecot
//! (`[AUTHENTICATIONFAILED]`, `[UNAVAILABLE]`), Exchange Online (`User is authenticated but not
//! connected.`, `5.7.139`, `5.7.3`), Gmail (`not enabled for IMAP`, `5.7.8`).

use super::sasl::ErrorChallenge;
use crate::error::{Error, ErrorKind};

/// Error code on a login failure where the server refused the credentials (as opposed to a
/// connection or protocol failure); the orchestration adds what it knows about the token.
pub const REJECTED: &str = "verify.rejected";

/// Error code on Exchange's `User is authenticated but not connected.`: the token was valid, the
/// mailbox was not reachable with it. For an app-only login that is mostly a missing mailbox
/// permission, so the app-only explanation takes it up too.
pub const NOT_CONNECTED: &str = "verify.not_connected";

/// Explains a failed authentication: the error challenge (when one came) or the final line.
pub fn rejected(challenge: Option<&ErrorChallenge>, last: &str) -> Error {
    let lower = last.to_ascii_lowercase();
    let specific = known(&lower);
    let (text, rejected) = match (specific, challenge) {
        (Some((t, r)), _) => (t.to_owned(), r),
        (None, Some(c)) => (c.explain(), true),
        (None, None) => ("the server refused the login".to_owned(), true),
    };
    let mut e = Error::new(
        ErrorKind::VerifyFailed,
        format!("{text} (server: {})", last.trim()),
    );
    if rejected {
        e.code = Some(REJECTED.into());
    } else if lower.contains("user is authenticated but not connected") {
        e.code = Some(NOT_CONNECTED.into());
    }
    e
}

/// The `(server: …)` end of a message [`rejected`] made: what the server said, for a caller that
/// rewrites the explanation in front of it.
pub fn server_part(message: &str) -> Option<&str> {
    message
        .rfind(" (server: ")
        .map(|i| &message[i + 1..])
        .filter(|s| s.ends_with(')'))
}

/// Known answers: (explanation, whether it is a rejection of the token).
fn known(lower: &str) -> Option<(&'static str, bool)> {
    const TABLE: &[(&str, &str, bool)] = &[
        (
            "user is authenticated but not connected",
            "the token was accepted, but the mailbox is not reachable with it: IMAP/POP may be disabled for the mailbox, or the account has no mailbox (or not yet)",
            false,
        ),
        (
            "5.7.139",
            "SMTP AUTH is disabled for the tenant or the mailbox (enable Authenticated SMTP)",
            false,
        ),
        (
            "smtpclientauthentication is disabled",
            "SMTP AUTH is disabled for the tenant or the mailbox (enable Authenticated SMTP)",
            false,
        ),
        (
            "not enabled for imap",
            "IMAP is disabled in the mailbox's settings",
            false,
        ),
        (
            "not enabled for pop",
            "POP is disabled in the mailbox's settings",
            false,
        ),
        (
            "[unavailable]",
            "the server could not check the token (a temporary failure at the server or its identity provider); try again",
            false,
        ),
        (
            "temporary authentication failure",
            "the server could not check the token (a temporary failure at the server or its identity provider); try again",
            false,
        ),
        (
            "5.5.2 line too long",
            "the server refused the long authentication line",
            false,
        ),
    ];
    TABLE
        .iter()
        .find(|(needle, _, _)| lower.contains(needle))
        .map(|(_, text, r)| (*text, *r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn a_challenge_explains_an_authentication_failure() {
        let c = ErrorChallenge::decode(
            &base64::engine::general_purpose::STANDARD
                .encode(r#"{"status":"401","schemes":"bearer"}"#),
        );
        let e = rejected(
            c.as_ref(),
            "a2 NO [AUTHENTICATIONFAILED] Authentication failed.",
        );
        assert!(
            e.message
                .starts_with("the server rejected the access token"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .ends_with("(server: a2 NO [AUTHENTICATIONFAILED] Authentication failed.)")
        );
        assert_eq!(e.code.as_deref(), Some(REJECTED));
        assert_eq!(e.kind, ErrorKind::VerifyFailed);
    }

    #[test]
    fn known_server_texts_win() {
        let e = rejected(None, "a3 BAD User is authenticated but not connected.");
        assert!(e.message.contains("IMAP/POP may be disabled"));
        assert_eq!(e.code.as_deref(), Some(NOT_CONNECTED));
        let e = rejected(
            None,
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
        );
        assert!(e.message.starts_with("SMTP AUTH is disabled"));
        let e = rejected(
            None,
            "a NO [UNAVAILABLE] Temporary authentication failure. [host:2024]",
        );
        assert!(e.message.contains("temporary failure"));
        let e = rejected(None, "-ERR [AUTH] Authentication failed.");
        assert_eq!(e.code.as_deref(), Some(REJECTED));
    }
}
