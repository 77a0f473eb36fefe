//! `[microsoft] access`: how the application reaches its mailboxes.
//!
//! - `delegated` (the default): a person signs in once and the application lives on a refresh
//!   token; the permissions are Microsoft Graph's delegated ones (`IMAP.AccessAsUser.All`, …).
//! - `app`: client credentials, no user and no refresh token, scoped to the mailboxes listed.
//!   The permissions are application permissions (app roles) of *Office 365 Exchange Online*,
//!   and each mailbox grants the app rights in Exchange: `read` (FullAccess, for IMAP and POP)
//!   and `send` (SendAs, for SMTP).
//!
//! A mailbox is written as its address, or as a table with its rights:
//! `mailboxes = ["helpdesk@contoso.com", { address = "noreply@contoso.com", rights = ["send"] }]`.
//! A bare address gets every right the app's permissions use (`read` for IMAP/POP, `send` for
//! SMTP); with no `permissions` written, they follow from the rights (a bare address: `read`).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Problem;

/// How the application signs in to its mailboxes.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    #[default]
    Delegated,
    App,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Delegated => "delegated",
            Access::App => "app",
        }
    }
}

/// A right a mailbox grants an app-only application in Exchange.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Right {
    /// `Add-MailboxPermission -AccessRights FullAccess`: IMAP and POP.
    Read,
    /// `Add-RecipientPermission -AccessRights SendAs`: SMTP.
    Send,
}

impl Right {
    pub fn as_str(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Send => "send",
        }
    }
}

/// The application permissions of Office 365 Exchange Online that mail needs, and the right
/// each one uses. Their ids are read from Exchange's service principal at plan time.
pub const APP_PERMISSIONS: &[(&str, Right)] = &[
    ("IMAP.AccessAsApp", Right::Read),
    ("POP.AccessAsApp", Right::Read),
    ("SMTP.SendAsApp", Right::Send),
];

/// Delegated names people write out of habit, and the application permission meant.
const DELEGATED_TO_APP: &[(&str, &str)] = &[
    ("IMAP.AccessAsUser.All", "IMAP.AccessAsApp"),
    ("POP.AccessAsUser.All", "POP.AccessAsApp"),
    ("SMTP.Send", "SMTP.SendAsApp"),
];

/// One `mailboxes` entry: the address, and the rights when written as a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxEntry {
    pub address: String,
    pub rights: Option<Vec<Right>>,
}

impl MailboxEntry {
    pub fn new(address: &str) -> Self {
        MailboxEntry {
            address: address.to_owned(),
            rights: None,
        }
    }
}

/// The table form, strict like every other table of the spec.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MailboxTable {
    address: String,
    rights: Vec<Right>,
}

