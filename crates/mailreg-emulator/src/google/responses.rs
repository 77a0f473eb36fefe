//! Wire shapes: client files, JSON views of resources, Google error bodies.

use super::*;

// ---------------------------------------------------------------------------------------------
// Client file rendering
// ---------------------------------------------------------------------------------------------

/// Renders a client file from [`GoogleState::create_oauth_client`] as the console downloads it:
/// one line, keys in the console's order (ref §4.1), without needing serde_json's
/// `preserve_order` feature.
pub fn client_file_text(file: &Value) -> String {
    pub(super) const ORDER: &[&str] = &[
        "client_id",
        "project_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_secret",
        "redirect_uris",
        "javascript_origins",
    ];
    let Some((kind, inner)) = file
        .as_object()
        .and_then(|o| o.iter().next())
        .and_then(|(k, v)| v.as_object().map(|m| (k, m)))
    else {
        return file.to_string();
    };
    let mut parts: Vec<String> = ORDER
        .iter()
        .filter_map(|k| inner.get(*k).map(|v| format!("{}:{v}", json!(k))))
        .collect();
    parts.extend(
        inner
            .iter()
            .filter(|(k, _)| !ORDER.contains(&k.as_str()))
            .map(|(k, v)| format!("{}:{v}", json!(k))),
    );
    format!("{{{}:{{{}}}}}", json!(kind), parts.join(","))
}

/// Console rules for a Web client's redirect URI (inferred): absolute http(s) URL, `http` only
/// for loopback hosts, no fragment, no wildcard. Returns its origin.
pub(super) fn redirect_origin(uri: &str) -> Result<String, String> {
    let url = url::Url::parse(uri).map_err(|e| format!("Invalid redirect URI '{uri}': {e}."))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(format!(
                "Invalid redirect URI '{uri}': must use https (http is only allowed for localhost)."
            ));
        }
    }
    if url.fragment().is_some() || uri.contains('*') {
        return Err(format!(
            "Invalid redirect URI '{uri}': must not contain a fragment or a wildcard."
        ));
    }
    Ok(url.origin().ascii_serialization())
}

// ---------------------------------------------------------------------------------------------
// JSON views
// ---------------------------------------------------------------------------------------------

pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A project as `projects.get` shows it (discovery `Project`; empty fields omitted).
pub(super) fn project_json(p: &Project) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(format!("projects/{}", p.number)));
    if let Some(parent) = &p.parent {
        m.insert("parent".into(), json!(parent));
    }
    m.insert("projectId".into(), json!(p.project_id));
    m.insert("state".into(), json!(p.state.as_str()));
    if let Some(d) = &p.display_name {
        m.insert("displayName".into(), json!(d));
    }
    m.insert("createTime".into(), json!(rfc3339(p.create_time)));
    m.insert("updateTime".into(), json!(rfc3339(p.update_time)));
    if let Some(d) = p.delete_time {
        m.insert("deleteTime".into(), json!(rfc3339(d)));
    }
    m.insert("etag".into(), json!(p.etag));
    if !p.labels.is_empty() {
        m.insert("labels".into(), Value::Object(p.labels.clone()));
    }
    Value::Object(m)
}

/// `GoogleApiServiceusageV1Service`, named by project number (ref §2).
pub(super) fn service_json(number: u64, svc: &str, enabled: bool) -> Value {
    let title = SERVICE_CATALOG
        .iter()
        .find(|(n, _)| *n == svc)
        .map_or(svc, |(_, t)| *t);
    json!({
        "name": format!("projects/{number}/services/{svc}"),
        "parent": format!("projects/{number}"),
        "state": if enabled { "ENABLED" } else { "DISABLED" },
        "config": {"name": svc, "title": title},
    })
}

