//! The application shape and the validation Graph applies to application writes.

use super::*;

// Applications
// ---------------------------------------------------------------------------------------------

/// The full application shape (ref §1.1 plus the 2024 additions; keys after `requestSignatureVerification`
/// in this list, and `oauth2RequirePostResponse`, are INFERRED from the v1.0 resource doc).
pub(super) fn app_template() -> Map<String, Value> {
    let v = json!({
        "id": null,
        "deletedDateTime": null,
        "appId": null,
        "createdDateTime": null,
        "displayName": null,
        "identifierUris": [],
        "notes": null,
        "publisherDomain": null,
        "signInAudience": "AzureADMyOrg",
        "tags": [],
        "api": {
            "acceptMappedClaims": null,
            "knownClientApplications": [],
            "requestedAccessTokenVersion": null,
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": []
        },
        "passwordCredentials": [],
        "keyCredentials": [],
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "web": {
            "homePageUrl": null,
            "logoutUrl": null,
            "redirectUris": [],
            "implicitGrantSettings": {"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}
        },
        "spa": {"redirectUris": []}
    });
    let rest = json!({
        "uniqueName": null,
        "nativeAuthenticationApisEnabled": null,
        "servicePrincipalLockConfiguration": null,
        "requestSignatureVerification": null,
        "addIns": [],
        "appRoles": [],
        "applicationTemplateId": null,
        "certification": null,
        "defaultRedirectUri": null,
        "description": null,
        "disabledByMicrosoftStatus": null,
        "groupMembershipClaims": null,
        "info": {
            "logoUrl": null,
            "marketingUrl": null,
            "privacyStatementUrl": null,
            "supportUrl": null,
            "termsOfServiceUrl": null
        },
        "isDeviceOnlyAuthSupported": null,
        "isFallbackPublicClient": null,
        "oauth2RequirePostResponse": false,
        "optionalClaims": null,
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "samlMetadataUrl": null,
        "serviceManagementReference": null,
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

/// Top-level replace; objects merged one level deep; arrays replaced.
pub(super) fn merge_into(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        match (target.get_mut(&k), v) {
            (Some(Value::Object(cur)), Value::Object(new)) => {
                for (k2, v2) in new {
                    cur.insert(k2, v2);
                }
            }
            (_, v) => {
                target.insert(k, v);
            }
        }
    }
}

pub(super) fn json_object(req: &EmuRequest) -> Result<Map<String, Value>, GErr> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        // INFERRED text.
        return Err(GErr::new(
            400,
            "BadRequest",
            "Empty Payload. JSON content expected.",
        ));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(GErr::new(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

/// Checks the keys of a create/update body and drops `@odata.*` annotations and an empty
/// `passwordCredentials`.
pub(super) fn check_write_body(mut body: Map<String, Value>) -> Result<Map<String, Value>, GErr> {
    body.retain(|k, _| !k.starts_with('@'));
    let template = app_template();
    for k in body.keys() {
        if READ_ONLY_APP_PROPS.contains(&k.as_str()) {
            // INFERRED text.
            return Err(bad_request(format!(
                "Property '{k}' is read-only and cannot be set."
            )));
        }
        if !template.contains_key(k) {
            // INFERRED: OData's text for an unknown property.
            return Err(GErr::new(
                400,
                "BadRequest",
                format!(
                    "The property '{k}' does not exist on type 'microsoft.graph.application'. Make sure to only use property names that are defined by the type or mark the type as open type."
                ),
            ));
        }
    }
    if let Some(pc) = body.get("passwordCredentials") {
        if pc.as_array().is_some_and(Vec::is_empty) {
            body.remove("passwordCredentials");
        } else {
            // ref §1.1: "Adding passwordCredential when creating applications is not supported.
            // Use the addPassword method"; ref §1.4: PATCH can't set it either. Text INFERRED.
            return Err(bad_request(
                "Adding passwordCredentials when creating or updating applications is not supported. Use the addPassword method.",
            ));
        }
    }
    Ok(body)
}

/// Validation of a whole application (create, upsert and the result of a PATCH).
pub(super) fn validate_app(app: &Map<String, Value>) -> Result<(), GErr> {
    let display = app
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid_value("displayName", "displayName is required."))?;
    let aud = app
        .get("signInAudience")
        .and_then(Value::as_str)
        .filter(|a| AUDIENCES.contains(a))
        .ok_or_else(|| {
            invalid_value(
                "signInAudience",
                format!("signInAudience must be one of {}.", AUDIENCES.join(", ")),
            )
        })?;
    let personal = is_personal_audience(aud);

    // ref §1.3.
    let version = app
        .get("api")
        .and_then(|a| a.get("requestedAccessTokenVersion"))
        .unwrap_or(&Value::Null);
    let version_ok = match version {
        Value::Null => !personal,
        Value::Number(n) => match n.as_i64() {
            Some(2) => true,
            Some(1) => !personal,
            _ => false,
        },
        _ => false,
    };
    if !version_ok {
        return Err(GErr::new(
            400,
            "InvalidAccessTokenVersion",
            "One or more properties contains invalid values.",
        ));
    }

    // ref §1.1: 90 chars for personal audiences, 120 otherwise.
    let max_name = if personal { 90 } else { 120 };
    if display.chars().count() > max_name {
        return Err(invalid_value(
            "displayName",
            format!("displayName may hold at most {max_name} characters for signInAudience {aud}."),
        ));
    }
    if app
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(invalid_value(
            "description",
            "description may hold at most 1024 characters.",
        ));
    }

    // ref §1.1: tags 1–256 chars, no whitespace, no duplicates.
    match app.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            let mut seen = HashSet::new();
            for t in tags {
                let t = t
                    .as_str()
                    .ok_or_else(|| invalid_value("tags", "tags must be strings."))?;
                let n = t.chars().count();
                if n == 0 || n > 256 {
                    return Err(invalid_value(
                        "tags",
                        format!("tag '{t}' must be 1 to 256 characters long."),
                    ));
                }
                if t.chars().any(char::is_whitespace) {
                    return Err(invalid_value(
                        "tags",
                        format!("tag '{t}' must not contain whitespace."),
                    ));
                }
                if !seen.insert(t) {
                    return Err(invalid_value("tags", format!("tag '{t}' is duplicated.")));
                }
            }
        }
        Some(_) => return Err(invalid_value("tags", "tags must be an array of strings.")),
    }

    // ref §1.1 / reply-url doc: redirect URI rules.
    let mut uris: Vec<(String, String)> = Vec::new();
    for platform in ["web", "spa", "publicClient"] {
        let prop = format!("{platform}.redirectUris");
        match app.get(platform).and_then(|p| p.get("redirectUris")) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for u in list {
                    let u = u
                        .as_str()
                        .ok_or_else(|| invalid_value(&prop, "redirect URIs must be strings."))?;
                    uris.push((prop.clone(), u.to_string()));
                }
            }
            Some(_) => return Err(invalid_value(&prop, "redirectUris must be an array.")),
        }
    }
    let max_uris = if personal { 100 } else { 256 };
    if uris.len() > max_uris {
        return Err(invalid_value(
            "web.redirectUris",
            format!("at most {max_uris} redirect URIs are allowed."),
        ));
    }
    for (prop, u) in &uris {
        let parsed = url::Url::parse(u)
            .map_err(|_| invalid_value(prop, format!("'{u}' is not an absolute URI.")))?;
        if personal {
            if u.chars().count() > 256 {
                return Err(invalid_value(
                    prop,
                    format!("'{u}' is longer than 256 characters."),
                ));
            }
            if parsed.query().is_some() {
                return Err(invalid_value(
                    prop,
                    format!("'{u}' must not contain query parameters."),
                ));
            }
            if u.contains('*') {
                return Err(invalid_value(
                    prop,
                    format!("'{u}' must not contain wildcards."),
                ));
            }
            let local = matches!(parsed.host_str(), Some("localhost") | Some("127.0.0.1"));
            if parsed.scheme() == "http" && !local {
                return Err(invalid_value(
                    prop,
                    format!("'{u}': http:// is allowed only for localhost."),
                ));
            }
        }
    }

    match app.get("identifierUris") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for u in list {
                let u = u.as_str().ok_or_else(|| {
                    invalid_value("identifierUris", "identifierUris must be strings.")
                })?;
                // ref §1.2: at most 120 chars for AzureADandPersonalMicrosoftAccount.
                if personal && u.chars().count() > 120 {
                    return Err(invalid_value(
                        "identifierUris",
                        format!("'{u}' is longer than 120 characters."),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(invalid_value(
                "identifierUris",
                "identifierUris must be an array.",
            ));
        }
    }

    // ref §1.1: personal apps hold at most 30 permissions per resource and 200 in total.
    match app.get("requiredResourceAccess") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let prop = "requiredResourceAccess";
            let mut per_resource: HashMap<String, usize> = HashMap::new();
            let mut total = 0;
            for rra in list {
                let res = rra
                    .get("resourceAppId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid_value(prop, "resourceAppId is required."))?;
                let access = rra
                    .get("resourceAccess")
                    .and_then(Value::as_array)
                    .ok_or_else(|| invalid_value(prop, "resourceAccess must be an array."))?;
                for a in access {
                    let id_ok = a.get("id").and_then(Value::as_str).is_some_and(is_guid);
                    let type_ok = matches!(
                        a.get("type").and_then(Value::as_str),
                        Some("Scope") | Some("Role")
                    );
                    if !id_ok || !type_ok {
                        return Err(invalid_value(
                            prop,
                            "each resourceAccess needs a GUID id and type Scope or Role.",
                        ));
                    }
                }
                *per_resource.entry(res.to_ascii_lowercase()).or_default() += access.len();
                total += access.len();
            }
            if personal {
                if let Some((res, n)) = per_resource.iter().find(|(_, n)| **n > 30) {
                    return Err(invalid_value(
                        prop,
                        format!(
                            "{n} permissions requested for resource {res}; at most 30 per resource are allowed for signInAudience {aud}."
                        ),
                    ));
                }
                if total > 200 {
                    return Err(invalid_value(
                        prop,
                        format!(
                            "{total} permissions requested; at most 200 are allowed for signInAudience {aud}."
                        ),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(invalid_value(
                "requiredResourceAccess",
                "requiredResourceAccess must be an array.",
            ));
        }
    }
    Ok(())
}
