//! Validation of project fields (discovery `Project` rules).

use super::*;

// Validation (discovery `Project` field rules, ref §1)
// ---------------------------------------------------------------------------------------------

pub(super) fn json_object(req: &EmuRequest) -> Result<Map<String, Value>, EmuResponse> {
    match req.json() {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(google_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received. Expected an object.",
            vec![],
        )),
    }
}

pub(super) fn check_known_fields(
    body: &Map<String, Value>,
    message: &str,
) -> Result<(), EmuResponse> {
    pub(super) const PROJECT_FIELDS: &[&str] = &[
        "name",
        "parent",
        "projectId",
        "state",
        "displayName",
        "createTime",
        "updateTime",
        "deleteTime",
        "etag",
        "labels",
        "tags",
        "configuredCapabilities",
    ];
    match body.keys().find(|k| !PROJECT_FIELDS.contains(&k.as_str())) {
        Some(k) => Err(unknown_field(k, message)),
        None => Ok(()),
    }
}

/// `^[a-z][a-z0-9-]{4,28}[a-z0-9]$` (ref §1).
pub(super) fn valid_project_id(id: &str) -> bool {
    let b = id.as_bytes();
    (6..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

pub(super) fn validate_project_id(id: &str) -> Result<(), EmuResponse> {
    if valid_project_id(id) {
        return Ok(());
    }
    // Wording inferred from the discovery field description.
    Err(invalid_argument(
        "project.project_id",
        &format!(
            "Project ID '{id}' is invalid: it must be 6 to 30 lowercase ASCII letters, digits, or hyphens, start with a letter, and trailing hyphens are prohibited."
        ),
    ))
}

pub(super) fn validate_display_name(v: Option<&Value>) -> Result<Option<String>, EmuResponse> {
    let name = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(invalid_argument(
                "project.display_name",
                "Display name must be a string.",
            ));
        }
    };
    let len = name.chars().count();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '\'' | '"' | ' ' | '!'));
    if !(4..=30).contains(&len) || !chars_ok {
        return Err(invalid_argument(
            "project.display_name",
            &format!(
                "Display name '{name}' is invalid: it must be between 4 and 30 characters; allowed characters are letters, numbers, hyphen, single-quote, double-quote, space, and exclamation point."
            ),
        ));
    }
    Ok(Some(name.clone()))
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`
pub(super) fn label_token_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

pub(super) fn validate_labels(v: Option<&Value>) -> Result<Map<String, Value>, EmuResponse> {
    let labels = match v {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(invalid_argument(
                "project.labels",
                "Labels must be a map of strings.",
            ));
        }
    };
    if labels.len() > 64 {
        return Err(invalid_argument(
            "project.labels",
            "No more than 64 labels can be associated with a given resource.",
        ));
    }
    for (key, value) in labels {
        if key.len() > 63 || !label_token_ok(key) {
            return Err(invalid_argument(
                "project.labels",
                &format!(
                    "Label key '{key}' is invalid: keys must be 1 to 63 characters and match [a-z]([-a-z0-9]*[a-z0-9])?."
                ),
            ));
        }
        let ok = value
            .as_str()
            .is_some_and(|s| s.len() <= 63 && (s.is_empty() || label_token_ok(s)));
        if !ok {
            return Err(invalid_argument(
                "project.labels",
                &format!(
                    "Label value {value} of key '{key}' is invalid: values must be 0 to 63 characters and match ([a-z]([-a-z0-9]*[a-z0-9])?)?."
                ),
            ));
        }
    }
    Ok(labels.clone())
}

pub(super) fn validate_parent(v: Option<&Value>) -> Result<Option<String>, EmuResponse> {
    let parent = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(invalid_argument(
                "project.parent",
                "Parent must be a string.",
            ));
        }
    };
    let id = parent
        .strip_prefix("folders/")
        .or_else(|| parent.strip_prefix("organizations/"));
    match id {
        Some(n) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
            Ok(Some(parent.clone()))
        }
        _ => Err(invalid_argument(
            "project.parent",
            &format!(
                "Parent '{parent}' is invalid: it must be 'folders/{{folder_id}}' or 'organizations/{{organization_id}}'."
            ),
        )),
    }
}
