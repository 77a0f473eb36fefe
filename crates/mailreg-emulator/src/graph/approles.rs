//! Office 365 Exchange Online's service principal (present in every tenant, with the mail
//! application permissions as `appRoles`) and app role assignments: admin consent for
//! application permissions (`POST /servicePrincipals/{resource}/appRoleAssignedTo`).
//!
//! Role ids: IMAP.AccessAsApp, POP.AccessAsApp and Exchange.ManageAsApp as published in
//! merill's permission tables for "Office 365 Exchange Online"; SMTP.SendAsApp from two public
//! app manifests (docs/reference/exchange-app-only.md), not Microsoft's own table (mailreg
//! resolves roles by value, so it only needs to be stable). Error texts: the duplicate and
//! unknown-role messages are Graph's as quoted in public issue threads; the rest INFERRED.

use super::*;

pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// (value, id, display name).
pub const EXCHANGE_APP_ROLES: &[(&str, &str, &str)] = &[
    (
        "IMAP.AccessAsApp",
        "5e5addcd-3e8d-4e90-baf5-964efab2b20a",
        "IMAP.AccessAsApp",
    ),
    (
        "POP.AccessAsApp",
        "cb842b43-da6e-4506-86fe-bb12199c656d",
        "POP.AccessAsApp",
    ),
    (
        "SMTP.SendAsApp",
        "7146a1f0-8703-45b3-9eae-527a64c00995",
        "SMTP.SendAsApp",
    ),
    (
        "Exchange.ManageAsApp",
        "dc50a0fb-09a3-484d-be87-e023b12c6440",
        "Manage Exchange As Application",
    ),
];

impl GraphState {
    pub(super) fn build_exchange_sp(&self, id: String) -> Map<String, Value> {
        let mut sp = principals::sp_template();
        let roles: Vec<Value> = EXCHANGE_APP_ROLES
            .iter()
            .map(|(value, id, name)| {
                json!({
                    "allowedMemberTypes": ["Application"],
                    "description": format!("Allow application to access mailboxes: {name}"),
                    "displayName": name,
                    "id": id,
                    "isEnabled": true,
                    "origin": "Application",
                    "value": value,
                })
            })
            .collect();
        let fields = json!({
            "id": id,
            "appDisplayName": "Office 365 Exchange Online",
            "appId": EXCHANGE_APP_ID,
            "appOwnerOrganizationId": MICROSOFT_SERVICES_TENANT,
            "displayName": "Office 365 Exchange Online",
            "appRoles": roles,
            "servicePrincipalNames": [EXCHANGE_APP_ID, "https://outlook.office365.com/", "https://outlook.office365.com"],
            "signInAudience": "AzureADMultipleOrgs",
        });
        if let Value::Object(m) = fields {
            merge_into(&mut sp, m);
        }
        sp
    }

