//! The application resource: desired state from the spec, diff against Graph, request bodies.
//!
//! mailreg owns these fields of its registration and reverts drift in them: display name,
//! redirect URIs (web platform), delegated Graph permissions, tags, notes, and the access-token
//! version for personal-account audiences. `signInAudience` cannot be PATCHed reliably
//! (reference §4.1), so a change of it is a replacement.

use serde_json::{Value, json};

use super::graph::{Application, RequiredResourceAccess, ResourceAccess};
use super::permissions::{GRAPH_APP_ID, known_name};
use super::roles::EXCHANGE_APP_ID;
use crate::plan::{Action, Change};
use crate::spec::{Access, Audience, MicrosoftSpec};

pub const TAG_MANAGED: &str = "mailreg:managed";
/// Expiry mark set by `apply --ttl`: `mailreg:expires=<RFC 3339>`.
pub const TAG_EXPIRES: &str = "mailreg:expires=";

/// The expiry an application carries, if any.
pub fn expiry(app: &Application) -> Option<time::OffsetDateTime> {
    app.tags
        .iter()
        .find_map(|t| crate::clock::parse_rfc3339(t.strip_prefix(TAG_EXPIRES)?))
}

/// mailreg's marks on an application. `mailreg:id=<name>.<env>` is the lookup key; name and env
/// are separate tags so `gc` can filter by environment.
pub fn mailreg_tags(name: &str, env: &str) -> Vec<String> {
    vec![
        TAG_MANAGED.to_owned(),
        id_tag(name, env),
        format!("mailreg:name={name}"),
        format!("mailreg:env={env}"),
    ]
}

pub fn id_tag(name: &str, env: &str) -> String {
    format!("mailreg:id={name}.{env}")
}

/// Graph alternate key for the keyed upsert. Names and envs contain no dots: unambiguous.
pub fn unique_name(name: &str, env: &str) -> String {
    format!("mailreg.{name}.{env}")
}

/// Whether an application carries all of mailreg's marks for this name and environment.
pub fn is_ours(app: &Application, name: &str, env: &str) -> bool {
    mailreg_tags(name, env).iter().all(|t| app.tags.contains(t))
}

#[derive(Clone, Debug)]
pub struct DesiredApp {
    pub display_name: String,
    pub audience: Audience,
    pub redirect_uris: Vec<String>,
    /// (name, id) of each permission, in spec order: delegated Graph permissions, or with app
    /// access Exchange Online's application permissions.
    pub permissions: Vec<(String, String)>,
    /// The permissions' resource (Graph or Exchange Online) and kind (`Scope`: delegated,
    /// `Role`: application).
    pub resource: &'static str,
    pub kind: &'static str,
    pub tags: Vec<String>,
    pub notes: String,
}

impl DesiredApp {
    /// `expires` is the full expiry tag to carry (kept from the app, or new from `--ttl`).
    pub fn new(
        spec: &MicrosoftSpec,
        name: &str,
        env: &str,
        permissions: Vec<(String, String)>,
        expires: Option<String>,
    ) -> Self {
        let mut tags = mailreg_tags(name, env);
        tags.extend(spec.tags.iter().cloned());
        tags.extend(expires);
        let (resource, kind) = match spec.access {
            Access::Delegated => (GRAPH_APP_ID, "Scope"),
            Access::App => (EXCHANGE_APP_ID, "Role"),
        };
        DesiredApp {
            resource,
            kind,
            display_name: spec.display_name(name, env),
            audience: spec.audience,
            redirect_uris: spec.redirect_uris.clone(),
            permissions,
            tags,
            notes: spec.notes.clone().unwrap_or_else(|| {
                format!("Managed by mailreg ({name}, environment {env}). Changes made elsewhere are reverted by `mailreg apply`.")
            }),
        }
    }

