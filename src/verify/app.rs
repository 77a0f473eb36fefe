//! `verify` with app-only access: the application signs in as itself (client credentials, no
//! browser, no refresh token) and logs in *as each mailbox* with that one token
//! (`user=<mailbox>^Aauth=Bearer <app token>^A^A`), on the protocols the mailbox's rights and the
//! app's permissions allow: `read` → IMAP (`IMAP.AccessAsApp`) and POP (`POP.AccessAsApp`),
//! `send` → SMTP (`SMTP.SendAsApp`).
//!
//! Exchange answers a refused app-only login with the same bare `AUTHENTICATE failed` whatever
//! is missing, so the failure text lists the usual causes in the order they occur (no Exchange
//! service principal or one with the wrong object ID, no mailbox permission, the protocol off
//! for the mailbox), and first what the token itself shows: a missing app role means admin
//! consent was not granted, and no Exchange setting can make up for that.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;

use super::oauth::{self, AppToken, Client};
use super::{Options, Outcome, Protocol, Provider, Report, Target, explain, tls, wait};
use crate::clock::Clock;
use crate::credentials::{MicrosoftCredentials, Record, SecretValue};
use crate::error::{Error, ErrorKind, ExitCode, Result};
use crate::http::Http;
use crate::mailbox::microsoft::Protocols;
use crate::spec::{Access, Right, Spec};

/// Where the token came from, as reports and the JSON say it.
const SOURCE: &str = "client_credentials";

/// The protocols a mailbox's rights open with the app's permissions: a protocol's permission
/// must be granted and the right it uses held by the mailbox (`read`: FullAccess, for IMAP and
/// POP; `send`: SendAs, for SMTP; as in `spec::access`).
pub fn protocols(rights: &[Right], permissions: &[String]) -> Protocols {
    Protocols::from_rights(rights, permissions)
}

/// The app role a login on `protocol` needs in the token.
fn needed_role(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Imap => "IMAP.AccessAsApp",
        Protocol::Pop3 => "POP.AccessAsApp",
        Protocol::Smtp => "SMTP.SendAsApp",
    }
}

/// The token's `roles` claim, when the token is a JWT (Entra's are): `Some(vec![])` for a JWT
/// without roles (no admin consent), `None` when the token cannot be read. The signature is not
/// checked: this only shapes the messages.
pub fn roles_of(token: &str) -> Option<Vec<String>> {
    let claims = crate::jwt::unverified_claims(token)?;
    let roles = match claims.get("roles") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Some(roles)
}

/// What the explanation of a refused login names: the app and its identities.
struct Identity<'a> {
    client_id: &'a str,
    /// The enterprise application's object ID, when the record has it.
    service_principal: Option<&'a str>,
    env: &'a str,
}

