//! The Google mailbox checks. Without the mailbox's own sign-in mailreg can only judge the spec:
//! while the app is in Testing (as mailreg sets it up) only the listed test users can sign in.
//! With the mailbox's token (`verify`), Gmail's own settings say whether IMAP and POP are on
//! for the account ([`gmail_blocks`]), so a login failure can be explained before it happens.

use reqwest::Method;
use serde::Deserialize;

use super::{Check, Report};
use crate::credentials::SecretValue;
use crate::http::{Http, Request, env_url};
use crate::mail::Protocol;
use crate::spec::GoogleSpec;

pub const PROVIDER: &str = "google";

/// The spec-level checks of one Google mailbox.
pub fn checks(g: &GoogleSpec, user: &str) -> Report {
    let listed = g.test_users.iter().any(|u| u.eq_ignore_ascii_case(user));
    let check = if g.test_users.is_empty() {
        Check::fail(
            "test_user",
            "google.test_users is empty: while the app is in Testing nobody can sign in",
            format!(
                "add {user} to google.test_users, apply, and add it under Audience > Test users in the console"
            ),
        )
    } else if listed {
        Check::pass("test_user", "listed in google.test_users")
    } else {
        Check::fail(
            "test_user",
            "not in google.test_users: while the app is in Testing it cannot sign in",
            format!(
                "add {user} to google.test_users, and under Audience > Test users in the console"
            ),
        )
    };
    Report::new(user, PROVIDER, vec![check])
}

#[derive(Deserialize)]
struct Imap {
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pop {
    #[serde(default)]
    access_window: Option<String>,
}

/// For each protocol the account has switched off in Gmail's settings, why and how to switch it
/// on. Read with the mailbox's own token (the `https://mail.google.com/` scope allows it); a read
/// that fails tells nothing, and the login then speaks for itself.
pub async fn gmail_blocks(
    http: &Http,
    token: &SecretValue,
    protocols: &[Protocol],
) -> Vec<(Protocol, String)> {
    let Ok(base) = env_url("MAILREG_GMAIL_URL", "https://gmail.googleapis.com") else {
        return Vec::new();
    };
    let base = base.as_str().trim_end_matches('/').to_owned();
    let get = |what: &'static str| {
        let url = url::Url::parse(&format!("{base}/gmail/v1/users/me/settings/{what}"));
        async move {
            let req = Request::new(Method::GET, url.ok()?).bearer(token.expose());
            http.send(req).await.ok()
        }
    };
    let mut out = Vec::new();
    let wants = |p: Protocol| protocols.contains(&p);
    let (imap, pop) = tokio::join!(
        async {
            if wants(Protocol::Imap) {
                get("imap").await
            } else {
                None
            }
        },
        async {
            if wants(Protocol::Pop3) {
                get("pop").await
            } else {
                None
            }
        },
    );
    if let Some(Ok(Imap {
        enabled: Some(false),
    })) = imap.map(|r| r.json::<Imap>())
    {
        out.push((Protocol::Imap, "IMAP is disabled in the account's Gmail settings: turn it on in Gmail > Settings > Forwarding and POP/IMAP > IMAP access (in Google Workspace the administrator may also have to allow it: Admin console > Apps > Google Workspace > Gmail > End User Access)".to_owned()));
    }
    if let Some(Ok(Pop {
        access_window: Some(w),
    })) = pop.map(|r| r.json::<Pop>())
        && w == "disabled"
    {
        out.push((Protocol::Pop3, "POP is disabled in the account's Gmail settings: turn it on in Gmail > Settings > Forwarding and POP/IMAP > POP download".to_owned()));
    }
    out
}
