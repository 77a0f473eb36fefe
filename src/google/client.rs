//! The Web OAuth client: the part no API can create (the IAP OAuth Admin API, the only one that
//! ever did, was shut down on 2026-03-19). mailreg prints the console steps with the exact values,
//! then imports and checks the client JSON the person downloads (or a pasted ID and secret).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::endpoints::{CONSOLE, DEFAULT_AUTH_URL, DEFAULT_TOKEN_URL, Endpoints, GMAIL_SCOPE};
use crate::credentials::{GoogleClient, SecretValue};
use crate::error::{Error, Result};

/// Authorization and token endpoints a genuine Google client JSON may name (reference §4.1:
/// older files use `accounts.google.com/o/oauth2/token`).
const GOOGLE_AUTH_URIS: &[&str] = &[
    "https://accounts.google.com/o/oauth2/auth",
    DEFAULT_AUTH_URL,
];
const GOOGLE_TOKEN_URIS: &[&str] = &[
    DEFAULT_TOKEN_URL,
    "https://accounts.google.com/o/oauth2/token",
];

pub const CLIENT_ID_SUFFIX: &str = ".apps.googleusercontent.com";

/// What the checklist needs to say.
pub struct ConsoleSteps<'a> {
    pub project_id: &'a str,
    pub app_name: &'a str,
    pub support_email: &'a str,
    pub developer_emails: &'a [String],
    pub test_users: &'a [String],
    pub redirect_uris: &'a [String],
    pub client_name: &'a str,
    /// `[google] logo`: the file to upload and what mailreg found (already checked).
    pub logo: Option<String>,
    /// The command that completes the step.
    pub import_command: String,
}

impl ConsoleSteps<'_> {
    pub fn render(&self) -> String {
        let p = self.project_id;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Google has no API for the OAuth consent screen and the OAuth client: do these steps in the console.\n"
        );
        let _ = writeln!(out, " 1. Branding: {CONSOLE}/auth/branding?project={p}");
        let _ = writeln!(
            out,
            "    (if the page offers \"Get started\", click it: the same fields follow)"
        );
        let _ = writeln!(out, "      App name                   {}", self.app_name);
        let _ = writeln!(
            out,
            "      User support email         {}",
            self.support_email
        );
        let _ = writeln!(
            out,
            "      Developer contact email    {}",
            self.developer_emails.join(", ")
        );
        if let Some(logo) = &self.logo {
            let _ = writeln!(out, "      App logo                   {logo}");
        }
        let _ = writeln!(out, " 2. Audience: {CONSOLE}/auth/audience?project={p}");
        let _ = writeln!(out, "      User type                  External");
        let _ = writeln!(out, "      Publishing status          Testing");
        let users = if self.test_users.is_empty() {
            "(the mailbox addresses that will sign in)".to_owned()
        } else {
            self.test_users.join(", ")
        };
        let _ = writeln!(out, "      Test users                 {users}");
        let _ = writeln!(out, " 3. Data access: {CONSOLE}/auth/scopes?project={p}");
        let _ = writeln!(
            out,
            "      Add or remove scopes       {GMAIL_SCOPE}  (type it under \"Manually add scopes\")"
        );
        let _ = writeln!(
            out,
            " 4. Create the client: {CONSOLE}/auth/clients/create?project={p}"
        );
        let _ = writeln!(out, "      Application type           Web application");
        let _ = writeln!(out, "      Name                       {}", self.client_name);
        for (i, uri) in self.redirect_uris.iter().enumerate() {
            let label = if i == 0 {
                "Authorized redirect URIs"
            } else {
                ""
            };
            let _ = writeln!(out, "      {label:<26} {uri}");
        }
        let _ = writeln!(
            out,
            "    Then download the client JSON (or copy the client ID and the client secret).\n"
        );
        let _ = writeln!(out, "Then run:\n  {}\n", self.import_command);
        let _ = writeln!(out, "Good to know:");
        let _ = writeln!(
            out,
            "  - In Testing, refresh tokens expire after 7 days and only the listed test users (at most 100) can sign in."
        );
        let _ = write!(
            out,
            "  - {GMAIL_SCOPE} is a restricted scope: publishing the app (In production) needs Google's verification and a yearly security assessment."
        );
        out
    }
}

