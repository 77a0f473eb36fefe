//! A small mail responder: IMAP, POP3 and SMTP submission on 127.0.0.1 (plain TCP), enough for
//! `mailreg verify` to log in with XOAUTH2 or OAUTHBEARER against the emulator. A login passes
//! when the token is one the emulator's sign-in issued ([`crate::graph::signin`]), unexpired,
//! to this user, with the protocol's scope, and when the mailbox's *effective* Exchange settings
//! (which apply `Set-CASMailbox` only after the propagation delay) allow the protocol. So
//! `mailreg up` rehearses the whole wait Exchange imposes.
//!
//! The real servers stay in the tests (Dovecot); this answers only what verify sends. Every line
//! is bounded, and so is each connection's number of commands and idle time.
//!
//! INFERRED: the greeting texts; the failure lines follow Exchange Online's (reference).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::server::EmuState;

const MAX_LINE: u64 = 8192;
const MAX_COMMANDS: usize = 32;
const IDLE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
    Smtp,
}

/// The ports the responder listens on.
#[derive(Clone, Copy, Debug)]
pub struct MailPorts {
    pub imap: u16,
    pub pop3: u16,
    pub smtp: u16,
}

/// Binds the three listeners on ephemeral loopback ports and serves them on the current runtime.
pub async fn serve(state: Arc<Mutex<EmuState>>) -> std::io::Result<MailPorts> {
    let mut ports = [0u16; 3];
    for (i, proto) in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp]
        .into_iter()
        .enumerate()
    {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        ports[i] = listener.local_addr()?.port();
        let state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        IDLE * MAX_COMMANDS as u32,
                        session(stream, proto, state),
                    )
                    .await;
                });
            }
        });
    }
    Ok(MailPorts {
        imap: ports[0],
        pop3: ports[1],
        smtp: ports[2],
    })
}

/// The user and bearer token of a SASL XOAUTH2 or OAUTHBEARER initial response.
pub fn sasl_credentials(initial_response: &str) -> Option<(String, String)> {
    let raw = STANDARD.decode(initial_response.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut user = None;
    let mut token = None;
    for part in text.split('\u{1}') {
        if let Some(u) = part.strip_prefix("user=") {
            user = Some(u.to_owned());
        } else if let Some(t) = part.strip_prefix("auth=Bearer ") {
            token = Some(t.to_owned());
        } else if let Some(gs2) = part.strip_prefix("n,") {
            // OAUTHBEARER: `n,a=user@example.com,`
            user = gs2
                .split(',')
                .find_map(|f| f.strip_prefix("a="))
                .map(str::to_owned);
        }
    }
    Some((user?, token?))
}

/// Whether `user` may log in over `proto` with `token` now, or why not (for the server's log).
pub fn check_login(
    state: &mut EmuState,
    proto: Protocol,
    user: &str,
    token: &str,
) -> Result<(), &'static str> {
    let now = time::OffsetDateTime::now_utc();
    if let Some(app) = state.graph.app_mail_token(token, now) {
        return check_app_login(state, proto, user, &app, now);
    }
    let grant = state
        .graph
        .mail_token(token, now)
        .ok_or("not a token the emulator issued, or expired")?;
    if !grant.user.eq_ignore_ascii_case(user) {
        return Err("the token belongs to another user");
    }
    let scope = match proto {
        Protocol::Imap => "IMAP.AccessAsUser.All",
        Protocol::Pop3 => "POP.AccessAsUser.All",
        Protocol::Smtp => "SMTP.Send",
    };
    if !grant.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope)) {
        return Err("the token lacks the protocol's scope");
    }
    protocol_on(state, proto, user, now)
}

