//! Application permissions granted with admin consent: app role assignments on a resource's
//! service principal (Graph `appRoleAssignedTo`), for app-only access to Exchange Online.
//!
//! The ids of Exchange's app roles are read from its service principal by value, never kept
//! here; for the record, the values confirmed in public permission tables (merill's Graph
//! permissions explorer, "Office 365 Exchange Online"): `IMAP.AccessAsApp`
//! 5e5addcd-3e8d-4e90-baf5-964efab2b20a, `POP.AccessAsApp` cb842b43-da6e-4506-86fe-bb12199c656d,
//! `Exchange.ManageAsApp` dc50a0fb-09a3-484d-be87-e023b12c6440; `SMTP.SendAsApp`
//! 7146a1f0-8703-45b3-9eae-527a64c00995 from public app manifests only (docs/reference/exchange-app-only.md).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::graph::{Graph, ServicePrincipal, lag_grant};
use crate::error::Result;
use crate::http::Request;

/// Office 365 Exchange Online: the resource of the mail application permissions.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// One application permission held by a service principal.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    pub id: String,
    pub app_role_id: String,
    pub principal_id: String,
    pub resource_id: String,
}

/// An assignment that already exists: a re-run after a kill meets its own earlier write.
fn already_assigned(status: Option<u16>, message: &str) -> bool {
    status == Some(400) && message.contains("already exists")
}

impl Graph {
    /// Exchange Online's service principal with its app roles (present in every tenant that
    /// has Exchange).
    pub async fn exchange_service_principal(&self) -> Result<ServicePrincipal> {
        let url = self.url(
            &format!("servicePrincipals(appId='{EXCHANGE_APP_ID}')"),
            &[("$select", "id,appId,appRoles")],
        );
        self.call(Request::new(Method::GET, url)).await?.json()
    }

    /// The application permissions a service principal holds, on every resource.
    pub async fn app_role_assignments(&self, sp_id: &str) -> Result<Vec<AppRoleAssignment>> {
        self.list_of(self.url(
            &format!("servicePrincipals/{sp_id}/appRoleAssignments"),
            &[],
        ))
        .await
    }

    /// Grants one application permission. `Ok(false)` when it was already granted (the
    /// assignment has no key to upsert by: Graph's duplicate answer is the idempotence).
    pub async fn assign_app_role(
        &self,
        resource_id: &str,
        principal_id: &str,
        app_role_id: &str,
    ) -> Result<bool> {
        let url = self.url(
            &format!("servicePrincipals/{resource_id}/appRoleAssignedTo"),
            &[],
        );
        let req = Request::new(Method::POST, url)
            .json(json!({
                "principalId": principal_id,
                "resourceId": resource_id,
                "appRoleId": app_role_id,
            }))
            .lag(lag_grant);
        match self.call(req).await {
            Ok(_) => Ok(true),
            Err(e) if already_assigned(e.status, &e.message) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn remove_app_role_assignment(&self, resource_id: &str, id: &str) -> Result<()> {
        let url = self.url(
            &format!("servicePrincipals/{resource_id}/appRoleAssignedTo/{id}"),
            &[],
        );
        match self.call(Request::new(Method::DELETE, url)).await {
            Err(e) if e.status == Some(404) => Ok(()),
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_assignment_is_recognised_by_graphs_text() {
        assert!(already_assigned(
            Some(400),
            "Permission being assigned already exists on the object"
        ));
        assert!(!already_assigned(
            Some(400),
            "Permission being assigned was not found on application"
        ));
        assert!(!already_assigned(Some(404), "already exists"));
    }
}
