//! `mailboxes = [...]` under `[microsoft]` and `[google]`: the mailboxes whose readiness
//! `mailbox check`, `status` and `apply` check. Addresses, each once, a bounded number.

use std::collections::BTreeSet;

use super::{Problem, valid_email};

/// Mailboxes listed per provider (each costs a few reads in `status` and `apply`).
pub const MAX_MAILBOXES: usize = 100;

pub(super) fn check_mailboxes(section: &str, list: &[String], p: &mut Vec<Problem>) {
    if list.len() > MAX_MAILBOXES {
        p.push(Problem::new(
            format!("{section}.mailboxes"),
            format!("at most {MAX_MAILBOXES} mailboxes per provider"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, e) in list.iter().enumerate() {
        let field = format!("{section}.mailboxes[{i}]");
        if !valid_email(e) {
            p.push(Problem::new(
                field,
                format!("{e:?} is not an email address"),
            ));
        } else if !seen.insert(e.to_ascii_lowercase()) {
            p.push(Problem::new(field, format!("{e:?} is listed twice")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::Spec;

    #[test]
    fn mailboxes_are_addresses_listed_once() {
        let text = r#"name = "x-mail"
[microsoft]
tenant = "contoso.onmicrosoft.com"
redirect_uris = ["https://a.example.com/cb"]
mailboxes = ["a@contoso.com", "A@contoso.com", "nope"]
"#;
        let e = Spec::parse("s.toml".as_ref(), text, "test").unwrap_err();
        assert_eq!(
            e.message,
            "s.toml:5:31: microsoft.mailboxes[1]: \"A@contoso.com\" is listed twice\n\
             s.toml:5:48: microsoft.mailboxes[2]: \"nope\" is not an email address"
        );
        let many: Vec<String> = (0..101).map(|i| format!("\"u{i}@contoso.com\"")).collect();
        let text = text.replace(
            r#"["a@contoso.com", "A@contoso.com", "nope"]"#,
            &format!("[{}]", many.join(", ")),
        );
        let e = Spec::parse("s.toml".as_ref(), &text, "test").unwrap_err();
        assert!(
            e.message
                .ends_with("microsoft.mailboxes: at most 100 mailboxes per provider"),
            "{}",
            e.message
        );
    }
}