/// An app-only login as `user`: the protocol's app role in the token, Exchange's record of the
/// app naming the token's service principal, the mailbox's right for it, and the protocol on.
fn check_app_login(
    state: &mut EmuState,
    proto: Protocol,
    user: &str,
    app: &crate::graph::AppMailToken,
    now: time::OffsetDateTime,
) -> Result<(), &'static str> {
    if !app.aud.starts_with("https://outlook.office365.com") {
        return Err("the app token is not for Exchange Online");
    }
    let (role, right) = match proto {
        Protocol::Imap => ("IMAP.AccessAsApp", "FullAccess"),
        Protocol::Pop3 => ("POP.AccessAsApp", "FullAccess"),
        Protocol::Smtp => ("SMTP.SendAsApp", "SendAs"),
    };
    if !app.roles.iter().any(|r| r == role) {
        return Err("the app token lacks the protocol's app role");
    }
    if !state
        .exchange
        .app
        .allows(&app.app_id, &app.object_id, user, right)
    {
        return Err(
            "Exchange has no service principal for the app, or the mailbox gives it no right",
        );
    }
    protocol_on(state, proto, user, now)
}

/// The mailbox's effective settings (after propagation) allow the protocol.
fn protocol_on(
    state: &mut EmuState,
    proto: Protocol,
    user: &str,
    now: time::OffsetDateTime,
) -> Result<(), &'static str> {
    let org_smtp_off = state.exchange.org_smtp_auth_disabled;
    let cas = state
        .exchange
        .effective(user, now)
        .ok_or("no mailbox for this user")?;
    let allowed = match proto {
        Protocol::Imap => cas.imap,
        Protocol::Pop3 => cas.pop,
        Protocol::Smtp => !cas.smtp_auth_disabled.unwrap_or(org_smtp_off),
    };
    allowed
        .then_some(())
        .ok_or("the protocol is off for the mailbox")
}

async fn session(stream: TcpStream, proto: Protocol, state: Arc<Mutex<EmuState>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let greeting = match proto {
        Protocol::Imap => {
            "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER] mailreg emulator IMAP ready"
        }
        Protocol::Pop3 => "+OK mailreg emulator POP3 ready",
        Protocol::Smtp => "220 mailreg.emulator ESMTP ready",
    };
    if send(&mut write, greeting).await.is_err() {
        return;
    }
    let mut authenticated = false;
    // A mechanism whose initial response comes on the next line (POP3, SMTP, IMAP without IR).
    let mut pending: Option<String> = None;
    for _ in 0..MAX_COMMANDS {
        let Some(line) = read_line(&mut lines).await else {
            return;
        };
        if let Some(tag) = pending.take() {
            let ok = login(&state, proto, &line);
            authenticated |= ok;
            let answer = auth_answer(proto, &tag, ok);
            if send(&mut write, &answer).await.is_err() {
                return;
            }
            continue;
        }
        let (reply, end, wait_for_ir) = match proto {
            Protocol::Imap => imap(&line, &state, &mut authenticated),
            Protocol::Pop3 => pop3(&line, authenticated),
            Protocol::Smtp => smtp(&line),
        };
        if let Some(tag) = wait_for_ir {
            pending = Some(tag);
        }
        if send(&mut write, &reply).await.is_err() || end {
            return;
        }
    }
}

fn login(state: &Arc<Mutex<EmuState>>, proto: Protocol, initial_response: &str) -> bool {
    let Some((user, token)) = sasl_credentials(initial_response) else {
        return false;
    };
    let mut s = state.lock().expect("emulator state");
    check_login(&mut s, proto, &user, &token).is_ok()
}

/// The answer to a finished AUTHENTICATE/AUTH, as Exchange Online words it.
fn auth_answer(proto: Protocol, tag: &str, ok: bool) -> String {
    match (proto, ok) {
        (Protocol::Imap, true) => format!("{tag} OK AUTHENTICATE completed."),
        (Protocol::Imap, false) => format!("{tag} NO AUTHENTICATE failed."),
        (Protocol::Pop3, true) => "+OK User successfully authenticated.".into(),
        (Protocol::Pop3, false) => {
            "-ERR Authentication failure: unknown user name or bad password.".into()
        }
        (Protocol::Smtp, true) => "235 2.7.0 Authentication successful".into(),
        (Protocol::Smtp, false) => "535 5.7.3 Authentication unsuccessful".into(),
    }
}

