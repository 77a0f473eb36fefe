//! Delegated Microsoft Graph permissions: names ↔ ids.
//!
//! The ids of the permissions a mailbox needs are constants (reference/microsoft-graph.md §2,
//! read from Microsoft's own service principal), so the common case costs no request. Any other
//! name is resolved once per run from the Graph service principal's `oauth2PermissionScopes`.

/// Microsoft Graph's application id: the resource of every permission here.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

pub const KNOWN: &[(&str, &str)] = &[
    (
        "IMAP.AccessAsUser.All",
        "652390e4-393a-48de-9484-05f9b1212954",
    ),
    (
        "POP.AccessAsUser.All",
        "d7b7f2d9-0f45-4ea1-9d42-e50810c06991",
    ),
    ("SMTP.Send", "258f6531-6087-4cc4-bb90-092c5fb3ed3f"),
    ("offline_access", "7427e0e9-2fba-42fe-b0c0-848c9e6a8182"),
    ("openid", "37f7f235-527c-4136-accd-4a02d197296e"),
    ("email", "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0"),
    ("profile", "14dad69e-099b-42c9-810b-d002981feec1"),
    ("User.Read", "e1fe6dd8-ba31-4d61-89e7-88639da4683d"),
];

pub fn known_id(name: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
}

pub fn known_name(id: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(_, i)| i.eq_ignore_ascii_case(id))
        .map(|(n, _)| *n)
}
