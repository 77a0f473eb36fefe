//! Unknown keys, all at once and in file order.
//!
//! serde's `deny_unknown_fields` stops at the first unknown key, in the order serde happens to
//! visit them, so three typos took three runs. This walks the spanned document against the
//! keys the spec model knows and reports every unknown one at its own line, with a suggestion
//! when a known key is close ("did you mean `tenant`?").

use toml::de::{DeTable, DeValue};

use super::{Problem, locate::Locator};

/// The keys of each table of the spec. Tables whose keys are the user's own (`vars`, `labels`)
/// are not checked.
const ROOT: &[&str] = &["name", "microsoft", "google", "output", "secret", "env"];
const MICROSOFT: &[&str] = &[
    "access",
    "tenant",
    "cloud",
    "display_name",
    "audience",
    "redirect_uris",
    "permissions",
    "secret_lifetime_days",
    "admin_consent",
    "tags",
    "notes",
    "mailboxes",
];
const GOOGLE: &[&str] = &[
    "project_id",
    "project_id_suffix",
    "display_name",
    "parent",
    "app_name",
    "support_email",
    "developer_emails",
    "test_users",
    "redirect_uris",
    "labels",
    "mailboxes",
    "logo",
];
const MAILBOX: &[&str] = &["address", "rights"];
const OUTPUT: &[&str] = &["provider", "template", "path", "vars"];
const SECRET: &[&str] = &["provider", "vault", "key_vault", "secret_manager", "fields"];
const VAULT: &[&str] = &["mount", "path", "namespace"];
const KEY_VAULT: &[&str] = &["url", "name"];
const SECRET_MANAGER: &[&str] = &["project", "secret"];

/// One unknown key: where it is written (byte offset), and the problem to report.
struct Unknown {
    offset: usize,
    problem: Problem,
}

/// Every unknown key of the document, in file order, as positioned problems
/// (`(line, column, problem)`). A document that does not parse yields none: the TOML error is
/// reported by the caller.
pub fn unknown_keys(text: &str, locator: &Locator) -> Vec<(usize, usize, Problem)> {
    let Ok(doc) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    check_root(doc.get_ref(), "", true, &mut found);
    found.sort_by_key(|u| u.offset);
    found
        .into_iter()
        .map(|u| {
            let (l, c) = locator.line_col(u.offset);
            (l, c, u.problem)
        })
        .collect()
}

/// The top level, or an `[env.<name>]` override (which may hold anything the top level holds
/// except further environments).
fn check_root(table: &DeTable<'_>, prefix: &str, top: bool, found: &mut Vec<Unknown>) {
    let known: Vec<&str> = ROOT
        .iter()
        .copied()
        .filter(|k| top || *k != "env")
        .collect();
    for (key, value) in table {
        let k = key.get_ref().as_ref();
        let path = format!("{prefix}{k}");
        match k {
            "microsoft" => {
                check_table(value.get_ref(), &path, MICROSOFT, found);
                check_mailbox_tables(value.get_ref(), &path, found);
            }
            "google" => check_table(value.get_ref(), &path, GOOGLE, found),
            "output" => {
                if let DeValue::Array(items) = value.get_ref() {
                    for (i, item) in items.iter().enumerate() {
                        check_table(item.get_ref(), &format!("{path}[{i}]"), OUTPUT, found);
                    }
                }
            }
            "secret" => {
                if let DeValue::Array(items) = value.get_ref() {
                    for (i, item) in items.iter().enumerate() {
                        let at = format!("{path}[{i}]");
                        check_table(item.get_ref(), &at, SECRET, found);
                        check_destinations(item.get_ref(), &at, found);
                    }
                }
            }
            "env" if top => {
                if let DeValue::Table(envs) = value.get_ref() {
                    for (name, over) in envs {
                        if let DeValue::Table(t) = over.get_ref() {
                            let p = format!("env.{}.", name.get_ref());
                            check_root(t, &p, false, found);
                        }
                    }
                }
            }
            _ if known.contains(&k) => {}
            _ => found.push(unknown(key.span().start, &path, k, &known)),
        }
    }
}

/// The table form of `microsoft.mailboxes` entries (`{ address, rights }`).
fn check_mailbox_tables(value: &DeValue<'_>, path: &str, found: &mut Vec<Unknown>) {
    let DeValue::Table(table) = value else {
        return;
    };
    let Some(DeValue::Array(items)) = table.get("mailboxes").map(|v| v.get_ref()) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        check_table(
            item.get_ref(),
            &format!("{path}.mailboxes[{i}]"),
            MAILBOX,
            found,
        );
    }
}

/// The destination tables of one `[[secret]]` entry (`vault`, `key_vault`, `secret_manager`).
fn check_destinations(value: &DeValue<'_>, path: &str, found: &mut Vec<Unknown>) {
    let DeValue::Table(table) = value else {
        return;
    };
    for (key, value) in table {
        let k = key.get_ref().as_ref();
        let known = match k {
            "vault" => VAULT,
            "key_vault" => KEY_VAULT,
            "secret_manager" => SECRET_MANAGER,
            _ => continue,
        };
        check_table(value.get_ref(), &format!("{path}.{k}"), known, found);
    }
}