/// One IMAP command: (reply, close after it, tag awaiting a continuation).
fn imap(
    line: &str,
    state: &Arc<Mutex<EmuState>>,
    authenticated: &mut bool,
) -> (String, bool, Option<String>) {
    let mut words = line.split_whitespace();
    let tag = words.next().unwrap_or("*").to_owned();
    let command = words.next().unwrap_or_default().to_ascii_uppercase();
    match command.as_str() {
        "CAPABILITY" => (
            format!(
                "* CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER\r\n{tag} OK CAPABILITY completed."
            ),
            false,
            None,
        ),
        "AUTHENTICATE" => match words.nth(1) {
            Some(ir) => {
                let ok = login(state, Protocol::Imap, ir);
                *authenticated |= ok;
                (auth_answer(Protocol::Imap, &tag, ok), false, None)
            }
            None => ("+ ".into(), false, Some(tag)),
        },
        "EXAMINE" | "SELECT" if *authenticated => (
            format!("* 0 EXISTS\r\n{tag} OK [READ-ONLY] {command} completed."),
            false,
            None,
        ),
        "NOOP" => (format!("{tag} OK NOOP completed."), false, None),
        "LOGOUT" => (
            format!("* BYE logging out\r\n{tag} OK LOGOUT completed."),
            true,
            None,
        ),
        _ => (
            format!("{tag} BAD Command not supported here."),
            false,
            None,
        ),
    }
}

fn pop3(line: &str, authenticated: bool) -> (String, bool, Option<String>) {
    let upper = line.to_ascii_uppercase();
    if upper == "CAPA" {
        (
            "+OK\r\nUSER\r\nSASL XOAUTH2 OAUTHBEARER\r\n.".into(),
            false,
            None,
        )
    } else if upper.starts_with("AUTH ") {
        ("+ ".into(), false, Some(String::new()))
    } else if upper == "STAT" && authenticated {
        ("+OK 0 0".into(), false, None)
    } else if upper == "QUIT" {
        ("+OK Bye".into(), true, None)
    } else {
        ("-ERR Command not supported here.".into(), false, None)
    }
}

fn smtp(line: &str) -> (String, bool, Option<String>) {
    let upper = line.to_ascii_uppercase();
    if upper.starts_with("EHLO") {
        (
            "250-mailreg.emulator\r\n250-SIZE 36700160\r\n250 AUTH XOAUTH2 OAUTHBEARER".into(),
            false,
            None,
        )
    } else if upper.starts_with("AUTH ") {
        ("334 ".into(), false, Some(String::new()))
    } else if upper == "QUIT" {
        ("221 2.0.0 Bye".into(), true, None)
    } else {
        ("502 5.5.2 Command not supported here".into(), false, None)
    }
}

async fn read_line<R: tokio::io::AsyncRead + Unpin>(r: &mut BufReader<R>) -> Option<String> {
    let mut buf = Vec::new();
    let read =
        tokio::time::timeout(IDLE, (&mut *r).take(MAX_LINE).read_until(b'\n', &mut buf)).await;
    match read {
        Ok(Ok(n)) if n > 0 && buf.ends_with(b"\n") => {
            Some(String::from_utf8_lossy(&buf).trim_end().to_owned())
        }
        _ => None,
    }
}

async fn send(w: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> std::io::Result<()> {
    w.write_all(format!("{text}\r\n").as_bytes()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_responses_give_user_and_token() {
        let x = STANDARD.encode("user=a@example.com\u{1}auth=Bearer tok\u{1}\u{1}");
        assert_eq!(
            sasl_credentials(&x),
            Some(("a@example.com".into(), "tok".into()))
        );
        let o = STANDARD
            .encode("n,a=b@example.com,\u{1}host=h\u{1}port=1\u{1}auth=Bearer t2\u{1}\u{1}");
        assert_eq!(
            sasl_credentials(&o),
            Some(("b@example.com".into(), "t2".into()))
        );
        assert_eq!(sasl_credentials("not base64!"), None);
        assert_eq!(sasl_credentials(&STANDARD.encode("user=a")), None);
    }
}
