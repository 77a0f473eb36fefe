//! What would change, as data: printed by `plan`, confirmed and executed by `apply`/`destroy`.
//!
//! A plan never holds a secret value: a new client secret is shown as an action with its expiry.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

/// One field of an update: its value before and after, in the spec's vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// One change to one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// `microsoft` or `google`.
    pub provider: &'static str,
    /// `application`, `client_secret`, `service_principal`, `permission_grant`, …
    pub resource: &'static str,
    /// Stable address in the plan: `microsoft.application`, `microsoft.client_secret[<keyId>]`.
    pub address: String,
    pub action: Action,
    /// The cloud's id for the resource, when it exists.
    pub id: Option<String>,
    /// Why (for creates of secrets, deletes, replacements).
    pub reason: Option<String>,
    /// For creates: the values to be set; for updates: before/after of changed fields.
    pub fields: Vec<FieldChange>,
}

impl Change {
    pub fn new(provider: &'static str, resource: &'static str, action: Action) -> Self {
        Change {
            provider,
            resource,
            address: format!("{provider}.{resource}"),
            action,
            id: None,
            reason: None,
            fields: Vec::new(),
        }
    }
    pub fn address(mut self, address: String) -> Self {
        self.address = address;
        self
    }
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    pub fn field(mut self, field: &str, before: Value, after: Value) -> Self {
        self.fields.push(FieldChange {
            field: field.to_owned(),
            before,
            after,
        });
        self
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// The ordered changes for one spec and environment.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub name: String,
    pub env: String,
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn new(name: &str, env: &str) -> Self {
        Plan {
            format_version: 1,
            name: name.to_owned(),
            env: env.to_owned(),
            changes: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.destroy += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
            }
        }
        s
    }

    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("plans serialise");
        v["summary"] = serde_json::to_value(self.summary()).expect("summaries serialise");
        v
    }

    /// The human rendering, in the spirit of `terraform plan`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.changes.is_empty() {
            let _ = writeln!(
                out,
                "No changes. {} ({}) matches the spec.",
                self.name, self.env
            );
            return out;
        }
        for c in &self.changes {
            let _ = write!(out, "  {} {}", c.action.symbol(), c.address);
            if let Some(id) = &c.id {
                let _ = write!(out, " ({id})");
            }
            out.push('\n');
            if let Some(reason) = &c.reason {
                let _ = writeln!(out, "      # {reason}");
            }
            let width = c.fields.iter().map(|f| f.field.len()).max().unwrap_or(0);
            for f in &c.fields {
                match c.action {
                    Action::Update => {
                        let _ = writeln!(
                            out,
                            "      {:width$} {} -> {}",
                            f.field,
                            show(&f.before),
                            show(&f.after)
                        );
                    }
                    _ => {
                        let _ = writeln!(out, "      {:width$} {}", f.field, show(&f.after));
                    }
                }
            }
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "\nPlan: {} to add, {} to change, {} to destroy.",
            s.add, s.change, s.destroy
        );
        out
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_updates_and_summary() {
        let mut plan = Plan::new("app", "test");
        plan.changes.push(
            Change::new("microsoft", "application", Action::Update)
                .id("obj-1")
                .field("redirect_uris", json!(["https://a"]), json!(["https://b"])),
        );
        plan.changes.push(
            Change::new("microsoft", "client_secret", Action::Create)
                .reason("no secret value on record")
                .field("expires", Value::Null, json!("2027-05-27")),
        );
        assert_eq!(
            plan.render(),
            "  ~ microsoft.application (obj-1)\n      redirect_uris [\"https://a\"] -> [\"https://b\"]\n  + microsoft.client_secret\n      # no secret value on record\n      expires \"2027-05-27\"\n\nPlan: 1 to add, 1 to change, 0 to destroy.\n"
        );
        assert_eq!(
            plan.to_json()["summary"],
            json!({"add":1,"change":1,"destroy":0})
        );
        assert_eq!(
            Plan::new("app", "test").render(),
            "No changes. app (test) matches the spec.\n"
        );
    }
}