/// Operation (discovery): `done` omitted while running (ref §1).
pub(super) fn operation_json(
    name: &str,
    metadata: Option<&Value>,
    result: Option<(&str, Value)>,
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if result.is_some() {
        m.insert("done".into(), json!(true));
    }
    if let Some(md) = metadata {
        m.insert("metadata".into(), md.clone());
    }
    if let Some((key, value)) = result {
        m.insert(key.into(), value);
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Google error body (ref §1): `{"error":{"code","message","status","details"?}}`.
pub(super) fn google_error(
    http: u16,
    status: &str,
    message: &str,
    details: Vec<Value>,
) -> EmuResponse {
    let mut error = json!({"code": http, "message": message, "status": status});
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    EmuResponse::json(http, &json!({ "error": error }))
}

pub(super) fn unauthenticated() -> EmuResponse {
    google_error(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE, vec![]).with_header(
        "www-authenticate",
        "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
    )
}

pub(super) fn unknown_path(req: &EmuRequest) -> EmuResponse {
    // Real Google answers an HTML 404 here; the JSON body is the brief's choice (inferred).
    google_error(
        404,
        "NOT_FOUND",
        &format!(
            "The requested URL {} was not found on this server.",
            req.path
        ),
        vec![],
    )
}

/// 400 INVALID_ARGUMENT with a `BadRequest` field violation (shape per ref §1 details; inferred).
pub(super) fn invalid_argument(field: &str, description: &str) -> EmuResponse {
    google_error(
        400,
        "INVALID_ARGUMENT",
        description,
        vec![json!({
            "@type": T_BAD_REQUEST,
            "fieldViolations": [{"field": field, "description": description}],
        })],
    )
}

pub(super) fn unknown_field(key: &str, message: &str) -> EmuResponse {
    let text = format!(
        "Invalid JSON payload received. Unknown name \"{key}\" at '{message}': Cannot find field."
    );
    google_error(
        400,
        "INVALID_ARGUMENT",
        &text,
        vec![
            json!({"@type": T_BAD_REQUEST, "fieldViolations": [{"field": message, "description": text}]}),
        ],
    )
}

pub(super) fn service_disabled(number: u64, svc: &str) -> EmuResponse {
    let title = SERVICE_CATALOG
        .iter()
        .find(|(n, _)| *n == svc)
        .map_or(svc, |(_, t)| *t);
    let url =
        format!("https://console.developers.google.com/apis/api/{svc}/overview?project={number}");
    google_error(
        403,
        "PERMISSION_DENIED",
        &format!(
            "{title} has not been used in project {number} before or it is disabled. Enable it by visiting {url} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
        ),
        vec![
            json!({
                "@type": T_ERROR_INFO,
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {"service": svc, "consumer": format!("projects/{number}"), "activationUrl": url},
            }),
            json!({"@type": T_HELP, "links": [{"description": "Google developers console API activation", "url": url}]}),
        ],
    )
}

pub(super) fn known_service(svc: &str) -> Result<(), EmuResponse> {
    if SERVICE_CATALOG.iter().any(|(n, _)| *n == svc) {
        return Ok(());
    }
    Err(google_error(
        403,
        "PERMISSION_DENIED",
        &format!("Not found or permission denied for service(s): {svc}."),
        vec![json!({
            "@type": T_ERROR_INFO,
            "reason": "SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED",
            "domain": "serviceusage.googleapis.com",
            "metadata": {"services": svc},
        })],
    ))
}

pub(super) fn oauth_error(status: u16, error: &str, description: &str) -> EmuResponse {
    no_store(EmuResponse::json(
        status,
        &json!({"error": error, "error_description": description}),
    ))
}

pub(super) fn no_store(resp: EmuResponse) -> EmuResponse {
    resp.with_header(
        "cache-control",
        "no-cache, no-store, max-age=0, must-revalidate",
    )
    .with_header("pragma", "no-cache")
}

pub(super) fn text(status: u16, content_type: &str, body: &str) -> EmuResponse {
    EmuResponse {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.as_bytes().to_vec(),
    }
}

pub(super) fn metadata_text(status: u16, body: &str) -> EmuResponse {
    text(status, "application/text", body).with_header("metadata-flavor", "Google")
}
