//! The tenant's default app management policy (`GET /policies/defaultAppManagementPolicy`),
//! which may cap the lifetime of new client secrets.
//!
//! The policy object always exists; with no cap configured it is disabled, as in a fresh
//! tenant. The cap itself is enforced by `addPassword` ([`GraphConfig::max_secret_lifetime_days`]).

use super::*;

impl GraphState {
    pub(super) fn default_app_management_policy(&self) -> GResult {
        if !self.config.policy_readable {
            return Err(GErr::new(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        let days = self.config.max_secret_lifetime_days;
        let restrictions = match days {
            Some(d) => json!([{
                "restrictionType": "passwordLifetime",
                "state": "enabled",
                "maxLifetime": format!("P{d}D"),
                "restrictForAppsCreatedAfterDateTime": "2019-01-01T00:00:00Z",
            }]),
            None => json!([]),
        };
        let id = if self.policy_id.is_empty() {
            "00000000-0000-0000-0000-000000000000"
        } else {
            self.policy_id.as_str()
        };
        Ok(Out::json(
            200,
            json!({
                "@odata.context": format!("{}/v1.0/$metadata#policies/defaultAppManagementPolicy/$entity", self.base()),
                "id": id,
                "displayName": "Default app management tenant policy",
                "description": "Default tenant policy that enforces app management restrictions on applications and service principals.",
                "isEnabled": days.is_some(),
                "applicationRestrictions": {
                    "passwordCredentials": restrictions,
                    "keyCredentials": [],
                },
                "servicePrincipalRestrictions": {
                    "passwordCredentials": [],
                    "keyCredentials": [],
                },
            }),
        ))
    }
}