/// Parses and checks a downloaded client JSON. Every problem gets its own message; nothing is
/// stored unless all checks pass.
pub fn parse_client_json(
    path: &Path,
    text: &str,
    spec_redirect_uris: &[String],
    project_id: &str,
    endpoints: &Endpoints,
    now: time::OffsetDateTime,
) -> Result<GoogleClient> {
    let shown = path.display();
    let v: Value = serde_json::from_str(text).map_err(|e| {
        Error::bad_input(format!(
            "{shown}:{}:{}: not valid JSON: {}",
            e.line(),
            e.column(),
            crate::error::json_message(&e)
        ))
        .with_hint(
            "pass the file the console's \"Download JSON\" button saved (client_secret_….json)",
        )
    })?;
    let bad = |field: &str, msg: String| Error::bad_input(format!("{shown}: {field}: {msg}"));
    let Some(obj) = v.as_object() else {
        return Err(bad(
            "(top level)",
            "expected a JSON object with a \"web\" key".into(),
        ));
    };
    let web = match (obj.get("web"), obj.get("installed")) {
        (Some(w), _) => w,
        (None, Some(_)) => {
            return Err(bad("installed", "this is a Desktop app client; mailboxes need a \"Web application\" client".into())
                .with_hint("create a new client with Application type \"Web application\" and the redirect URIs from the checklist"));
        }
        (None, None) => {
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            let hint = if obj.get("type").and_then(|t| t.as_str()).is_some() {
                " (this looks like a service account key or ADC file, not an OAuth client)"
            } else {
                ""
            };
            return Err(bad(
                "(top level)",
                format!("no \"web\" key (found: {}){hint}", keys.join(", ")),
            ));
        }
    };
    let field_str = |name: &str| web.get(name).and_then(|x| x.as_str());
    let client_id = field_str("client_id")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("web.client_id", "missing".into()))?;
    if !client_id.ends_with(CLIENT_ID_SUFFIX) || client_id.len() <= CLIENT_ID_SUFFIX.len() {
        return Err(bad(
            "web.client_id",
            format!("{client_id:?} does not end with {CLIENT_ID_SUFFIX}"),
        ));
    }
    let secret = field_str("client_secret").unwrap_or("");
    if secret.trim().is_empty() {
        return Err(bad("web.client_secret", "missing or empty".into())
            .with_hint("the console may show the secret only on the client's page: copy it from there and use --client-id with the secret on standard input"));
    }
    if let Some(pid) = field_str("project_id")
        && pid != project_id
    {
        return Err(bad(
            "web.project_id",
            format!(
                "this client belongs to project {pid:?}, but the spec's project is {project_id:?}"
            ),
        ));
    }
    let auth_ok = |u: &str| {
        GOOGLE_AUTH_URIS.contains(&u) || u == endpoints.auth_url.as_str().trim_end_matches('/')
    };
    let token_ok = |u: &str| {
        GOOGLE_TOKEN_URIS.contains(&u) || u == endpoints.token_url.as_str().trim_end_matches('/')
    };
    match field_str("auth_uri") {
        Some(u) if auth_ok(u) => {}
        Some(u) => {
            return Err(bad(
                "web.auth_uri",
                format!("{u:?} is not Google's authorization endpoint"),
            ));
        }
        None => return Err(bad("web.auth_uri", "missing".into())),
    }
    match field_str("token_uri") {
        Some(u) if token_ok(u) => {}
        Some(u) => {
            return Err(bad(
                "web.token_uri",
                format!("{u:?} is not Google's token endpoint"),
            ));
        }
        None => return Err(bad("web.token_uri", "missing".into())),
    }
    let uris: Vec<String> = match web.get("redirect_uris") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("web.redirect_uris", "must be a list of strings".into()))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad("web.redirect_uris", "must be a list of strings".into())),
    };
    let missing: Vec<&String> = spec_redirect_uris
        .iter()
        .filter(|u| !uris.contains(u))
        .collect();
    if !missing.is_empty() {
        return Err(bad(
            "web.redirect_uris",
            format!(
                "the client lacks the spec's redirect URI{} {}",
                if missing.len() > 1 { "s" } else { "" },
                missing.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join(", ")
            ),
        )
        .with_hint("add them under \"Authorized redirect URIs\" on the client's page in the console, save, and download the JSON again"));
    }
    Ok(GoogleClient {
        client_id: client_id.to_owned(),
        client_secret: SecretValue::new(secret),
        redirect_uris: uris,
        imported: now,
    })
}

/// A pasted client ID and secret (the console's download button does not always work).
/// Whether a pasted text has the shape of a Google OAuth client ID; the reason when not. Checked
/// before the secret is asked for, so a typo costs no second paste.
pub fn check_client_id(client_id: &str) -> std::result::Result<(), String> {
    if client_id.ends_with(CLIENT_ID_SUFFIX) && client_id.len() > CLIENT_ID_SUFFIX.len() {
        Ok(())
    } else {
        Err(format!(
            "{client_id:?} does not end with {CLIENT_ID_SUFFIX}"
        ))
    }
}

