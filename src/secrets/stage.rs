//! The `[[secret]]` entries of a spec as one stage of a run: plan (read every store, check
//! access where a write is planned), apply (write what differs, after the credentials exist),
//! destroy (delete only what carries mailreg's marks). The plan is a value ([`StorePlan`])
//! that apply carries out, so nothing is hidden between the two.

use std::sync::Arc;

use serde_json::{Value, json};

use super::keyvault::KeyVaultSink;
use super::secretmanager::SecretManagerSink;
use super::vault::VaultSink;
use super::{Observed, Payload, Sink};
use crate::credentials::Record;
use crate::engine::Progress;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::plan::{Action, Change};
use crate::spec::secret::SecretSpec;
use crate::spec::{Cloud, Provider, Spec};

/// Shown for a value that only exists once apply has made it.
const AFTER_APPLY: &str = "(known after apply)";

struct Entry {
    index: usize,
    spec: SecretSpec,
    sink: Box<dyn Sink>,
}

/// The stores of a spec, with their clients (no request is sent until [`Stores::plan`]).
pub struct Stores {
    entries: Vec<Entry>,
    spec: Spec,
    /// A destination that could not be set up (no Vault address, no Azure tenant, …):
    /// reported by the commands that use the stores, not by those that do not (status, gc).
    broken: Option<Error>,
}

/// What plan read at each store, and decided.
#[derive(Default)]
pub struct StorePlan {
    observed: Vec<Observed>,
    /// Per entry: the write/delete was checked during plan.
    prepared: Vec<bool>,
    pub changes: Vec<Change>,
}

impl Stores {
    pub fn new(spec: &Spec, http: &Http) -> Stores {
        match Self::build(spec, http) {
            Ok(stores) => stores,
            Err(e) => Stores {
                entries: Vec::new(),
                spec: spec.clone(),
                broken: Some(e),
            },
        }
    }

    fn build(spec: &Spec, http: &Http) -> Result<Stores> {
        let mut entries = Vec::new();
        let mut azure = None;
        let mut google = None;
        let (name, env) = (spec.name.as_str(), spec.env.as_str());
        for (index, s) in spec.secrets.iter().enumerate() {
            let at = |e: Error| locate(spec, index, e);
            let sink: Box<dyn Sink> = if let Some(v) = &s.vault {
                Box::new(VaultSink::new(v, http, name, env).map_err(at)?)
            } else if let Some(k) = &s.key_vault {
                if azure.is_none() {
                    azure = Some(azure_auth(spec, http).map_err(at)?);
                }
                let auth = azure.clone().expect("set above");
                Box::new(KeyVaultSink::new(k, http, auth, name, env).map_err(at)?)
            } else if let Some(m) = &s.secret_manager {
                if google.is_none() {
                    google = Some(Arc::new(
                        crate::google::auth::GoogleAuth::from_env().map_err(at)?,
                    ));
                }
                let auth = google.clone().expect("set above");
                Box::new(SecretManagerSink::new(m, http, auth, spec).map_err(at)?)
            } else {
                continue;
            };
            entries.push(Entry {
                index,
                spec: s.clone(),
                sink,
            });
        }
        Ok(Stores {
            entries,
            spec: spec.clone(),
            broken: None,
        })
    }

    fn usable(&self) -> Result<()> {
        match &self.broken {
            Some(e) => {
                let mut copy = Error::new(e.kind, e.message.clone());
                copy.hint = e.hint.clone();
                copy.code = e.code.clone();
                copy.status = e.status;
                Err(copy)
            }
            None => Ok(()),
        }
    }

    fn at(&self, e: &Entry, err: Error) -> Error {
        let err = err.context(format!("{} {}", e.sink.kind(), e.sink.target()));
        locate(&self.spec, e.index, err)
    }

