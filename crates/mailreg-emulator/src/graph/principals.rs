//! Service principals and delegated permission grants.

use super::*;

// ---------------------------------------------------------------------------------------------
// Service principals
// ---------------------------------------------------------------------------------------------

/// Service principal shape (ref §1.8 keys; the rest INFERRED from the v1.0 resource).
pub(super) fn sp_template() -> Map<String, Value> {
    let v = json!({
        "id": null,
        "deletedDateTime": null,
        "accountEnabled": true,
        "alternativeNames": [],
        "appDescription": null,
        "appDisplayName": null,
        "appId": null,
        "applicationTemplateId": null,
        "appOwnerOrganizationId": null,
        "appRoleAssignmentRequired": false,
        "appRoles": [],
        "description": null,
        "disabledByMicrosoftStatus": null,
        "displayName": null,
        "homepage": null,
        "info": {"logoUrl": null, "marketingUrl": null, "privacyStatementUrl": null, "supportUrl": null, "termsOfServiceUrl": null},
        "keyCredentials": []
    });
    let rest = json!({
        "loginUrl": null,
        "logoutUrl": null,
        "notes": null,
        "notificationEmailAddresses": [],
        "oauth2PermissionScopes": [],
        "passwordCredentials": [],
        "preferredSingleSignOnMode": null,
        "preferredTokenSigningKeyThumbprint": null,
        "replyUrls": [],
        "resourceSpecificApplicationPermissions": [],
        "samlSingleSignOnSettings": null,
        "servicePrincipalNames": [],
        "servicePrincipalType": "Application",
        "signInAudience": null,
        "tags": [],
        "tokenEncryptionKeyId": null,
        "verifiedPublisher": {"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}
    });
    match (v, rest) {
        (Value::Object(mut m), Value::Object(r)) => {
            m.extend(r);
            m
        }
        _ => unreachable!("templates are objects"),
    }
}

pub(super) fn grant_keys() -> Map<String, Value> {
    [
        "clientId",
        "consentType",
        "id",
        "principalId",
        "resourceId",
        "scope",
    ]
    .into_iter()
    .map(|k| (k.to_string(), Value::Null))
    .collect()
}

impl GraphState {
    pub(super) fn build_graph_sp(&self, id: String) -> Map<String, Value> {
        let mut sp = sp_template();
        let scopes: Vec<Value> = GRAPH_SCOPES
            .iter()
            .map(|(value, id, admin, user)| {
                json!({
                    "adminConsentDescription": format!("Allows the app to: {}", admin.to_lowercase()),
                    "adminConsentDisplayName": admin,
                    "id": id,
                    "isEnabled": true,
                    "type": "User",
                    "userConsentDescription": format!("Allows the app to: {}", user.to_lowercase()),
                    "userConsentDisplayName": user,
                    "value": value,
                })
            })
            .collect();
        let fields = json!({
            "id": id,
            "appDisplayName": "Microsoft Graph",
            "appId": GRAPH_APP_ID,
            "appOwnerOrganizationId": MICROSOFT_SERVICES_TENANT,
            "displayName": "Microsoft Graph",
            "oauth2PermissionScopes": scopes,
            "servicePrincipalNames": [GRAPH_APP_ID, "https://graph.microsoft.com", "https://graph.microsoft.com/", "https://canary.graph.microsoft.com", "https://ags.windows.net"],
            "signInAudience": "AzureADMultipleOrgs",
        });
        if let Value::Object(m) = fields {
            merge_into(&mut sp, m);
        }
        sp
    }

    /// (is built-in, index into `sps`).
    pub(super) fn find_sp(&self, key: &Key) -> Option<(bool, usize)> {
        let (field, v) = match key {
            Key::AppId(v) => ("appId", v),
            Key::Id(v) | Key::UniqueName(v) => ("id", v),
        };
        let hit =
            |b: &Map<String, Value>| b[field].as_str().is_some_and(|x| x.eq_ignore_ascii_case(v));
        if hit(&self.graph_sp) {
            return Some((true, 0));
        }
        if hit(&self.exchange_sp) {
            return Some((true, 1));
        }
        self.sps
            .iter()
            .position(|s| hit(&s.body))
            .map(|i| (false, i))
    }

    pub(super) fn sp_body(&self, builtin: bool, idx: usize) -> &Map<String, Value> {
        if builtin && idx == 1 {
            &self.exchange_sp
        } else if builtin {
            &self.graph_sp
        } else {
            &self.sps[idx].body
        }
    }

    pub(super) fn get_sp(&mut self, key: &Key, req: &EmuRequest) -> GResult {
        if !is_guid(key.value()) {
            return Err(invalid_object_id(key.value()));
        }
        let (builtin, idx) = self.find_sp(key).ok_or_else(|| not_found(key.value()))?;
        let select = parse_select(req, &sp_template(), "servicePrincipal")?;
        let body = project(self.sp_body(builtin, idx), &select);
        Ok(Out::json(
            200,
            with_context(self.ctx("servicePrincipals", &select, true), &body),
        )
        .ru(resource_units(req, 1)))
    }

    pub(super) fn list_sps(&mut self, req: &EmuRequest) -> GResult {
        let filter = req
            .query_param("$filter")
            .map(|f| parse_filter(f, &SP_FILTERS))
            .transpose()?;
        let select = parse_select(req, &sp_template(), "servicePrincipal")?;
        let top = parse_top(req)?;
        let after = parse_skiptoken(req)?;
        let all = [(0u64, &self.graph_sp), (0u64, &self.exchange_sp)]
            .into_iter()
            .chain(self.sps.iter().map(|s| (s.seq, &s.body)));
        let items: Vec<(u64, Map<String, Value>)> = all
            .filter(|(seq, _)| after.is_none_or(|a| *seq > a))
            .filter(|(_, b)| filter.as_ref().is_none_or(|f| f.matches(b)))
            .map(|(s, b)| (s, b.clone()))
            .collect();
        let body = self.page(
            req,
            "servicePrincipals",
            "servicePrincipals",
            items,
            &select,
            top,
        );
        Ok(Out::json(200, body).ru(resource_units(req, 1)))
    }

    /// ref §1.8.
    pub(super) fn create_sp(&mut self, req: &EmuRequest) -> GResult {
        let body = json_object(req)?;
        let app_id = body
            .get("appId")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad_request(
                    "Invalid value specified for property 'appId' of resource 'ServicePrincipal'.",
                )
            })?
            .to_string();
        let no_app = || {
            bad_request(format!(
                "The appId '{app_id}' of the service principal does not reference a valid application object."
            ))
        };
        let enabled = match body.get("accountEnabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(bad_request(
                    "Invalid value specified for property 'accountEnabled' of resource 'ServicePrincipal'.",
                ));
            }
        };
        if self.find_sp(&Key::AppId(app_id.clone())).is_some() {
            // INFERRED: status, code and text.
            return Err(GErr::new(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property servicePrincipalNames already exists.",
            ));
        }
        let Some(idx) = self.find_app(&Key::AppId(app_id.clone())) else {
            return Err(no_app());
        };
        // ref §4.3: the new app is not yet visible to the service principal service.
        if self.apps[idx].addr_lag > 0 {
            self.apps[idx].addr_lag -= 1;
            return Err(no_app());
        }
        let app = self.apps[idx].body.clone();
        let mut sp = sp_template();
        let mut reply: Vec<Value> = Vec::new();
        for platform in ["web", "spa", "publicClient"] {
            if let Some(Value::Array(u)) = app.get(platform).and_then(|p| p.get("redirectUris")) {
                reply.extend(u.iter().cloned());
            }
        }
        let mut names = vec![Value::String(app_id.clone())];
        if let Some(Value::Array(u)) = app.get("identifierUris") {
            names.extend(u.iter().cloned());
        }
        let id = self.uuid();
        let fields = json!({
            "id": id,
            "accountEnabled": enabled,
            "appDisplayName": app["displayName"],
            "appId": app_id,
            "appOwnerOrganizationId": self.config.tenant_id,
            "displayName": app["displayName"],
            "homepage": app.get("web").and_then(|w| w.get("homePageUrl")).cloned().unwrap_or(Value::Null),
            "logoutUrl": app.get("web").and_then(|w| w.get("logoutUrl")).cloned().unwrap_or(Value::Null),
            "oauth2PermissionScopes": app.get("api").and_then(|a| a.get("oauth2PermissionScopes")).cloned().unwrap_or(json!([])),
            "replyUrls": reply,
            "servicePrincipalNames": names,
            "signInAudience": app["signInAudience"],
            // ref §1.1: tags are copied onto associated service principals.
            "tags": body.get("tags").cloned().unwrap_or_else(|| app["tags"].clone()),
        });
        if let Value::Object(m) = fields {
            merge_into(&mut sp, m);
        }
        self.seq += 1;
        let lag = self.config.replication_lag;
        self.sps.push(SpRec {
            seq: self.seq,
            body: sp.clone(),
            grant_lag: lag,
        });
        Ok(Out::json(
            201,
            with_context(self.ctx("servicePrincipals", &None, true), &sp),
        )
        .header("location", self.location(&id, "ServicePrincipal")))
    }

    pub(super) fn delete_sp(&mut self, key: &Key) -> GResult {
        if !is_guid(key.value()) {
            return Err(invalid_object_id(key.value()));
        }
        match self.find_sp(key) {
            None => Err(not_found(key.value())),
            // INFERRED: first-party service principals cannot be deleted here.
            Some((true, _)) => Err(GErr::new(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )),
            Some((false, idx)) => {
                let sp = self.sps.remove(idx);
                let id = sp.body["id"].as_str().unwrap_or_default().to_string();
                self.grants
                    .retain(|g| g.body["clientId"].as_str() != Some(id.as_str()));
                self.assignments
                    .retain(|a| a["principalId"].as_str() != Some(id.as_str()));
                Ok(Out::empty(204))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// oauth2PermissionGrants (ref §1.10)
// ---------------------------------------------------------------------------------------------

pub(super) fn uuid_le(s: &str) -> Option<[u8; 16]> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.to_bytes_le())
}

impl GraphState {
    pub(super) fn grant_index(&self, id: &str) -> Result<usize, GErr> {
        self.grants
            .iter()
            .position(|g| g.body["id"].as_str() == Some(id))
            .ok_or_else(|| not_found(id))
    }

    pub(super) fn create_grant(&mut self, req: &EmuRequest) -> GResult {
        let body = json_object(req)?;
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let invalid = |p: &str| {
            bad_request(format!(
                "Invalid value specified for property '{p}' of resource 'OAuth2PermissionGrant'."
            ))
        };
        let client_id = s("clientId").ok_or_else(|| invalid("clientId"))?;
        let resource_id = s("resourceId").ok_or_else(|| invalid("resourceId"))?;
        let consent = s("consentType").ok_or_else(|| invalid("consentType"))?;
        let principal = body.get("principalId").cloned().unwrap_or(Value::Null);
        let scope = match body.get("scope") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(v)) => v.clone(),
            Some(_) => return Err(invalid("scope")),
        };
        let missing = |x: &str| bad_request(format!("Resource '{x}' {NOT_FOUND_TAIL}"));
        match self.find_sp(&Key::Id(client_id.clone())) {
            None => return Err(missing(&client_id)),
            Some((false, idx)) if self.sps[idx].grant_lag > 0 => {
                // ref §4.3: the new service principal is not yet replicated.
                self.sps[idx].grant_lag -= 1;
                return Err(missing(&client_id));
            }
            Some(_) => {}
        }
        if !resource_id.eq_ignore_ascii_case(self.graph_sp["id"].as_str().unwrap_or_default()) {
            return Err(missing(&resource_id));
        }
        let principal_bytes = match (consent.as_str(), &principal) {
            ("AllPrincipals", Value::Null) => None,
            ("Principal", Value::String(p)) => {
                Some(uuid_le(p).ok_or_else(|| invalid("principalId"))?)
            }
            ("AllPrincipals" | "Principal", _) => return Err(invalid("principalId")),
            _ => return Err(invalid("consentType")),
        };
        // INFERRED from decoding the recorded id: base64url of the GUIDs' little-endian bytes.
        let mut raw = Vec::new();
        raw.extend(uuid_le(&client_id).ok_or_else(|| invalid("clientId"))?);
        raw.extend(uuid_le(&resource_id).ok_or_else(|| invalid("resourceId"))?);
        if let Some(p) = principal_bytes {
            raw.extend(p);
        }
        let id = URL_SAFE_NO_PAD.encode(raw);
        if self.grant_index(&id).is_ok() {
            // INFERRED: status, code and text.
            return Err(GErr::new(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "Permission entry already exists.",
            ));
        }
        let grant = json!({
            "clientId": client_id,
            "consentType": consent,
            "id": id,
            "principalId": principal,
            "resourceId": resource_id,
            "scope": scope,
        });
        let Value::Object(grant) = grant else {
            unreachable!("object literal")
        };
        self.seq += 1;
        self.grants.push(GrantRec {
            seq: self.seq,
            body: grant.clone(),
        });
        Ok(Out::json(
            201,
            with_context(self.ctx("oauth2PermissionGrants", &None, true), &grant),
        ))
    }

    pub(super) fn list_grants(&mut self, req: &EmuRequest) -> GResult {
        let filter = req
            .query_param("$filter")
            .map(|f| parse_filter(f, &GRANT_FILTERS))
            .transpose()?;
        let select = parse_select(req, &grant_keys(), "oAuth2PermissionGrant")?;
        let top = parse_top(req)?;
        let after = parse_skiptoken(req)?;
        let items: Vec<(u64, Map<String, Value>)> = self
            .grants
            .iter()
            .filter(|g| after.is_none_or(|a| g.seq > a))
            .filter(|g| filter.as_ref().is_none_or(|f| f.matches(&g.body)))
            .map(|g| (g.seq, g.body.clone()))
            .collect();
        let body = self.page(
            req,
            "oauth2PermissionGrants",
            "oauth2PermissionGrants",
            items,
            &select,
            top,
        );
        Ok(Out::json(200, body).ru(resource_units(req, 2)))
    }

    pub(super) fn get_grant(&mut self, id: &str, req: &EmuRequest) -> GResult {
        let idx = self.grant_index(id)?;
        let select = parse_select(req, &grant_keys(), "oAuth2PermissionGrant")?;
        let body = project(&self.grants[idx].body, &select);
        Ok(Out::json(
            200,
            with_context(self.ctx("oauth2PermissionGrants", &select, true), &body),
        )
        .ru(resource_units(req, 1)))
    }

    pub(super) fn patch_grant(&mut self, id: &str, req: &EmuRequest) -> GResult {
        let idx = self.grant_index(id)?;
        let body = json_object(req)?;
        for k in body.keys().filter(|k| !k.starts_with('@')) {
            if k != "scope" {
                // INFERRED: only scope is updatable.
                return Err(bad_request(format!(
                    "Property '{k}' is read-only and cannot be set."
                )));
            }
        }
        match body.get("scope") {
            Some(Value::String(s)) => {
                self.grants[idx]
                    .body
                    .insert("scope".into(), Value::String(s.clone()));
                Ok(Out::empty(204))
            }
            None => Ok(Out::empty(204)),
            Some(_) => Err(bad_request(
                "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant'.",
            )),
        }
    }

    pub(super) fn delete_grant(&mut self, id: &str) -> GResult {
        let idx = self.grant_index(id)?;
        self.grants.remove(idx);
        Ok(Out::empty(204))
    }
}