/// Replaces a refused login's message with the app-only causes. Other failures (connection,
/// TLS, protocol) keep their own message.
fn explain_refusal(
    mut e: Error,
    protocol: Protocol,
    mailbox: &str,
    roles: Option<&[String]>,
    who: &Identity,
) -> Error {
    let refused = matches!(
        e.code.as_deref(),
        Some(explain::REJECTED) | Some(explain::NOT_CONNECTED)
    );
    if !refused {
        return e;
    }
    let server = explain::server_part(&e.message)
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    let need = needed_role(protocol);
    if let Some(roles) = roles.filter(|r| !r.iter().any(|x| x == need)) {
        let held = if roles.is_empty() {
            "none".to_owned()
        } else {
            roles.join(", ")
        };
        e.message = format!(
            "the app's token carries no {need} role (its roles: {held}): admin consent for the application permission was not granted; `mailreg apply` assigns it (appRoleAssignedTo on Office 365 Exchange Online), or an administrator grants consent (Enterprise applications > the app > Permissions){server}"
        );
        return e;
    }
    let sp = who
        .service_principal
        .unwrap_or("<the enterprise application's object ID>");
    let (permission, switch) = match protocol {
        Protocol::Imap | Protocol::Pop3 => (
            format!(
                "FullAccess on the mailbox (Add-MailboxPermission -Identity {mailbox} -User {sp} -AccessRights FullAccess)"
            ),
            if protocol == Protocol::Imap {
                format!(
                    "IMAP is disabled for the mailbox (Set-CASMailbox -Identity {mailbox} -ImapEnabled $true)"
                )
            } else {
                format!(
                    "POP is disabled for the mailbox (Set-CASMailbox -Identity {mailbox} -PopEnabled $true)"
                )
            },
        ),
        Protocol::Smtp => (
            format!(
                "SendAs on the mailbox (Add-RecipientPermission -Identity {mailbox} -Trustee {sp} -AccessRights SendAs)"
            ),
            format!(
                "SMTP AUTH is disabled for the mailbox (Set-CASMailbox -Identity {mailbox} -SmtpClientAuthenticationDisabled $false)"
            ),
        ),
    };
    e.message = format!(
        "the server did not let the app in as {mailbox}; the usual causes, most likely first: \
         (1) Exchange has no service principal for the app, or one made with the app registration's object ID instead of the enterprise application's (New-ServicePrincipal -AppId {} -ServiceId {sp}); \
         (2) the app has no {permission}; \
         (3) {switch}. \
         New service principals and permissions take up to 30 minutes to apply (`--wait 45m` retries until they do); \
         `mailreg mailbox check --env {}` checks all three{server}",
        who.client_id, who.env
    );
    e
}

/// The app's token, fetched once and again only when it nears its end (a `--wait` outlives
/// Entra's 60-90 minute app tokens).
struct Held {
    token: AppToken,
    renew_at: Instant,
}

struct TokenSource<'a> {
    http: &'a Http,
    client: &'a Client,
    held: Mutex<Held>,
}

impl<'a> TokenSource<'a> {
    async fn fetch(http: &'a Http, client: &'a Client) -> Result<TokenSource<'a>> {
        let token = oauth::client_credentials(http, client).await?;
        let renew_at = Instant::now() + oauth::renew_after(token.lifetime);
        Ok(TokenSource {
            http,
            client,
            held: Mutex::new(Held { token, renew_at }),
        })
    }

    /// The token to log in with now: the one held, or a new one when it is due.
    async fn current(&self) -> Result<SecretValue> {
        let mut held = self.held.lock().await;
        if Instant::now() >= held.renew_at {
            let token = oauth::client_credentials(self.http, self.client).await?;
            held.renew_at = Instant::now() + oauth::renew_after(token.lifetime);
            held.token = token;
        }
        Ok(held.token.access.clone())
    }
}

/// The flags that belong to a person signing in: refused, not ignored, so nobody believes a
/// refresh token was kept or a device code will come.
fn refuse_person_flags(args: &Options) -> Result<()> {
    let flag = if args.device_code {
        Some("--device-code")
    } else if args.keep_refresh_token {
        Some("--keep-refresh-token")
    } else if args.redirect_uri.is_some() {
        Some("--redirect-uri")
    } else {
        None
    };
    match flag {
        Some(f) => Err(Error::bad_input(format!(
            "{f}: this registration has app access (client credentials): the app signs in as itself, with no person, browser or refresh token"
        ))),
        None => Ok(()),
    }
}

