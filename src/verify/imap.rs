//! IMAP (RFC 9051/3501): greeting, STARTTLS, CAPABILITY, `AUTHENTICATE` (with SASL-IR when
//! offered, RFC 4959), then `EXAMINE INBOX`, because Exchange Online accepts the token and only
//! then says the mailbox is not reachable (`User is authenticated but not connected`).

use super::explain;
use super::sasl::ErrorChallenge;
use super::{Login, fail};
use crate::error::Result;

/// A tagged answer: `tag OK|NO|BAD text`.
#[derive(Debug, PartialEq, Eq)]
pub struct Tagged<'a> {
    pub status: &'a str,
    pub text: &'a str,
}

/// Parses `line` as the tagged answer to `tag`, if it is one.
pub fn tagged<'a>(line: &'a str, tag: &str) -> Option<Tagged<'a>> {
    let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
    let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(Tagged { status, text })
}

/// The capabilities in a `* CAPABILITY …` line or a `[CAPABILITY …]` response code.
pub fn capabilities(line: &str) -> Option<Vec<String>> {
    let list = if let Some(rest) = line.strip_prefix("* CAPABILITY ") {
        rest
    } else {
        let start = line.find("[CAPABILITY ")? + "[CAPABILITY ".len();
        let end = line[start..].find(']')? + start;
        &line[start..end]
    };
    Some(
        list.split_whitespace()
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    )
}

pub async fn login(l: &Login<'_>) -> Result<()> {
    let mut c = l.open("imap").await?;
    let greeting = c.read_line().await?;
    if !greeting.starts_with("* OK") {
        return Err(fail(format!("unexpected greeting: {greeting}")));
    }
    if l.security == super::Security::Starttls {
        c.send("a0 STARTTLS").await?;
        let answer = until_tagged(&mut c, "a0").await?;
        if !answer.starts_with("a0 OK") {
            return Err(fail(format!("STARTTLS refused: {answer}")));
        }
        c = c.start_tls(l.tls).await?;
    }
    c.send("a1 CAPABILITY").await?;
    let mut caps = Vec::new();
    loop {
        let line = c.read_line().await?;
        if let Some(found) = capabilities(&line) {
            caps = found;
        }
        if let Some(t) = tagged(&line, "a1") {
            if t.status != "OK" {
                return Err(fail(format!("CAPABILITY failed: {line}")));
            }
            break;
        }
    }
    let mech = l.mech.name();
    if !caps.iter().any(|c| c == &format!("AUTH={mech}")) {
        return Err(fail(format!(
            "the server does not offer AUTH={mech} (it offers: {})",
            auths(&caps)
        )));
    }
    let ir = l.initial_response();
    if caps.iter().any(|c| c == "SASL-IR") {
        c.send_secret(
            &format!("a2 AUTHENTICATE {mech} {ir}"),
            &format!("a2 AUTHENTICATE {mech} [redacted]"),
        )
        .await?;
    } else {
        c.send(&format!("a2 AUTHENTICATE {mech}")).await?;
        let cont = c.read_line().await?;
        if !cont.starts_with('+') {
            return Err(fail(format!("AUTHENTICATE refused: {cont}")));
        }
        c.send_secret(&ir, "[redacted]").await?;
    }
    let mut challenge = None;
    loop {
        let line = c.read_line().await?;
        if let Some(data) = line.strip_prefix('+') {
            challenge = ErrorChallenge::decode(data);
            c.send(l.mech.error_ack()).await?;
            continue;
        }
        if let Some(t) = tagged(&line, "a2") {
            if t.status == "OK" {
                break;
            }
            return Err(explain::rejected(challenge.as_ref(), &line));
        }
    }
    c.send("a3 EXAMINE INBOX").await?;
    let answer = until_tagged(&mut c, "a3").await?;
    if !answer.starts_with("a3 OK") {
        let e = explain::rejected(None, &answer);
        return Err(fail(format!(
            "logged in, but opening INBOX failed: {}",
            e.message
        )));
    }
    let _ = c.send("a4 LOGOUT").await;
    Ok(())
}

async fn until_tagged(c: &mut super::conn::Conn, tag: &str) -> Result<String> {
    loop {
        let line = c.read_line().await?;
        if tagged(&line, tag).is_some() {
            return Ok(line);
        }
    }
}

fn auths(caps: &[String]) -> String {
    let list: Vec<&str> = caps
        .iter()
        .filter_map(|c| c.strip_prefix("AUTH="))
        .collect();
    if list.is_empty() {
        "no SASL mechanism".into()
    } else {
        list.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tagged_answers_and_capabilities() {
        assert_eq!(
            tagged("a2 NO [AUTHENTICATIONFAILED] Authentication failed.", "a2"),
            Some(Tagged {
                status: "NO",
                text: "[AUTHENTICATIONFAILED] Authentication failed."
            })
        );
        assert_eq!(tagged("a22 OK done", "a2"), None);
        assert_eq!(tagged("* OK hello", "a2"), None);
        let caps = capabilities("* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS AUTH=XOAUTH2 auth=oauthbearer] Dovecot ready.").unwrap();
        assert_eq!(
            caps,
            [
                "IMAP4REV1",
                "SASL-IR",
                "STARTTLS",
                "AUTH=XOAUTH2",
                "AUTH=OAUTHBEARER"
            ]
        );
        assert_eq!(
            capabilities("* CAPABILITY IMAP4rev1 AUTH=PLAIN").unwrap(),
            ["IMAP4REV1", "AUTH=PLAIN"]
        );
        assert_eq!(capabilities("* OK ready"), None);
        assert_eq!(auths(&["IMAP4REV1".into()]), "no SASL mechanism");
    }
}
