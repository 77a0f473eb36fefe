//! POP3 (RFC 1939, 2449, 5034): greeting, STLS, CAPA, `AUTH` without an initial response (RFC
//! 5034 caps the command line at 255 octets, far below a token), then `STAT`.

use super::explain;
use super::sasl::ErrorChallenge;
use super::{Login, fail};
use crate::error::Result;

/// The SASL mechanisms in a CAPA `SASL …` line.
pub fn sasl_mechanisms(line: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix("SASL")?;
    Some(
        rest.split_whitespace()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
    )
}

pub async fn login(l: &Login<'_>) -> Result<()> {
    let mut c = l.open("pop3").await?;
    let greeting = c.read_line().await?;
    if !greeting.starts_with("+OK") {
        return Err(fail(format!("unexpected greeting: {greeting}")));
    }
    if l.security == super::Security::Starttls {
        c.send("STLS").await?;
        let answer = c.read_line().await?;
        if !answer.starts_with("+OK") {
            return Err(fail(format!("STLS refused: {answer}")));
        }
        c = c.start_tls(l.tls).await?;
    }
    // CAPA is optional (RFC 2449); without it, just try AUTH.
    c.send("CAPA").await?;
    let mut mechs = None;
    if c.read_line().await?.starts_with("+OK") {
        loop {
            let line = c.read_line().await?;
            if line == "." {
                break;
            }
            if let Some(m) = sasl_mechanisms(&line) {
                mechs = Some(m);
            }
        }
    }
    let mech = l.mech.name();
    if let Some(m) = &mechs
        && !m.iter().any(|x| x == mech)
    {
        return Err(fail(format!(
            "the server does not offer SASL {mech} (it offers: {})",
            m.join(" ")
        )));
    }
    c.send(&format!("AUTH {mech}")).await?;
    let cont = c.read_line().await?;
    if !cont.starts_with("+ ") && cont != "+" {
        return Err(explain::rejected(None, &cont));
    }
    c.send_secret(&l.initial_response(), "[redacted]").await?;
    let mut challenge = None;
    loop {
        let line = c.read_line().await?;
        if line.starts_with("+OK") {
            break;
        }
        if line.starts_with("-ERR") {
            return Err(explain::rejected(challenge.as_ref(), &line));
        }
        if let Some(data) = line.strip_prefix('+') {
            challenge = ErrorChallenge::decode(data);
            c.send(l.mech.error_ack()).await?;
            continue;
        }
        return Err(fail(format!("unexpected answer: {line}")));
    }
    c.send("STAT").await?;
    let stat = c.read_line().await?;
    if !stat.starts_with("+OK") {
        let e = explain::rejected(None, &stat);
        return Err(fail(format!("logged in, but STAT failed: {}", e.message)));
    }
    let _ = c.send("QUIT").await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_sasl_capability() {
        assert_eq!(
            super::sasl_mechanisms("SASL XOAUTH2 oauthbearer").unwrap(),
            ["XOAUTH2", "OAUTHBEARER"]
        );
        assert_eq!(super::sasl_mechanisms("USER"), None);
    }
}