/// The mailboxes to check and each one's servers: the spec's app mailboxes (or the one `--user`
/// names), each on the protocols its rights open and the flags ask for.
fn plan(args: &Options, spec: &Spec) -> Result<Vec<(String, Vec<Target>)>> {
    let ms = spec.microsoft.as_ref().filter(|m| m.access == Access::App);
    let Some(ms) = ms else {
        return Err(Error::bad_input(
            "the credentials record was made with app access, but the spec's [microsoft] is not access = \"app\" any more",
        )
        .with_hint("run `mailreg apply` to make the registration match the spec"));
    };
    let mut mailboxes = ms.app_mailboxes();
    if let Some(user) = &args.user {
        let listed: Vec<String> = mailboxes.iter().map(|(a, _)| a.clone()).collect();
        mailboxes.retain(|(a, _)| a.eq_ignore_ascii_case(user));
        if mailboxes.is_empty() {
            return Err(Error::bad_input(format!(
                "--user {user}: not one of the spec's microsoft.mailboxes ({}); app access opens only the mailboxes listed there",
                listed.join(", ")
            )));
        }
    }
    let any_flag = args.imap || args.pop || args.smtp;
    let mut plan = Vec::new();
    let mut unusable = Vec::new();
    for (address, rights) in mailboxes {
        let open = protocols(&rights, &ms.permissions);
        let mut one = args.clone();
        one.imap = open.imap && (!any_flag || args.imap);
        one.pop = open.pop && (!any_flag || args.pop);
        one.smtp = open.smtp && (!any_flag || args.smtp);
        if !(one.imap || one.pop || one.smtp) {
            let names: Vec<&str> = rights.iter().map(|r| r.as_str()).collect();
            unusable.push(format!("{address} (rights: {})", names.join(", ")));
            continue;
        }
        plan.push((address, super::targets(&one, Provider::Microsoft)?));
    }
    if plan.is_empty() {
        return Err(Error::bad_input(format!(
            "nothing to check: the protocols asked for are not among those the mailbox rights open: {} (read: IMAP/POP, send: SMTP)",
            unusable.join("; ")
        )));
    }
    Ok(plan)
}

/// The app as a client of the token endpoint. App access never uses the authorize endpoint; it
/// is set to the token endpoint only because [`Client`] has the field.
fn client(ms: &MicrosoftCredentials) -> Result<Client> {
    let token_url = super::url(&ms.token_url, "token_url")?;
    Ok(Client {
        client_id: ms.client_id.clone(),
        client_secret: ms.secret.as_ref().map(|s| s.value.clone()),
        authorize_url: token_url.clone(),
        token_url,
        scopes: ms.scopes.clone(),
        extra: Vec::new(),
    })
}

/// Signs in as the app once, then logs in as every planned mailbox: one report per mailbox.
pub(super) async fn check(
    args: &Options,
    spec: &Spec,
    record: &Record,
    limit: Duration,
    clock: Clock,
) -> Result<Vec<Report>> {
    let ms = record.microsoft.as_ref().expect("checked by the caller");
    // Everything that can be wrong in the flags is found before the token is asked for.
    refuse_person_flags(args)?;
    let plan = plan(args, spec)?;
    if let Some(w) = args.wait {
        wait::check_limit(w)?;
    }
    let connector = tls::connector(args.ca_file.as_deref())?;
    let client = client(ms)?;
    let http = Http::new(clock)?;
    let tokens = TokenSource::fetch(&http, &client).await?;
    let who = Identity {
        client_id: &ms.client_id,
        service_principal: ms.service_principal_id.as_deref(),
        env: &record.env,
    };

    let mut reports = Vec::new();
    for (mailbox, targets) in plan {
        let started = Instant::now();
        let login_once = |t: Target| {
            let (mailbox, tokens, connector, who) = (&mailbox, &tokens, &connector, &who);
            async move {
                let token = match tokens.current().await {
                    Ok(t) => t,
                    Err(e) => return Some(e),
                };
                let result = super::attempt(&t, mailbox, &token, args.mech, connector, limit).await;
                let roles = roles_of(token.expose());
                result
                    .err()
                    .map(|e| explain_refusal(e, t.protocol, mailbox, roles.as_deref(), who))
            }
        };
        let mut outcomes = Vec::new();
        for t in targets {
            let error = login_once(t.clone()).await;
            let passed_at = error.is_none().then(time::OffsetDateTime::now_utc);
            outcomes.push(Outcome {
                target: t,
                error,
                attempts: 1,
                passed_at,
            });
        }
        wait::when_asked(&mut outcomes, args, http.clock(), started, login_once).await;
        let roles = roles_of(tokens.current().await?.expose()).unwrap_or_default();
        reports.push(Report {
            provider: Provider::Microsoft,
            user: mailbox.clone(),
            access: Access::App,
            source: SOURCE,
            roles,
            mech: args.mech,
            waited: args.wait.is_some(),
            outcomes,
        });
    }
    Ok(reports)
}

