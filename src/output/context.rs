//! The template context: one mailbox's view of one provider's credentials.
//!
//! Documented in the README ("Template context"); changing a field name breaks users'
//! templates, so fields are only ever added.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::rfc3339;
use crate::credentials::{Record, mask};
pub use crate::spec::Provider;
use crate::spec::{Access, Spec};

#[derive(Clone, Debug, Serialize)]
pub struct Server {
    pub host: &'static str,
    pub port: u16,
    /// `tls` (implicit TLS) or `starttls`.
    pub security: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Servers {
    pub imap: Server,
    pub pop: Server,
    pub smtp: Server,
}

/// The providers' mail servers (DESIGN.md, issue #4).
pub fn servers(p: Provider) -> Servers {
    match p {
        Provider::Microsoft => Servers {
            imap: Server {
                host: "outlook.office365.com",
                port: 993,
                security: "tls",
            },
            pop: Server {
                host: "outlook.office365.com",
                port: 995,
                security: "tls",
            },
            smtp: Server {
                host: "smtp.office365.com",
                port: 587,
                security: "starttls",
            },
        },
        Provider::Google => Servers {
            imap: Server {
                host: "imap.gmail.com",
                port: 993,
                security: "tls",
            },
            pop: Server {
                host: "pop.gmail.com",
                port: 995,
                security: "tls",
            },
            smtp: Server {
                host: "smtp.gmail.com",
                port: 587,
                security: "starttls",
            },
        },
    }
}

/// App access: one mailbox the app may open, with the rights it holds there and the protocols
/// those open (the keys of `servers`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AppMailbox {
    pub address: String,
    /// `read` (FullAccess: IMAP, POP), `send` (SendAs: SMTP).
    pub rights: Vec<&'static str>,
    /// `imap`, `pop`, `smtp`: what the rights open with the app's permissions.
    pub protocols: Vec<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MailboxContext {
    pub provider: Provider,
    pub name: String,
    pub env: String,
    /// `delegated` (a person signs in once; the code flow, then refresh tokens) or `app` (client
    /// credentials: the application signs in as itself). Google: always `delegated`.
    pub access: &'static str,
    /// The grant a client requests its tokens with: `authorization_code` (then `refresh_token`)
    /// or, with app access, `client_credentials`.
    pub grant_type: &'static str,
    /// App access: the mailboxes the app may open (the spec's), each authenticated as with
    /// XOAUTH2 `user=<address>` and the app's token. Empty with delegated access.
    pub mailboxes: Vec<AppMailbox>,
    /// Microsoft: the directory. `None` for Google.
    pub tenant: Option<String>,
    /// Google: the project. `None` for Microsoft.
    pub project_id: Option<String>,
    pub client_id: String,
    /// The real secret in `[[output]]` files; masked by `mailreg output` unless `--show-secrets`.
    pub client_secret: String,
    pub secret_expires: Option<String>,
    pub auth_url: String,
    pub token_url: String,
    /// Scopes as the provider wants them requested.
    pub scopes: Vec<String>,
    /// The scopes joined by spaces.
    pub scope: String,
    /// Extra authorization-request parameters (Google: `access_type=offline`, `prompt=consent`).
    pub auth_params: BTreeMap<String, String>,
    /// `auth_url` with `auth_params` already in its query, for applications that take only an
    /// Auth URL and no extra parameters (AgileApps). An application that appends its own query
    /// with `&` keeps them; without them Google issues no refresh token.
    pub auth_url_with_params: String,
    pub redirect_uri: String,
    pub redirect_uris: Vec<String>,
    pub servers: Servers,
    /// `[[output]] vars`: anything the template wants (e.g. `email`, `protocol`).
    pub vars: BTreeMap<String, serde_json::Value>,
}

/// What Gmail needs in the authorization request for a refresh token: offline access, and
/// consent asked again so a second sign-in gets one too.
fn google_auth_params() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("access_type".to_owned(), "offline".to_owned()),
        ("prompt".to_owned(), "consent".to_owned()),
    ])
}