    fn required_resource_access(&self) -> Value {
        json!([{
            "resourceAppId": self.resource,
            "resourceAccess": self.permissions.iter()
                .map(|(_, id)| json!({"id": id, "type": self.kind}))
                .collect::<Vec<_>>(),
        }])
    }

    /// The full body of the create (upsert) request, in one request (issue #2).
    pub fn create_body(&self) -> Value {
        let mut body = json!({
            "displayName": self.display_name,
            "signInAudience": self.audience.as_str(),
            "web": {"redirectUris": self.redirect_uris},
            "requiredResourceAccess": self.required_resource_access(),
            "tags": self.tags,
            "notes": self.notes,
        });
        if self.audience.is_personal() {
            body["api"] = json!({"requestedAccessTokenVersion": 2});
        }
        body
    }

    /// The values shown for a create in the plan.
    pub fn create_change(&self) -> Change {
        Change::new("microsoft", "application", Action::Create)
            .field("display_name", Value::Null, json!(self.display_name))
            .field("audience", Value::Null, json!(self.audience.as_str()))
            .field("redirect_uris", Value::Null, json!(self.redirect_uris))
            .field("permissions", Value::Null, json!(self.permission_names()))
            .field("tags", Value::Null, json!(self.tags))
    }

    fn permission_names(&self) -> Vec<&str> {
        self.permissions.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// The result of comparing an application with the spec.
pub struct AppDiff {
    /// Set when the app cannot be converged in place.
    pub replace: Option<String>,
    /// The PATCH body: only the changed fields.
    pub patch: serde_json::Map<String, Value>,
    pub change: Option<Change>,
}

/// Names of the permissions an app holds on Graph, by id (unknown ids shown as ids).
fn observed_permission_names(
    app: &Application,
    resource: &str,
    resolved: &[(String, String)],
) -> Vec<String> {
    observed_access(&app.required_resource_access, resource)
        .iter()
        .map(|a| {
            resolved
                .iter()
                .find(|(_, id)| id.eq_ignore_ascii_case(&a.id))
                .map(|(n, _)| n.clone())
                .or_else(|| known_name(&a.id).map(str::to_owned))
                .unwrap_or_else(|| format!("{} ({})", a.id, a.kind))
        })
        .collect()
}

fn observed_access(rra: &[RequiredResourceAccess], resource: &str) -> Vec<ResourceAccess> {
    rra.iter()
        .filter(|r| r.resource_app_id.eq_ignore_ascii_case(resource))
        .flat_map(|r| r.resource_access.iter().cloned())
        .collect()
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

pub fn diff(desired: &DesiredApp, app: &Application) -> AppDiff {
    let observed_audience = app.sign_in_audience.clone().unwrap_or_default();
    if observed_audience != desired.audience.as_str() {
        let change = Change::new("microsoft", "application", Action::Replace)
            .id(app.id.clone())
            .reason("signInAudience cannot be changed in place: the registration must be replaced (new client ID and secret); run `mailreg apply --replace`")
            .field("audience", json!(observed_audience), json!(desired.audience.as_str()));
        return AppDiff {
            replace: Some("audience".into()),
            patch: Default::default(),
            change: Some(change),
        };
    }
    let mut patch = serde_json::Map::new();
    let mut change = Change::new("microsoft", "application", Action::Update).id(app.id.clone());
    let observed_name = app.display_name.clone().unwrap_or_default();
    if observed_name != desired.display_name {
        patch.insert("displayName".into(), json!(desired.display_name));
        change = change.field(
            "display_name",
            json!(observed_name),
            json!(desired.display_name),
        );
    }
    let observed_uris = app
        .web
        .as_ref()
        .map(|w| w.redirect_uris.clone())
        .unwrap_or_default();
    if sorted(&observed_uris) != sorted(&desired.redirect_uris) {
        patch.insert("web".into(), json!({"redirectUris": desired.redirect_uris}));
        change = change.field(
            "redirect_uris",
            json!(observed_uris),
            json!(desired.redirect_uris),
        );
    }
    let want: Vec<ResourceAccess> = desired
        .permissions
        .iter()
        .map(|(_, id)| ResourceAccess {
            id: id.to_ascii_lowercase(),
            kind: desired.kind.into(),
        })
        .collect();
    let have: Vec<ResourceAccess> =
        observed_access(&app.required_resource_access, desired.resource)
            .into_iter()
            .map(|a| ResourceAccess {
                id: a.id.to_ascii_lowercase(),
                kind: a.kind,
            })
            .collect();
    let foreign_resources = app
        .required_resource_access
        .iter()
        .any(|r| !r.resource_app_id.eq_ignore_ascii_case(desired.resource));
    if sorted(&want) != sorted(&have) || foreign_resources {
        patch.insert(
            "requiredResourceAccess".into(),
            desired.required_resource_access(),
        );
        change = change.field(
            "permissions",
            json!(observed_permission_names(
                app,
                desired.resource,
                &desired.permissions
            )),
            json!(desired.permission_names()),
        );
    }
    if sorted(&app.tags) != sorted(&desired.tags) {
        patch.insert("tags".into(), json!(desired.tags));
        change = change.field("tags", json!(app.tags), json!(desired.tags));
    }
    let observed_notes = app.notes.clone().unwrap_or_default();
    if observed_notes != desired.notes {
        patch.insert("notes".into(), json!(desired.notes));
        change = change.field("notes", json!(observed_notes), json!(desired.notes));
    }
    if desired.audience.is_personal() {
        let version = app
            .api
            .as_ref()
            .and_then(|a| a.requested_access_token_version);
        if version != Some(2) {
            patch.insert("api".into(), json!({"requestedAccessTokenVersion": 2}));
            change = change.field("access_token_version", json!(version), json!(2));
        }
    }
    AppDiff {
        replace: None,
        change: (!patch.is_empty()).then_some(change),
        patch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::microsoft::graph::WebApplication;

    fn desired() -> DesiredApp {
        DesiredApp {
            display_name: "n".into(),
            audience: Audience::AzureADandPersonalMicrosoftAccount,
            redirect_uris: vec!["https://a/cb".into()],
            permissions: vec![(
                "IMAP.AccessAsUser.All".into(),
                "652390e4-393a-48de-9484-05f9b1212954".into(),
            )],
            tags: mailreg_tags("x", "test"),
            notes: "notes".into(),
            resource: GRAPH_APP_ID,
            kind: "Scope",
        }
    }

    fn app_from(d: &DesiredApp) -> Application {
        let mut v = d.create_body();
        v["id"] = json!("obj");
        v["appId"] = json!("client");
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_app_made_from_the_spec_has_no_diff() {
        let d = desired();
        let diff = diff(&d, &app_from(&d));
        assert!(diff.change.is_none() && diff.patch.is_empty() && diff.replace.is_none());
    }

    #[test]
    fn drift_becomes_a_patch_of_just_those_fields() {
        let d = desired();
        let mut app = app_from(&d);
        app.web = Some(WebApplication {
            redirect_uris: vec!["https://evil/cb".into()],
        });
        app.tags.retain(|t| t != "mailreg:env=test");
        let diff = diff(&d, &app);
        assert_eq!(
            serde_json::Value::Object(diff.patch),
            json!({"web": {"redirectUris": ["https://a/cb"]}, "tags": d.tags})
        );
        let fields: Vec<_> = diff
            .change
            .unwrap()
            .fields
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(fields, ["redirect_uris", "tags"]);
    }

    #[test]
    fn audience_change_is_a_replacement() {
        let d = desired();
        let mut app = app_from(&d);
        app.sign_in_audience = Some("AzureADMyOrg".into());
        let diff = diff(&d, &app);
        assert_eq!(diff.replace.as_deref(), Some("audience"));
        assert_eq!(diff.change.unwrap().action, Action::Replace);
    }
}