/// The reports of one app-only verify as one JSON document.
pub fn to_json(reports: &[Report]) -> serde_json::Value {
    json!({
        "provider": Provider::Microsoft.as_str(),
        "access": Access::App.as_str(),
        "token": {
            "source": SOURCE,
            "roles": reports.first().map(|r| r.roles.clone()).unwrap_or_default(),
        },
        "mailboxes": reports
            .iter()
            .map(|r| json!({"user": r.user, "results": r.results_json()}))
            .collect::<Vec<_>>(),
    })
}

/// Each mailbox's heading, then its lines as delegated verify prints them; with `quiet`, only
/// the mailboxes with a failure.
pub fn text(reports: &[Report], quiet: bool) -> String {
    let mut out = String::new();
    for r in reports {
        if quiet && r.failed() == 0 {
            continue;
        }
        out.push_str(&format!("{} (app access)\n", r.user));
        out.push_str(&r.text(quiet));
    }
    out
}

/// Prints the reports; exit 6 when any login failed.
pub(super) fn print(reports: Vec<Report>, args: &Options) -> Result<ExitCode> {
    match args.json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&reports)).expect("json")
        ),
        false => print!("{}", text(&reports, args.quiet)),
    }
    let total: usize = reports.iter().map(|r| r.outcomes.len()).sum();
    let failed: usize = reports.iter().map(Report::failed).sum();
    if failed == 0 {
        return Ok(ExitCode::Success);
    }
    let who: Vec<&str> = reports
        .iter()
        .filter(|r| r.failed() > 0)
        .map(|r| r.user.as_str())
        .collect();
    let mut e = Error::new(
        ErrorKind::VerifyFailed,
        format!(
            "{failed} of {total} app-only logins failed ({})",
            who.join(", ")
        ),
    );
    e.reported = args.json;
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::super::fail;
    use super::super::tests::jwt;
    use super::*;

    const WHO: Identity = Identity {
        client_id: "11111111-2222-3333-4444-555555555555",
        service_principal: Some("99999999-8888-7777-6666-555555555555"),
        env: "prod",
    };

    fn refused(line: &str) -> Error {
        explain::rejected(None, line)
    }

    #[test]
    fn rights_and_permissions_decide_the_protocols() {
        let all: Vec<String> = ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]
            .map(String::from)
            .to_vec();
        let p = protocols(&[Right::Read, Right::Send], &all);
        assert!(p.imap && p.pop && p.smtp);
        let p = protocols(&[Right::Send], &all);
        assert!(!p.imap && !p.pop && p.smtp);
        let p = protocols(&[Right::Read], &["IMAP.AccessAsApp".to_owned()]);
        assert!(p.imap && !p.pop && !p.smtp);
        assert!(!protocols(&[Right::Send], &["IMAP.AccessAsApp".to_owned()]).any());
    }

    #[test]
    fn roles_are_read_from_a_jwt() {
        assert_eq!(
            roles_of(&jwt(
                json!({"roles": ["IMAP.AccessAsApp", "SMTP.SendAsApp"]})
            )),
            Some(vec!["IMAP.AccessAsApp".into(), "SMTP.SendAsApp".into()])
        );
        assert_eq!(
            roles_of(&jwt(json!({"appid": "x"}))),
            Some(Vec::<String>::new())
        );
        assert_eq!(roles_of("opaque-token"), None);
        assert_eq!(roles_of("a.!!!.c"), None);
    }

    #[test]
    fn a_refused_imap_login_names_the_three_causes_in_order() {
        let e = explain_refusal(
            refused("a2 NO AUTHENTICATE failed."),
            Protocol::Imap,
            "helpdesk@contoso.com",
            Some(&["IMAP.AccessAsApp".to_owned()]),
            &WHO,
        );
        assert_eq!(
            e.message,
            "the server did not let the app in as helpdesk@contoso.com; the usual causes, most likely first: \
             (1) Exchange has no service principal for the app, or one made with the app registration's object ID instead of the enterprise application's (New-ServicePrincipal -AppId 11111111-2222-3333-4444-555555555555 -ServiceId 99999999-8888-7777-6666-555555555555); \
             (2) the app has no FullAccess on the mailbox (Add-MailboxPermission -Identity helpdesk@contoso.com -User 99999999-8888-7777-6666-555555555555 -AccessRights FullAccess); \
             (3) IMAP is disabled for the mailbox (Set-CASMailbox -Identity helpdesk@contoso.com -ImapEnabled $true). \
             New service principals and permissions take up to 30 minutes to apply (`--wait 45m` retries until they do); \
             `mailreg mailbox check --env prod` checks all three (server: a2 NO AUTHENTICATE failed.)"
        );
        assert_eq!(e.kind, ErrorKind::VerifyFailed);
    }

    #[test]
    fn smtp_and_pop_name_their_own_permission_and_switch() {
        let who = Identity {
            service_principal: None,
            ..WHO
        };
        let e = explain_refusal(
            refused("535 5.7.3 Authentication unsuccessful"),
            Protocol::Smtp,
            "noreply@contoso.com",
            None,
            &who,
        );
        assert!(e.message.contains("(2) the app has no SendAs on the mailbox (Add-RecipientPermission -Identity noreply@contoso.com -Trustee <the enterprise application's object ID> -AccessRights SendAs)"), "{}", e.message);
        assert!(e.message.contains("(3) SMTP AUTH is disabled for the mailbox (Set-CASMailbox -Identity noreply@contoso.com -SmtpClientAuthenticationDisabled $false)"), "{}", e.message);
        assert!(
            e.message
                .ends_with("(server: 535 5.7.3 Authentication unsuccessful)")
        );
        // Exchange's "authenticated but not connected" is a refusal too for an app.
        let e = explain_refusal(
            refused("a2 BAD User is authenticated but not connected."),
            Protocol::Pop3,
            "helpdesk@contoso.com",
            None,
            &WHO,
        );
        assert!(
            e.message
                .contains("(3) POP is disabled for the mailbox (Set-CASMailbox -Identity helpdesk@contoso.com -PopEnabled $true)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_missing_role_is_said_first_and_alone() {
        let e = explain_refusal(
            refused("a2 NO [AUTHENTICATIONFAILED] Authentication failed."),
            Protocol::Imap,
            "helpdesk@contoso.com",
            Some(&[]),
            &WHO,
        );
        assert_eq!(
            e.message,
            "the app's token carries no IMAP.AccessAsApp role (its roles: none): admin consent for the application permission was not granted; `mailreg apply` assigns it (appRoleAssignedTo on Office 365 Exchange Online), or an administrator grants consent (Enterprise applications > the app > Permissions) (server: a2 NO [AUTHENTICATIONFAILED] Authentication failed.)"
        );
        let e = explain_refusal(
            refused("535 5.7.8 Authentication failed"),
            Protocol::Smtp,
            "helpdesk@contoso.com",
            Some(&["IMAP.AccessAsApp".to_owned()]),
            &WHO,
        );
        assert!(e.message.starts_with(
            "the app's token carries no SMTP.SendAsApp role (its roles: IMAP.AccessAsApp)"
        ));
    }

    #[test]
    fn other_failures_keep_their_message() {
        let e = fail("imap: connection refused");
        let kept = explain_refusal(e, Protocol::Imap, "a@b.c", Some(&[]), &WHO);
        assert_eq!(kept.message, "imap: connection refused");
    }
}