    /// Reads every store (one request each) and plans the writes that bring them to the
    /// credentials. `changing`: providers whose client secret changes in this run (a create, a
    /// replacement, a rotation): their stores get the new value after apply.
    pub async fn plan(&self, record: &Record, changing: &[Provider]) -> Result<StorePlan> {
        self.usable()?;
        let results = futures::future::join_all(self.entries.iter().map(|e| async move {
            let desired = Payload::from_record(record, &e.spec);
            let changes = changing.contains(&e.spec.provider);
            if desired.is_none() && !changes {
                // Nothing to deliver yet (a Google client not imported): nothing to read. The
                // store may not even exist yet (a secret in the project this run creates).
                return Ok((Observed::default(), false, None));
            }
            let mut obs = e.sink.read().await?;
            let differs = desired
                .as_ref()
                .is_some_and(|d| obs.value.as_ref() != Some(d));
            if !differs && !changes {
                return Ok((obs, false, None));
            }
            self.check_ours(e, &obs)?;
            e.sink.prepare(&mut obs, false).await?;
            self.check_ours(e, &obs)?;
            let change = change_for(e, &obs, desired.as_ref(), changes);
            Ok((obs, true, Some(change)))
        }))
        .await;
        self.collect(results)
    }

    fn collect(&self, results: Vec<Result<(Observed, bool, Option<Change>)>>) -> Result<StorePlan> {
        let mut plan = StorePlan::default();
        for (e, r) in self.entries.iter().zip(results) {
            let (obs, prepared, change) = r.map_err(|err| self.at(e, err))?;
            plan.observed.push(obs);
            plan.prepared.push(prepared);
            plan.changes.extend(change);
        }
        Ok(plan)
    }

    /// Refuses an item that exists without mailreg's marks.
    fn check_ours(&self, e: &Entry, obs: &Observed) -> Result<()> {
        if obs.exists && obs.ours == Some(false) {
            return Err(Error::refused(format!(
                "it exists without mailreg's marks ({}); mailreg will not overwrite it",
                e.sink.marks()
            ))
            .with_hint("delete it, point this [[secret]] entry elsewhere, or add the marks to hand it over to mailreg"));
        }
        Ok(())
    }

    /// Writes the current credentials to every store whose value differs from what plan read.
    /// Returns how many stores were written.
    pub async fn apply(
        &self,
        plan: &StorePlan,
        record: &Record,
        progress: &Progress,
    ) -> Result<usize> {
        let results =
            futures::future::join_all(self.entries.iter().enumerate().map(|(i, e)| async move {
                let Some(desired) = Payload::from_record(record, &e.spec) else {
                    return Ok(false);
                };
                let mut obs = plan.observed.get(i).cloned().unwrap_or_default();
                if obs.value.as_ref() == Some(&desired) {
                    return Ok(false);
                }
                if !plan.prepared.get(i).copied().unwrap_or(false) {
                    self.check_ours(e, &obs)?;
                    e.sink.prepare(&mut obs, false).await?;
                    self.check_ours(e, &obs)?;
                }
                progress.step(
                    "secrets",
                    format!("writing {} {}", e.sink.kind(), e.sink.target()),
                );
                e.sink.write(&obs, &desired).await?;
                Ok(true)
            }))
            .await;
        let mut written = 0;
        for (e, r) in self.entries.iter().zip(results) {
            written += usize::from(r.map_err(|err| self.at(e, err))?);
        }
        Ok(written)
    }

    /// Reads every store and plans deleting what carries mailreg's marks; anything else is
    /// left alone (and said so at `-v`).
    pub async fn plan_destroy(&self) -> Result<StorePlan> {
        self.usable()?;
        let results = futures::future::join_all(self.entries.iter().map(|e| async move {
            let mut obs = e.sink.read().await?;
            if !obs.exists && obs.soft_deleted.is_none() {
                return Ok((obs, false, None));
            }
            if !obs.exists {
                // Only a soft-deleted Key Vault secret: nothing live to delete.
                return Ok((obs, false, None));
            }
            e.sink.prepare(&mut obs, true).await?;
            if obs.ours != Some(true) {
                tracing::info!(target: "mailreg::secrets", "{} {}: not mailreg's ({}), left alone", e.sink.kind(), e.sink.target(), e.sink.marks());
                return Ok((obs, false, None));
            }
            let change = Change::new("secret", e.sink.kind(), Action::Delete)
                .address(format!("secret[{}].{}", e.index, e.sink.kind()))
                .id(e.sink.target());
            Ok((obs, true, Some(change)))
        }))
        .await;
        self.collect(results)
    }