    fn sp_id_of(&self, key: &Key) -> Result<(String, String), GErr> {
        if !is_guid(key.value()) {
            return Err(invalid_object_id(key.value()));
        }
        let (builtin, idx) = self.find_sp(key).ok_or_else(|| not_found(key.value()))?;
        let body = self.sp_body(builtin, idx);
        Ok((
            body["id"].as_str().unwrap_or_default().to_owned(),
            body["displayName"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    fn assignment_context(&self) -> String {
        format!("{}/$metadata#appRoleAssignments", self.base())
    }

    /// `POST /servicePrincipals/{resource}/appRoleAssignedTo`.
    pub(super) fn assign_role(&mut self, key: &Key, req: &EmuRequest) -> GResult {
        let (resource_id, resource_name) = self.sp_id_of(key)?;
        let body = json_object(req)?;
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(principal), Some(role)) = (field("principalId"), field("appRoleId")) else {
            return Err(bad_request(
                "Invalid value specified for property 'principalId' of resource 'AppRoleAssignment'.",
            ));
        };
        if field("resourceId").is_some_and(|r| !r.eq_ignore_ascii_case(&resource_id)) {
            return Err(bad_request(
                "Invalid value specified for property 'resourceId' of resource 'AppRoleAssignment'.",
            ));
        }
        let offered = self
            .sp_body_by_id(&resource_id)
            .and_then(|b| b["appRoles"].as_array().cloned())
            .unwrap_or_default();
        if !offered.iter().any(|r| {
            r["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&role))
        }) {
            return Err(bad_request(
                "Permission being assigned was not found on application",
            ));
        }
        let Some(pidx) = self.sps.iter().position(|s| {
            s.body["id"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&principal))
        }) else {
            return Err(not_found(&principal));
        };
        // ref §4.3: a new service principal is not yet visible to the consent service.
        if self.sps[pidx].grant_lag > 0 {
            self.sps[pidx].grant_lag -= 1;
            return Err(not_found(&principal));
        }
        if self.assignments.iter().any(|a| {
            a["principalId"].as_str() == Some(principal.as_str())
                && a["resourceId"].as_str() == Some(resource_id.as_str())
                && a["appRoleId"]
                    .as_str()
                    .is_some_and(|r| r.eq_ignore_ascii_case(&role))
        }) {
            return Err(bad_request(
                "Permission being assigned already exists on the object",
            ));
        }
        let principal_name = self.sps[pidx].body["displayName"].clone();
        let a = json!({
            "id": self.uuid(),
            "appRoleId": role.to_ascii_lowercase(),
            "createdDateTime": "2026-01-01T00:00:00Z",
            "deletedDateTime": null,
            "principalDisplayName": principal_name,
            "principalId": principal,
            "principalType": "ServicePrincipal",
            "resourceDisplayName": resource_name,
            "resourceId": resource_id,
        });
        self.assignments.push(a.clone());
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(self.assignment_context()));
        if let Value::Object(m) = a {
            out.extend(m);
        }
        Ok(Out::json(201, Value::Object(out)))
    }

    fn sp_body_by_id(&self, id: &str) -> Option<&Map<String, Value>> {
        self.find_sp(&Key::Id(id.to_owned()))
            .map(|(b, i)| self.sp_body(b, i))
    }

    /// `GET …/appRoleAssignedTo` (on the resource) or `…/appRoleAssignments` (held by it).
    pub(super) fn list_assignments(&self, key: &Key, held: bool) -> GResult {
        let (id, _) = self.sp_id_of(key)?;
        let field = if held { "principalId" } else { "resourceId" };
        let value: Vec<Value> = self
            .assignments
            .iter()
            .filter(|a| a[field].as_str() == Some(id.as_str()))
            .cloned()
            .collect();
        Ok(Out::json(
            200,
            json!({"@odata.context": self.assignment_context(), "value": value}),
        ))
    }

    pub(super) fn delete_assignment(&mut self, key: &Key, assignment: &str) -> GResult {
        let (id, _) = self.sp_id_of(key)?;
        let before = self.assignments.len();
        self.assignments.retain(|a| {
            !(a["id"].as_str() == Some(assignment) && a["resourceId"].as_str() == Some(id.as_str()))
        });
        if self.assignments.len() == before {
            return Err(not_found(assignment));
        }
        Ok(Out::empty(204))
    }

    /// The app roles (values) assigned to a service principal on Exchange Online: what an
    /// app-only token's `roles` claim carries.
    pub fn exchange_roles_of(&self, principal_id: &str) -> Vec<String> {
        let exchange = self.exchange_sp["id"].as_str().unwrap_or_default();
        self.assignments
            .iter()
            .filter(|a| {
                a["principalId"].as_str() == Some(principal_id)
                    && a["resourceId"].as_str() == Some(exchange)
            })
            .filter_map(|a| {
                let role = a["appRoleId"].as_str()?;
                EXCHANGE_APP_ROLES
                    .iter()
                    .find(|(_, id, _)| id.eq_ignore_ascii_case(role))
                    .map(|(v, _, _)| (*v).to_owned())
            })
            .collect()
    }

    /// Every app role assignment, as Graph returns them (tests).
    pub fn app_role_assignments(&self) -> Vec<Value> {
        self.assignments.clone()
    }

    /// Removes an assignment as a person would in the portal (drift, in tests).
    pub fn remove_app_role_assignment(&mut self, id: &str) -> bool {
        let before = self.assignments.len();
        self.assignments.retain(|a| a["id"].as_str() != Some(id));
        self.assignments.len() != before
    }

    pub fn exchange_service_principal_id(&self) -> String {
        self.exchange_sp["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}
