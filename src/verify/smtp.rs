//! SMTP submission (RFC 6409, 4954): greeting, EHLO, STARTTLS, EHLO again, `AUTH` and the blob
//! after `334`, never as an initial response: Dovecot's submission refuses AUTH lines over 1030
//! characters (`500 5.5.2 Line too long`) and access tokens are longer (mail-peers.md §1).
//! No mail is sent.

use super::conn::Conn;
use super::explain;
use super::sasl::ErrorChallenge;
use super::{Login, fail};
use crate::error::Result;

/// One SMTP reply: its code and its lines' texts.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// The reply as one line, for messages.
    pub fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

/// Parses one reply line: (code, is_last, text).
pub fn reply_line(line: &str) -> Option<(u16, bool, &str)> {
    let code = line.get(..3)?.parse::<u16>().ok()?;
    match line.as_bytes().get(3) {
        None => Some((code, true, "")),
        Some(b' ') => Some((code, true, &line[4..])),
        Some(b'-') => Some((code, false, &line[4..])),
        _ => None,
    }
}

async fn reply(c: &mut Conn) -> Result<Reply> {
    let mut lines = Vec::new();
    loop {
        let line = c.read_line().await?;
        let Some((code, last, text)) = reply_line(&line) else {
            return Err(fail(format!("not an SMTP reply: {line}")));
        };
        lines.push(text.to_owned());
        if last {
            return Ok(Reply { code, lines });
        }
    }
}

/// The mechanisms in an EHLO reply's `AUTH` line, if any.
pub fn auth_mechanisms(ehlo: &Reply) -> Option<Vec<String>> {
    ehlo.lines.iter().find_map(|l| {
        let mut words = l.split_whitespace();
        let first = words.next()?;
        (first.eq_ignore_ascii_case("AUTH") || first.eq_ignore_ascii_case("AUTH="))
            .then(|| words.map(|w| w.to_ascii_uppercase()).collect())
    })
}

pub async fn login(l: &Login<'_>) -> Result<()> {
    let mut c = l.open("smtp").await?;
    let greeting = reply(&mut c).await?;
    if greeting.code != 220 {
        return Err(fail(format!("unexpected greeting: {}", greeting.text())));
    }
    c.send("EHLO mailreg.localhost").await?;
    let mut ehlo = reply(&mut c).await?;
    if ehlo.code != 250 {
        return Err(fail(format!("EHLO refused: {}", ehlo.text())));
    }
    if l.security == super::Security::Starttls {
        c.send("STARTTLS").await?;
        let r = reply(&mut c).await?;
        if r.code != 220 {
            return Err(fail(format!("STARTTLS refused: {}", r.text())));
        }
        c = c.start_tls(l.tls).await?;
        c.send("EHLO mailreg.localhost").await?;
        ehlo = reply(&mut c).await?;
        if ehlo.code != 250 {
            return Err(fail(format!("EHLO refused: {}", ehlo.text())));
        }
    }
    let mech = l.mech.name();
    let offered = auth_mechanisms(&ehlo).unwrap_or_default();
    if !offered.iter().any(|m| m == mech) {
        return Err(fail(format!(
            "the server does not offer AUTH {mech} (it offers: {})",
            if offered.is_empty() {
                "no AUTH".to_owned()
            } else {
                offered.join(" ")
            }
        )));
    }
    c.send(&format!("AUTH {mech}")).await?;
    let r = reply(&mut c).await?;
    if r.code != 334 {
        return Err(explain::rejected(None, &r.text()));
    }
    c.send_secret(&l.initial_response(), "[redacted]").await?;
    let mut challenge = None;
    loop {
        let r = reply(&mut c).await?;
        match r.code {
            235 => break,
            334 => {
                challenge =
                    ErrorChallenge::decode(r.lines.first().map(String::as_str).unwrap_or(""));
                c.send(l.mech.error_ack()).await?;
            }
            _ => return Err(explain::rejected(challenge.as_ref(), &r.text())),
        }
    }
    let _ = c.send("QUIT").await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replies_and_the_auth_extension() {
        assert_eq!(
            reply_line("250-mail.example.test"),
            Some((250, false, "mail.example.test"))
        );
        assert_eq!(
            reply_line("250 AUTH XOAUTH2 OAUTHBEARER"),
            Some((250, true, "AUTH XOAUTH2 OAUTHBEARER"))
        );
        assert_eq!(reply_line("334 "), Some((334, true, "")));
        assert_eq!(reply_line("235"), Some((235, true, "")));
        assert_eq!(reply_line("hello"), None);
        let ehlo = Reply {
            code: 250,
            lines: vec![
                "mail".into(),
                "PIPELINING".into(),
                "AUTH xoauth2 OAUTHBEARER".into(),
            ],
        };
        assert_eq!(auth_mechanisms(&ehlo).unwrap(), ["XOAUTH2", "OAUTHBEARER"]);
        let none = Reply {
            code: 250,
            lines: vec!["mail".into()],
        };
        assert_eq!(auth_mechanisms(&none), None);
    }
}