/// A table with a fixed set of keys. Anything that is not a table is left to the type check.
fn check_table(value: &DeValue<'_>, path: &str, known: &[&str], found: &mut Vec<Unknown>) {
    let DeValue::Table(table) = value else {
        return;
    };
    for (key, _) in table {
        let k = key.get_ref().as_ref();
        if !known.contains(&k) {
            found.push(unknown(key.span().start, &format!("{path}.{k}"), k, known));
        }
    }
}

fn unknown(offset: usize, path: &str, key: &str, known: &[&str]) -> Unknown {
    let message = match suggest(key, known) {
        Some(s) => format!("unknown key `{key}`; did you mean `{s}`?"),
        None => format!(
            "unknown key `{key}`; the keys here are {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Unknown {
        offset,
        problem: Problem::new(path, message),
    }
}

/// The known word closest to `word`, if it is close enough to be a typo of it: at most a third
/// a quarter of its letters wrong (one for short words), counting a swap of neighbours as one.
/// Looser limits suggest nonsense (`colour` → `cloud`).
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 4).max(1);
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_words_only() {
        assert_eq!(suggest("tennant", MICROSOFT), Some("tenant"));
        assert_eq!(suggest("redirect_uri", MICROSOFT), Some("redirect_uris"));
        assert_eq!(
            suggest("secret_lifetime_day", MICROSOFT),
            Some("secret_lifetime_days")
        );
        assert_eq!(suggest("prdo", &["prod", "test"]), Some("prod"));
        assert_eq!(suggest("colour", MICROSOFT), None);
    }

    /// The key lists above are the structs' fields: serde's own message for an unknown field
    /// lists what it expects, so a field added to the model without its key here fails.
    #[test]
    fn the_key_lists_match_the_model() {
        use crate::spec::{GoogleSpec, MicrosoftSpec, OutputSpec, SpecBody};
        fn expected<T: serde::de::DeserializeOwned>() -> Vec<String> {
            let probe: toml::Table = toml::from_str("zz_not_a_key = 0").unwrap();
            let msg = match T::deserialize(toml::Value::Table(probe)) {
                Err(e) => e.message().to_owned(),
                Ok(_) => panic!("the probe key was accepted"),
            };
            // serde: "expected one of `a`, `b`, `c`", or "expected `a` or `b`" for two.
            let list = msg.split_once("expected ").expect(&msg).1;
            let list = list.strip_prefix("one of ").unwrap_or(list);
            let mut keys: Vec<String> = list
                .split(", ")
                .flat_map(|k| k.split(" or "))
                .map(|k| k.trim().trim_matches('`').to_owned())
                .collect();
            keys.sort();
            keys
        }
        let sorted = |l: &[&str]| {
            let mut v: Vec<String> = l.iter().map(|k| k.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(expected::<MicrosoftSpec>(), sorted(MICROSOFT));
        assert_eq!(expected::<GoogleSpec>(), sorted(GOOGLE));
        assert_eq!(expected::<OutputSpec>(), sorted(OUTPUT));
        use crate::spec::secret::{KeyVaultDest, SecretManagerDest, SecretSpec, VaultDest};
        assert_eq!(expected::<SecretSpec>(), sorted(SECRET));
        assert_eq!(expected::<VaultDest>(), sorted(VAULT));
        assert_eq!(expected::<KeyVaultDest>(), sorted(KEY_VAULT));
        assert_eq!(expected::<SecretManagerDest>(), sorted(SECRET_MANAGER));
        let root: Vec<&str> = ROOT.iter().copied().filter(|k| *k != "env").collect();
        assert_eq!(expected::<SpecBody>(), sorted(&root));
    }

    #[test]
    fn every_unknown_key_is_reported_in_file_order() {
        let text = "name = \"x\"\n\n[microsoft]\ntennant = \"contoso.onmicrosoft.com\"\nredirect_uri = [\"https://a.example.com/cb\"]\nsecret_lifetime_day = 30\n\n[[output]]\nprovider = \"microsoft\"\ntemplate = \"json\"\npath = \"o.json\"\nvar = {}\n\n[env.prod]\nmicrosoft.colour = \"red\"\n";
        let e = crate::spec::Spec::parse(std::path::Path::new("mailreg.toml"), text, "test")
            .unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::BadInput);
        assert_eq!(
            e.message,
            "mailreg.toml:4:1: microsoft.tennant: unknown key `tennant`; did you mean `tenant`?\n\
             mailreg.toml:5:1: microsoft.redirect_uri: unknown key `redirect_uri`; did you mean `redirect_uris`?\n\
             mailreg.toml:6:1: microsoft.secret_lifetime_day: unknown key `secret_lifetime_day`; did you mean `secret_lifetime_days`?\n\
             mailreg.toml:12:1: output[0].var: unknown key `var`; did you mean `vars`?\n\
             mailreg.toml:15:11: env.prod.microsoft.colour: unknown key `colour`; the keys here are `access`, `tenant`, `cloud`, `display_name`, `audience`, `redirect_uris`, `permissions`, `secret_lifetime_days`, `admin_consent`, `tags`, `notes`, `mailboxes`"
        );
    }
}
