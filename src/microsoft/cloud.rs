//! Microsoft clouds: where mailreg signs in and calls Graph, and the endpoints a mailbox uses.
//!
//! The national-cloud hosts are from reference/microsoft-graph.md §3. `MAILREG_LOGIN_URL` and
//! `MAILREG_GRAPH_URL` override them (tests point both at the emulator); the mailbox's
//! authorize/token URLs derive from the login URL, so one override moves both.

use url::Url;

use crate::error::Result;
use crate::http::env_url;
use crate::spec::{Audience, Cloud};

#[derive(Clone, Debug)]
pub struct Endpoints {
    /// Where tokens come from, e.g. `https://login.microsoftonline.com`.
    pub login: Url,
    /// Graph base, e.g. `https://graph.microsoft.com` (without `/v1.0`).
    pub graph: Url,
    /// The Graph resource for token scopes: always the cloud's real Graph host, even when the
    /// base URL is overridden (the token audience does not change with the transport).
    pub graph_resource: &'static str,
    /// The cloud's login host as `azure_identity` knows it (it only accepts https authorities).
    pub authority: &'static str,
}

fn defaults(cloud: Cloud) -> (&'static str, &'static str) {
    match cloud {
        Cloud::Global => (
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
        ),
        Cloud::Usgov => (
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        ),
        Cloud::UsgovDod => (
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
        ),
        Cloud::China => (
            "https://login.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
    }
}

impl Endpoints {
    pub fn for_cloud(cloud: Cloud) -> Result<Self> {
        let (login, graph) = defaults(cloud);
        Ok(Endpoints {
            login: env_url("MAILREG_LOGIN_URL", login)?,
            graph: env_url("MAILREG_GRAPH_URL", graph)?,
            graph_resource: graph,
            authority: login,
        })
    }

    /// `{graph}/v1.0/{path}`.
    pub fn graph_url(&self, path: &str) -> Url {
        let base = self.graph.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/v1.0/{path}")).expect("graph paths are valid URL paths")
    }

    /// The v2 authorize and token URLs the mailbox uses (reference §3): `common` for work and
    /// personal accounts, `organizations` for any work account, `consumers` for personal only,
    /// the tenant itself for single-tenant apps.
    pub fn mailbox_endpoints(&self, audience: Audience, tenant: &str) -> (String, String) {
        let segment = match audience {
            Audience::AzureADandPersonalMicrosoftAccount => "common",
            Audience::AzureADMultipleOrgs => "organizations",
            Audience::PersonalMicrosoftAccount => "consumers",
            Audience::AzureADMyOrg => tenant,
        };
        let base = self.login.as_str().trim_end_matches('/');
        (
            format!("{base}/{segment}/oauth2/v2.0/authorize"),
            format!("{base}/{segment}/oauth2/v2.0/token"),
        )
    }
}

/// Mail token scopes as a mailbox requests them (reference §3): Outlook-qualified, plus
/// `offline_access` for a refresh token. Graph-only permissions (openid, User.Read …) are kept
/// unqualified or dropped: IMAP/SMTP reject Graph-audience tokens.
pub fn mailbox_scopes(permissions: &[String]) -> Vec<String> {
    let mut scopes = Vec::new();
    for p in permissions {
        match p.as_str() {
            "IMAP.AccessAsUser.All" | "POP.AccessAsUser.All" | "SMTP.Send" => {
                scopes.push(format!("https://outlook.office.com/{p}"))
            }
            "offline_access" | "openid" | "email" | "profile" => scopes.push(p.clone()),
            _ => {}
        }
    }
    scopes
}

/// The one scope of an app-only mail token: Exchange Online's `.default` (the app roles that
/// admin consent assigned), for the cloud's Exchange host.
pub fn app_scope(cloud: crate::spec::Cloud) -> String {
    format!("{}/.default", super::exchange::default_url(cloud))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_endpoints_follow_the_audience() {
        let e = Endpoints {
            login: Url::parse("https://login.microsoftonline.com").unwrap(),
            graph: Url::parse("https://graph.microsoft.com").unwrap(),
            graph_resource: "https://graph.microsoft.com",
            authority: "https://login.microsoftonline.com",
        };
        assert_eq!(
            e.mailbox_endpoints(Audience::AzureADandPersonalMicrosoftAccount, "contoso.com")
                .0,
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
        );
        assert_eq!(
            e.mailbox_endpoints(Audience::AzureADMyOrg, "contoso.com").1,
            "https://login.microsoftonline.com/contoso.com/oauth2/v2.0/token"
        );
        assert_eq!(
            e.mailbox_endpoints(Audience::AzureADMultipleOrgs, "x").1,
            "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
        );
        assert_eq!(
            e.graph_url("applications").as_str(),
            "https://graph.microsoft.com/v1.0/applications"
        );
    }

    #[test]
    fn scopes_are_outlook_qualified() {
        let p: Vec<String> = [
            "IMAP.AccessAsUser.All",
            "SMTP.Send",
            "offline_access",
            "User.Read",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            mailbox_scopes(&p),
            [
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send",
                "offline_access"
            ]
        );
    }
}
