//! Graph reads about a mailbox's user: the account itself and its licences
//! (reference/exchange-admin.md, "Graph"). Both need `User.Read.All`.

use reqwest::Method;
use serde::Deserialize;

use super::graph::Graph;
use crate::error::Result;
use crate::http::Request;

/// The fields `mailbox check` reads of a user.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_principal_name: String,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub user_type: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    #[serde(default)]
    pub service_plan_name: String,
    #[serde(default)]
    pub provisioning_status: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseDetail {
    #[serde(default)]
    pub sku_part_number: String,
    #[serde(default)]
    pub service_plans: Vec<ServicePlan>,
}

#[derive(Deserialize)]
struct Licences {
    #[serde(default)]
    value: Vec<LicenseDetail>,
}

/// At most this many licences are read (a user holds a handful; the bound keeps a hostile
/// answer from growing the report).
const MAX_LICENCES: usize = 100;

impl Graph {
    /// `GET /users/{upn}?$select=…`.
    pub async fn user(&self, upn: &str) -> Result<User> {
        let select = "id,userPrincipalName,mail,accountEnabled,userType";
        let url = self.user_url(upn, &[], &[("$select", select)]);
        self.call(Request::new(Method::GET, url)).await?.json()
    }

    /// `GET /users/{upn}/licenseDetails` (the UPN works as well as the id, so this read need
    /// not wait for the user's).
    pub async fn license_details(&self, upn: &str) -> Result<Vec<LicenseDetail>> {
        let url = self.user_url(upn, &["licenseDetails"], &[]);
        let mut list: Licences = self.call(Request::new(Method::GET, url)).await?.json()?;
        list.value.truncate(MAX_LICENCES);
        Ok(list.value)
    }

    /// `users/{upn}/…` with the UPN as one percent-encoded path segment (an address may hold
    /// `/`, `?` or `#`).
    fn user_url(&self, upn: &str, tail: &[&str], query: &[(&str, &str)]) -> url::Url {
        let mut url = self.url("users", query);
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.push(upn).extend(tail);
        }
        url
    }
}