impl<'de> Deserialize<'de> for MailboxEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MailboxEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string (an email address) or a table { address, rights }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MailboxEntry, E> {
                Ok(MailboxEntry::new(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MailboxEntry, A::Error> {
                let t = MailboxTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(MailboxEntry {
                    address: t.address,
                    rights: Some(t.rights),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for MailboxEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.rights {
            None => s.serialize_str(&self.address),
            Some(rights) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("address", &self.address)?;
                m.serialize_entry("rights", rights)?;
                m.end()
            }
        }
    }
}

/// The rights a bare address gets: every right the permissions use.
pub fn rights_of_permissions(permissions: &[String]) -> Vec<Right> {
    let set: BTreeSet<Right> = permissions
        .iter()
        .filter_map(|p| {
            APP_PERMISSIONS
                .iter()
                .find(|(n, _)| n == p)
                .map(|(_, r)| *r)
        })
        .collect();
    set.into_iter().collect()
}

/// The permissions an app-only spec gets when it writes none: those its mailboxes' rights use
/// (a bare address counts as `read`).
pub fn default_app_permissions(mailboxes: &[MailboxEntry]) -> Vec<String> {
    let rights: BTreeSet<Right> = mailboxes
        .iter()
        .flat_map(|m| m.rights.clone().unwrap_or_else(|| vec![Right::Read]))
        .collect();
    APP_PERMISSIONS
        .iter()
        .filter(|(_, r)| rights.contains(r))
        .map(|(n, _)| (*n).to_owned())
        .collect()
}

/// The checks of `access = "app"`: the permissions are Exchange's application permissions, each
/// mailbox's rights are usable with them, and there is a mailbox to open.
pub(super) fn check_app(
    permissions: &[String],
    mailboxes: &[MailboxEntry],
    personal: bool,
    p: &mut Vec<Problem>,
) {
    if personal {
        p.push(Problem::new(
            "microsoft.audience",
            "access = \"app\" works only in an organisation's directory (client credentials have no personal accounts); use AzureADMyOrg, the default with app access",
        ));
    }
    if mailboxes.is_empty() {
        p.push(Problem::new(
            "microsoft.mailboxes",
            "access = \"app\" opens only the mailboxes listed here: name at least one, e.g. mailboxes = [\"helpdesk@contoso.com\"]",
        ));
    }
    let names: Vec<&str> = APP_PERMISSIONS.iter().map(|(n, _)| *n).collect();
    for (i, perm) in permissions.iter().enumerate() {
        if names.contains(&perm.as_str()) {
            continue;
        }
        let field = format!("microsoft.permissions[{i}]");
        let message = match DELEGATED_TO_APP.iter().find(|(d, _)| d == perm) {
            Some((_, app)) => format!(
                "{perm:?} is a delegated permission; with access = \"app\" write {app:?} (an application permission of Office 365 Exchange Online)"
            ),
            None if perm == "offline_access" => {
                format!("{perm:?} is for refresh tokens, which app access does not use: remove it")
            }
            None => {
                let mut m = format!(
                    "{perm:?} is not a mail permission for app access; these are {}",
                    names.join(", ")
                );
                if let Some(s) = super::keys::suggest(perm, &names) {
                    m.push_str(&format!(" (did you mean {s:?}?)"));
                }
                m
            }
        };
        p.push(Problem::new(field, message));
    }
    let usable = rights_of_permissions(permissions);
    for (i, m) in mailboxes.iter().enumerate() {
        let Some(rights) = &m.rights else { continue };
        let field = format!("microsoft.mailboxes[{i}].rights");
        if rights.is_empty() {
            p.push(Problem::new(
                field,
                "name at least one right: \"read\" (IMAP, POP) or \"send\" (SMTP)",
            ));
            continue;
        }
        let mut seen = BTreeSet::new();
        for (j, r) in rights.iter().enumerate() {
            let field = format!("microsoft.mailboxes[{i}].rights[{j}]");
            if !seen.insert(*r) {
                p.push(Problem::new(
                    field,
                    format!("{:?} is listed twice", r.as_str()),
                ));
            } else if !usable.contains(r) {
                let needs = match r {
                    Right::Read => "IMAP.AccessAsApp or POP.AccessAsApp",
                    Right::Send => "SMTP.SendAsApp",
                };
                p.push(Problem::new(
                    field,
                    format!(
                        "{:?} needs {needs} in microsoft.permissions, which has none of them",
                        r.as_str()
                    ),
                ));
            }
        }
    }
}

/// With delegated access a mailbox signs in as itself: rights belong to app access.
pub(super) fn check_delegated(mailboxes: &[MailboxEntry], p: &mut Vec<Problem>) {
    for (i, m) in mailboxes.iter().enumerate() {
        if m.rights.is_some() {
            p.push(Problem::new(
                format!("microsoft.mailboxes[{i}].rights"),
                "rights are for access = \"app\"; with delegated access each mailbox signs in as itself: write just its address",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{Access, Audience, Right, Spec};

    const APP: &str = r#"name = "helpdesk"
[microsoft]
access = "app"
tenant = "contoso.onmicrosoft.com"
mailboxes = ["helpdesk@contoso.com", { address = "noreply@contoso.com", rights = ["send"] }]
"#;

    fn parse(text: &str) -> Result<Spec, String> {
        Spec::parse("s.toml".as_ref(), text, "test").map_err(|e| e.message)
    }

    #[test]
    fn app_access_takes_its_defaults_from_the_mailboxes() {
        let spec = parse(APP).unwrap();
        let ms = spec.microsoft.as_ref().unwrap();
        assert_eq!(ms.access, Access::App);
        assert_eq!(ms.audience, Audience::AzureADMyOrg);
        assert!(ms.redirect_uris.is_empty());
        assert_eq!(
            ms.permissions,
            ["IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp"]
        );
        assert_eq!(
            ms.app_mailboxes(),
            [
                (
                    "helpdesk@contoso.com".to_owned(),
                    vec![Right::Read, Right::Send]
                ),
                ("noreply@contoso.com".to_owned(), vec![Right::Send]),
            ]
        );
        assert_eq!(
            ms.mailbox_addresses(),
            ["helpdesk@contoso.com", "noreply@contoso.com"]
        );
    }

    #[test]
    fn a_bare_address_alone_means_read() {
        let text = APP.replace(
            r#", { address = "noreply@contoso.com", rights = ["send"] }"#,
            "",
        );
        let spec = parse(&text).unwrap();
        let ms = spec.microsoft.as_ref().unwrap();
        assert_eq!(ms.permissions, ["IMAP.AccessAsApp", "POP.AccessAsApp"]);
        assert_eq!(
            ms.app_mailboxes(),
            [("helpdesk@contoso.com".to_owned(), vec![Right::Read])]
        );
    }

    #[test]
    fn app_access_problems_are_reported_together_at_their_lines() {
        let text = r#"name = "helpdesk"
[microsoft]
access = "app"
audience = "AzureADandPersonalMicrosoftAccount"
tenant = "contoso.onmicrosoft.com"
permissions = ["IMAP.AccessAsUser.All", "offline_access", "IMAP.AcessAsApp"]
mailboxes = [{ address = "noreply@contoso.com", rights = ["send", "send"] }, { address = "a@contoso.com", rights = [] }]
"#;
        assert_eq!(
            parse(text).unwrap_err(),
            "s.toml:4:12: microsoft.audience: access = \"app\" works only in an organisation's directory (client credentials have no personal accounts); use AzureADMyOrg, the default with app access\n\
             s.toml:6:16: microsoft.permissions[0]: \"IMAP.AccessAsUser.All\" is a delegated permission; with access = \"app\" write \"IMAP.AccessAsApp\" (an application permission of Office 365 Exchange Online)\n\
             s.toml:6:41: microsoft.permissions[1]: \"offline_access\" is for refresh tokens, which app access does not use: remove it\n\
             s.toml:6:59: microsoft.permissions[2]: \"IMAP.AcessAsApp\" is not a mail permission for app access; these are IMAP.AccessAsApp, POP.AccessAsApp, SMTP.SendAsApp (did you mean \"IMAP.AccessAsApp\"?)\n\
             s.toml:7:59: microsoft.mailboxes[0].rights[0]: \"send\" needs SMTP.SendAsApp in microsoft.permissions, which has none of them\n\
             s.toml:7:67: microsoft.mailboxes[0].rights[1]: \"send\" is listed twice\n\
             s.toml:7:116: microsoft.mailboxes[1].rights: name at least one right: \"read\" (IMAP, POP) or \"send\" (SMTP)"
        );
    }

    #[test]
    fn app_access_needs_a_mailbox_and_delegated_access_takes_no_rights() {
        let text = "name = \"helpdesk\"\n[microsoft]\naccess = \"app\"\ntenant = \"contoso.onmicrosoft.com\"\n";
        assert_eq!(
            parse(text).unwrap_err(),
            "s.toml:2:1: microsoft.mailboxes: access = \"app\" opens only the mailboxes listed here: name at least one, e.g. mailboxes = [\"helpdesk@contoso.com\"]"
        );
        let text = "name = \"helpdesk\"\n[microsoft]\ntenant = \"contoso.onmicrosoft.com\"\nredirect_uris = [\"https://a.example.com/cb\"]\nmailboxes = [{ address = \"a@contoso.com\", rights = [\"read\"] }]\n";
        assert_eq!(
            parse(text).unwrap_err(),
            "s.toml:5:52: microsoft.mailboxes[0].rights: rights are for access = \"app\"; with delegated access each mailbox signs in as itself: write just its address"
        );
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let text = APP.replace(r#"rights = ["send"]"#, r#"rights = ["sned"]"#);
        let e = parse(&text).unwrap_err();
        assert!(
            e.starts_with("s.toml:5:83: microsoft.mailboxes[1].rights[0]: unknown variant `sned`, expected `read` or `send`"),
            "{e}"
        );
        let text = APP.replace(
            r#"{ address = "noreply@contoso.com","#,
            r#"{ adress = "noreply@contoso.com","#,
        );
        let e = parse(&text).unwrap_err();
        assert!(
            e == "s.toml:5:40: microsoft.mailboxes[1].adress: unknown key `adress`; did you mean `address`?",
            "{e}"
        );
        let text = APP.replace(r#"access = "app""#, r#"access = "application""#);
        let e = parse(&text).unwrap_err();
        assert!(
            e.starts_with("s.toml:3:10: microsoft.access: unknown variant `application`, expected `delegated` or `app`"),
            "{e}"
        );
    }
}