    /// Deletes what [`Stores::plan_destroy`] found to be mailreg's.
    pub async fn destroy(&self, plan: &StorePlan, purge: bool, progress: &Progress) -> Result<()> {
        let results =
            futures::future::join_all(self.entries.iter().enumerate().map(|(i, e)| async move {
                if !plan.prepared.get(i).copied().unwrap_or(false) {
                    return Ok(());
                }
                progress.step(
                    "secrets",
                    format!("deleting {} {}", e.sink.kind(), e.sink.target()),
                );
                e.sink.delete(&plan.observed[i], purge).await
            }))
            .await;
        for (e, r) in self.entries.iter().zip(results) {
            r.map_err(|err| self.at(e, err))?;
        }
        Ok(())
    }
}

/// `file:line:col: secret[i]: …` for an error about one entry.
fn locate(spec: &Spec, index: usize, e: Error) -> Error {
    let field = format!("secret[{index}]");
    let at = match spec.locator.locate(&field) {
        Some((l, c)) => format!("{}:{l}:{c}", spec.file.display()),
        None => spec.file.display().to_string(),
    };
    e.context(format!("{at}: {field}"))
}

/// The Azure credential for Key Vault: the chain that signs in to Graph, in the spec's
/// directory (or `AZURE_TENANT_ID` when the spec has no `[microsoft]`).
fn azure_auth(spec: &Spec, http: &Http) -> Result<crate::microsoft::auth::GraphAuth> {
    let cloud = spec.microsoft.as_ref().map_or(Cloud::Global, |m| m.cloud);
    let tenant = match &spec.microsoft {
        Some(m) => m.tenant.clone(),
        None => std::env::var("AZURE_TENANT_ID")
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::bad_input("Key Vault needs a directory to sign in to").with_hint(
                    "set AZURE_TENANT_ID, or add a [microsoft] section (its tenant is used)",
                )
            })?,
    };
    let endpoints = crate::microsoft::cloud::Endpoints::for_cloud(cloud)?;
    crate::microsoft::auth::GraphAuth::from_env(http, &endpoints, &tenant)
}

/// The plan's line for a planned write: the fields that change, the secret masked.
fn change_for(e: &Entry, obs: &Observed, desired: Option<&Payload>, changes: bool) -> Change {
    let action = if obs.exists {
        Action::Update
    } else {
        Action::Create
    };
    let mut c = Change::new("secret", e.sink.kind(), action)
        .address(format!("secret[{}].{}", e.index, e.sink.kind()))
        .id(e.sink.target());
    if obs.soft_deleted == Some(true) {
        c = c.reason("recovers mailreg's soft-deleted secret of that name");
    } else if obs.enable_api {
        c = c.reason("enables the Secret Manager API in mailreg's project first");
    } else if changes {
        c = c.reason(format!(
            "the {} client secret changes in this run",
            e.spec.provider.as_str()
        ));
    } else if obs.exists {
        c = c.reason("the stored value differs from the credentials (changed outside mailreg?)");
    }
    let empty = Payload::default();
    let (after, before) = (
        desired.unwrap_or(&empty),
        obs.value.as_ref().unwrap_or(&empty),
    );
    let (after_shown, before_shown) = (after.masked(), before.masked());
    let mut keys: Vec<&String> = after.0.keys().chain(before.0.keys()).collect();
    keys.sort();
    keys.dedup();
    let secret = super::payload::SECRET_FIELD;
    for k in keys {
        // Compared on the real values, shown masked.
        let differs = after.0.get(k) != before.0.get(k);
        let shown = |m: &std::collections::BTreeMap<String, String>| {
            m.get(k).map_or(Value::Null, |v| json!(v))
        };
        let a = if changes && k == secret {
            json!(AFTER_APPLY)
        } else {
            shown(&after_shown)
        };
        if action == Action::Create || differs || (changes && k == secret) {
            c = c.field(k, shown(&before_shown), a);
        }
    }
    if desired.is_none() && c.fields.iter().all(|f| f.field != secret) {
        c = c.field(secret, Value::Null, json!(AFTER_APPLY));
    }
    c
}

/// Providers whose client secret changes when `changes` are applied: a new secret, a new
/// registration, a replacement.
pub fn changing(changes: &[Change]) -> Vec<Provider> {
    let mut out = Vec::new();
    for c in changes {
        let new_secret = (c.resource == "client_secret" && c.action == Action::Create)
            || (c.resource == "application"
                && matches!(c.action, Action::Create | Action::Replace));
        let p = match c.provider {
            "microsoft" => Provider::Microsoft,
            "google" => Provider::Google,
            _ => continue,
        };
        if new_secret && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}
