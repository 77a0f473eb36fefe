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
    pub id: String,
    pub user_principal_name: String,
    #[serde(default)]
    pub mail: Option<String>,
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
        let url = self.url(
            &format!("users/{}", encode(upn)),
            &[(
                "$select",
                "id,userPrincipalName,mail,accountEnabled,userType",
            )],
        );
        self.call(Request::new(Method::GET, url)).await?.json()
    }

    /// `GET /users/{upn}/licenseDetails` (the UPN works as well as the id, so this read need
    /// not wait for the user's).
    pub async fn license_details(&self, upn: &str) -> Result<Vec<LicenseDetail>> {
        let url = self.url(&format!("users/{}/licenseDetails", encode(upn)), &[]);
        let mut list: Licences = self.call(Request::new(Method::GET, url)).await?.json()?;
        list.value.truncate(MAX_LICENCES);
        Ok(list.value)
    }
}

/// A UPN as one path segment (`#` and `/` cannot appear raw; `@` may).
fn encode(upn: &str) -> String {
    percent_encoding::utf8_percent_encode(upn, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%40", "@")
        .replace("%2E", ".")
        .replace("%2D", "-")
        .replace("%5F", "_")
}