pub fn pasted_client(
    client_id: &str,
    secret: &str,
    spec_redirect_uris: &[String],
    now: time::OffsetDateTime,
) -> Result<GoogleClient> {
    let client_id = client_id.trim();
    check_client_id(client_id).map_err(|m| Error::bad_input(format!("--client-id: {m}")))?;
    let secret = secret.trim();
    if secret.is_empty() {
        // A person who passed --client-id in a script often forgot the redirect: say how the
        // secret is given, since nothing else on the command line mentions it.
        return Err(Error::bad_input(
            "the client secret read from standard input is empty",
        )
        .with_hint(format!(
            "--client-id takes the secret on standard input: `mailreg google import-client --client-id {client_id} < client-secret.txt`, or run it at a terminal to be asked; or give the downloaded client JSON file instead"
        )));
    }
    Ok(GoogleClient {
        client_id: client_id.to_owned(),
        client_secret: SecretValue::new(secret),
        // Pasting cannot show the registered URIs; the checklist told the person to add these.
        redirect_uris: spec_redirect_uris.to_vec(),
        imported: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn endpoints() -> Endpoints {
        Endpoints {
            resource_manager: url::Url::parse("https://cloudresourcemanager.googleapis.com")
                .unwrap(),
            service_usage: url::Url::parse("https://serviceusage.googleapis.com").unwrap(),
            auth_url: url::Url::parse(DEFAULT_AUTH_URL).unwrap(),
            token_url: url::Url::parse(DEFAULT_TOKEN_URL).unwrap(),
        }
    }

    const GOOD: &str = r#"{"web":{"client_id":"123456789012-abc.apps.googleusercontent.com","project_id":"mail-test","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs","client_secret":"GOCSPX-secret-canary","redirect_uris":["https://app.example.com/cb"],"javascript_origins":["https://app.example.com"]}}"#;

    fn parse(text: &str) -> Result<GoogleClient> {
        parse_client_json(
            &PathBuf::from("client.json"),
            text,
            &["https://app.example.com/cb".to_owned()],
            "mail-test",
            &endpoints(),
            time::OffsetDateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn a_downloaded_web_client_is_accepted() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.client_id, "123456789012-abc.apps.googleusercontent.com");
        assert_eq!(c.client_secret.expose(), "GOCSPX-secret-canary");
    }

    #[test]
    fn each_malformed_client_gets_its_own_message_without_the_secret() {
        let cases: Vec<(String, &str)> = vec![
            (
                "{\"web\": {".into(),
                "client.json:1:9: not valid JSON: EOF while parsing an object",
            ),
            (
                "[]".into(),
                "client.json: (top level): expected a JSON object",
            ),
            (
                GOOD.replace("\"web\"", "\"installed\""),
                "client.json: installed: this is a Desktop app client",
            ),
            (
                r#"{"type":"service_account","private_key":"x"}"#.into(),
                "client.json: (top level): no \"web\" key (found: private_key, type) (this looks like a service account key",
            ),
            (
                GOOD.replace(
                    "123456789012-abc.apps.googleusercontent.com",
                    "123-abc.example.com",
                ),
                "client.json: web.client_id: \"123-abc.example.com\" does not end with .apps.googleusercontent.com",
            ),
            (
                GOOD.replace(
                    "\"client_id\":\"123456789012-abc.apps.googleusercontent.com\",",
                    "",
                ),
                "client.json: web.client_id: missing",
            ),
            (
                GOOD.replace("GOCSPX-secret-canary", ""),
                "client.json: web.client_secret: missing or empty",
            ),
            (
                GOOD.replace(
                    "\"project_id\":\"mail-test\"",
                    "\"project_id\":\"other-proj\"",
                ),
                "client.json: web.project_id: this client belongs to project \"other-proj\"",
            ),
            (
                GOOD.replace(
                    "https://oauth2.googleapis.com/token",
                    "https://evil.example.com/token",
                ),
                "client.json: web.token_uri: \"https://evil.example.com/token\" is not Google's token endpoint",
            ),
            (
                GOOD.replace(
                    "https://accounts.google.com/o/oauth2/auth",
                    "http://accounts.google.com/o/oauth2/auth",
                ),
                "client.json: web.auth_uri: \"http://accounts.google.com/o/oauth2/auth\" is not Google's",
            ),
            (
                GOOD.replace("https://app.example.com/cb", "https://other.example.com/cb"),
                "client.json: web.redirect_uris: the client lacks the spec's redirect URI \"https://app.example.com/cb\"",
            ),
            (
                GOOD.replace(
                    "[\"https://app.example.com/cb\"]",
                    "\"https://app.example.com/cb\"",
                ),
                "client.json: web.redirect_uris: must be a list of strings",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err();
            assert!(
                e.message.starts_with(want),
                "want {want:?}\n got {:?}",
                e.message
            );
            assert!(
                !e.message.contains("secret-canary")
                    && !e.hint.unwrap_or_default().contains("secret-canary")
            );
        }
    }

    #[test]
    fn pasted_clients_are_checked() {
        assert!(
            pasted_client(
                "x.apps.googleusercontent.com",
                "s",
                &[],
                time::OffsetDateTime::UNIX_EPOCH
            )
            .is_ok()
        );
        assert!(
            pasted_client("x", "s", &[], time::OffsetDateTime::UNIX_EPOCH)
                .unwrap_err()
                .message
                .contains("does not end with")
        );
        assert!(
            pasted_client(
                "x.apps.googleusercontent.com",
                " \n",
                &[],
                time::OffsetDateTime::UNIX_EPOCH
            )
            .unwrap_err()
            .message
            .contains("empty")
        );
    }
}
