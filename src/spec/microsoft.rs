//! `[microsoft]` checks that types cannot say, and the defaults that depend on `access`.

use std::collections::BTreeSet;

use super::access::{self, Access};
use super::{
    Audience, Cloud, MicrosoftSpec, Problem, check_mailboxes, check_redirect_uri, cloud_name,
    is_domain, is_guid,
};

/// Which defaulted keys the spec writes (after the environment is merged): app access changes
/// their defaults, so they must be told apart from values written as the defaults.
pub(super) struct Written {
    audience: bool,
    permissions: bool,
}

pub(super) fn written_defaults(root: &toml::Table) -> Written {
    let ms = root.get("microsoft").and_then(|v| v.as_table());
    let has = |k: &str| ms.is_some_and(|t| t.contains_key(k));
    Written {
        audience: has("audience"),
        permissions: has("permissions"),
    }
}

/// With `access = "app"`: the audience is the organisation's own directory, and the permissions
/// are what the mailboxes' rights use, unless written.
pub(super) fn app_defaults(ms: &mut MicrosoftSpec, written: &Written) {
    if ms.access != Access::App {
        return;
    }
    if !written.audience {
        ms.audience = Audience::AzureADMyOrg;
    }
    if !written.permissions {
        ms.permissions = access::default_app_permissions(&ms.mailboxes);
    }
}

pub(super) fn validate_microsoft(ms: &MicrosoftSpec, name: &str, env: &str, p: &mut Vec<Problem>) {
    check_mailboxes("microsoft", &ms.mailbox_addresses(), p);
    match ms.access {
        Access::App => {
            access::check_app(&ms.permissions, &ms.mailboxes, ms.audience.is_personal(), p)
        }
        Access::Delegated => access::check_delegated(&ms.mailboxes, p),
    }
    let t = ms.tenant.trim();
    if ["common", "organizations", "consumers"].contains(&t.to_ascii_lowercase().as_str()) {
        p.push(Problem::new(
            "microsoft.tenant",
            format!("{t:?} is a sign-in audience, not a directory; give the tenant ID (GUID) or a verified domain such as contoso.onmicrosoft.com"),
        ));
    } else if !(is_guid(t) || is_domain(t)) {
        p.push(Problem::new(
            "microsoft.tenant",
            format!("{t:?} is neither a tenant ID (GUID) nor a domain name"),
        ));
    }
    if ms.audience.is_personal() && ms.cloud != Cloud::Global {
        p.push(Problem::new(
            "microsoft.audience",
            format!(
                "{} is not supported in national clouds (cloud = {:?}); use AzureADMultipleOrgs or AzureADMyOrg",
                ms.audience,
                cloud_name(ms.cloud)
            ),
        ));
    }
    let display = ms.display_name(name, env);
    let max = if ms.audience.is_personal() { 90 } else { 120 };
    if display.trim().is_empty() {
        p.push(Problem::new("microsoft.display_name", "must not be empty"));
    } else if display.chars().count() > max {
        p.push(Problem::new(
            "microsoft.display_name",
            format!(
                "is {} characters; {} allows at most {max}",
                display.chars().count(),
                ms.audience
            ),
        ));
    }
    if ms.redirect_uris.is_empty() && ms.access == Access::Delegated {
        p.push(Problem::new(
            "microsoft.redirect_uris",
            "at least one redirect URI is needed (the mailbox application's OAuth callback)",
        ));
    }
    let max_uris = if ms.audience.is_personal() { 100 } else { 256 };
    if ms.redirect_uris.len() > max_uris {
        p.push(Problem::new(
            "microsoft.redirect_uris",
            format!(
                "{} URIs; {} allows at most {max_uris}",
                ms.redirect_uris.len(),
                ms.audience
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, uri) in ms.redirect_uris.iter().enumerate() {
        let field = format!("microsoft.redirect_uris[{i}]");
        if !seen.insert(uri) {
            p.push(Problem::new(field, format!("{uri:?} is listed twice")));
            continue;
        }
        if let Err(msg) = check_redirect_uri(uri, ms.audience.is_personal()) {
            p.push(Problem::new(field, msg));
        }
    }
    if ms.permissions.is_empty() && ms.access == Access::Delegated {
        p.push(Problem::new(
            "microsoft.permissions",
            "at least one delegated permission is needed, e.g. IMAP.AccessAsUser.All",
        ));
    }
    if ms.permissions.len() > 30 {
        p.push(Problem::new(
            "microsoft.permissions",
            "at most 30 permissions per resource are allowed",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, perm) in ms.permissions.iter().enumerate() {
        let field = format!("microsoft.permissions[{i}]");
        if !seen.insert(perm) {
            p.push(Problem::new(field, format!("{perm:?} is listed twice")));
        } else if ms.access == Access::Delegated && perm.is_empty()
            || !perm
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
        {
            p.push(Problem::new(
                field,
                format!("{perm:?} is not a permission name (e.g. IMAP.AccessAsUser.All)"),
            ));
        }
    }
    if !(1..=730).contains(&ms.secret_lifetime_days) {
        p.push(Problem::new(
            "microsoft.secret_lifetime_days",
            format!(
                "must be between 1 and 730 days, got {}",
                ms.secret_lifetime_days
            ),
        ));
    }
    for (i, tag) in ms.tags.iter().enumerate() {
        let field = format!("microsoft.tags[{i}]");
        if tag.is_empty() || tag.len() > 256 {
            p.push(Problem::new(field, "tags are 1-256 characters"));
        } else if tag.chars().any(char::is_whitespace) {
            p.push(Problem::new(
                field,
                format!("{tag:?}: tags may not contain whitespace"),
            ));
        } else if tag.starts_with("mailreg:") {
            p.push(Problem::new(
                field,
                "tags starting with `mailreg:` are mailreg's own",
            ));
        }
    }
    if let Some(notes) = &ms.notes
        && notes.chars().count() > 1024
    {
        p.push(Problem::new("microsoft.notes", "at most 1024 characters"));
    }
}