/// `url` with `params` added to its query (kept if it has one), encoded.
pub fn with_params(url: &str, params: &BTreeMap<String, String>) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// The context for a provider, if its credentials are complete (Microsoft: a secret on record;
/// Google: an imported client).
pub fn for_record(
    record: &Record,
    provider: Provider,
    vars: &BTreeMap<String, serde_json::Value>,
    show_secrets: bool,
) -> Option<MailboxContext> {
    let reveal = |s: &str| if show_secrets { s.to_owned() } else { mask(s) };
    match provider {
        Provider::Microsoft => {
            let ms = record.microsoft.as_ref()?;
            let secret = ms.secret.as_ref()?;
            Some(MailboxContext {
                provider,
                name: record.name.clone(),
                env: record.env.clone(),
                access: ms.access.as_str(),
                grant_type: grant_type(ms.access),
                mailboxes: Vec::new(),
                tenant: Some(ms.tenant.clone()),
                project_id: None,
                client_id: ms.client_id.clone(),
                client_secret: reveal(secret.value.expose()),
                secret_expires: Some(rfc3339(secret.expires)),
                auth_url: ms.authorize_url.clone(),
                token_url: ms.token_url.clone(),
                scope: ms.scopes.join(" "),
                scopes: ms.scopes.clone(),
                auth_params: BTreeMap::new(),
                auth_url_with_params: ms.authorize_url.clone(),
                redirect_uri: ms.redirect_uris.first().cloned().unwrap_or_default(),
                redirect_uris: ms.redirect_uris.clone(),
                servers: servers(provider),
                vars: vars.clone(),
            })
        }
        Provider::Google => {
            // A client kept for `google undelete` is not rendered: its project is being deleted.
            let g = record.google.as_ref().filter(|g| g.deleting.is_none())?;
            let client = g.client.as_ref()?;
            Some(MailboxContext {
                provider,
                name: record.name.clone(),
                env: record.env.clone(),
                access: Access::Delegated.as_str(),
                grant_type: grant_type(Access::Delegated),
                mailboxes: Vec::new(),
                tenant: None,
                project_id: Some(g.project_id.clone()),
                client_id: client.client_id.clone(),
                client_secret: reveal(client.client_secret.expose()),
                secret_expires: None,
                auth_url: g.authorize_url.clone(),
                token_url: g.token_url.clone(),
                scope: g.scopes.join(" "),
                scopes: g.scopes.clone(),
                auth_params: google_auth_params(),
                auth_url_with_params: with_params(&g.authorize_url, &google_auth_params()),
                redirect_uri: g.redirect_uris.first().cloned().unwrap_or_default(),
                redirect_uris: g.redirect_uris.clone(),
                servers: servers(provider),
                vars: vars.clone(),
            })
        }
    }
}

/// The grant a client of this access uses.
fn grant_type(access: Access) -> &'static str {
    match access {
        Access::Delegated => "authorization_code",
        Access::App => "client_credentials",
    }
}

/// The spec's app mailboxes as templates see them.
fn app_mailboxes(spec: &Spec) -> Vec<AppMailbox> {
    let Some(ms) = &spec.microsoft else {
        return Vec::new();
    };
    ms.app_mailboxes()
        .into_iter()
        .map(|(address, rights)| {
            let open = crate::verify::app_protocols(&rights, &ms.permissions);
            let protocols = [(open.imap, "imap"), (open.pop, "pop"), (open.smtp, "smtp")]
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n)
                .collect();
            AppMailbox {
                address,
                rights: rights.iter().map(|r| r.as_str()).collect(),
                protocols,
            }
        })
        .collect()
}

/// [`for_record`] with what only the spec knows: app access's mailboxes and their rights (the
/// record holds the registration, the spec which mailboxes it opens). Every template renders
/// from this one.
pub fn for_spec(
    spec: &Spec,
    record: &Record,
    provider: Provider,
    vars: &BTreeMap<String, serde_json::Value>,
    show_secrets: bool,
) -> Option<MailboxContext> {
    let mut ctx = for_record(record, provider, vars, show_secrets)?;
    if ctx.access == Access::App.as_str() {
        ctx.mailboxes = app_mailboxes(spec);
    }
    Some(ctx)
}

/// A placeholder context for the access the spec asks for: templates are checked against the
/// values they will get.
pub fn sample_for(provider: Provider, access: Access) -> MailboxContext {
    let mut ctx = sample(provider);
    if provider == Provider::Microsoft && access == Access::App {
        ctx.access = access.as_str();
        ctx.grant_type = grant_type(access);
        ctx.scopes = vec!["https://outlook.office365.com/.default".into()];
        ctx.scope = ctx.scopes.join(" ");
        ctx.redirect_uri = String::new();
        ctx.redirect_uris = Vec::new();
        ctx.mailboxes = vec![AppMailbox {
            address: "helpdesk@contoso.com".into(),
            rights: vec!["read", "send"],
            protocols: vec!["imap", "pop", "smtp"],
        }];
    }
    ctx
}

/// A context with placeholder values, to check templates before anything is sent.
pub fn sample(provider: Provider) -> MailboxContext {
    let google = provider == Provider::Google;
    let scopes: Vec<String> = if google {
        vec!["https://mail.google.com/".into()]
    } else {
        vec![
            "https://outlook.office.com/IMAP.AccessAsUser.All".into(),
            "offline_access".into(),
        ]
    };
    MailboxContext {
        provider,
        name: "name".into(),
        env: "env".into(),
        access: Access::Delegated.as_str(),
        grant_type: grant_type(Access::Delegated),
        mailboxes: Vec::new(),
        tenant: (!google).then(|| "contoso.onmicrosoft.com".into()),
        project_id: google.then(|| "project-id".into()),
        client_id: "client-id".into(),
        client_secret: "client-secret".into(),
        secret_expires: (!google).then(|| "2030-01-01T00:00:00Z".into()),
        auth_url: "https://example.com/authorize".into(),
        token_url: "https://example.com/token".into(),
        scope: scopes.join(" "),
        scopes,
        auth_params: if google {
            google_auth_params()
        } else {
            BTreeMap::new()
        },
        auth_url_with_params: if google {
            with_params("https://example.com/authorize", &google_auth_params())
        } else {
            "https://example.com/authorize".into()
        },
        redirect_uri: "https://example.com/cb".into(),
        redirect_uris: vec!["https://example.com/cb".into()],
        servers: servers(provider),
        vars: BTreeMap::new(),
    }
}
