//! Optional tenant-wide admin consent: a service principal for the app and one delegated
//! permission grant on Microsoft Graph (reference §1.8–1.10). Only read when the spec asks for
//! it, so the default no-op apply stays at one read.

use serde_json::json;

use super::graph::{Grant, Graph, ServicePrincipal};
use crate::error::Result;
use crate::plan::{Action, Change};

#[derive(Clone, Debug, Default)]
pub struct ConsentState {
    pub sp: Option<ServicePrincipal>,
    pub grant: Option<Grant>,
}

/// Reads the app's service principal and its grant on Graph.
pub async fn observe(graph: &Graph, app_id: &str, graph_sp_id: &str) -> Result<ConsentState> {
    let Some(sp) = graph.service_principal_of(app_id).await? else {
        return Ok(ConsentState::default());
    };
    let grant = graph.grants_of(&sp.id).await?.into_iter().find(|g| {
        g.resource_id == graph_sp_id && g.consent_type.as_deref() == Some("AllPrincipals")
    });
    Ok(ConsentState {
        sp: Some(sp),
        grant,
    })
}

fn normalise(scope: &str) -> Vec<&str> {
    let mut v: Vec<&str> = scope.split_whitespace().collect();
    v.sort();
    v
}

pub fn changes(state: &ConsentState, scope: &str) -> Vec<Change> {
    let mut out = Vec::new();
    if state.sp.is_none() {
        out.push(Change::new(
            "microsoft",
            "service_principal",
            Action::Create,
        ));
    }
    match &state.grant {
        None => out.push(
            Change::new("microsoft", "permission_grant", Action::Create)
                .field("scope", serde_json::Value::Null, json!(scope))
                .field(
                    "consent_type",
                    serde_json::Value::Null,
                    json!("AllPrincipals"),
                ),
        ),
        Some(g) if normalise(g.scope.as_deref().unwrap_or("")) != normalise(scope) => out.push(
            Change::new("microsoft", "permission_grant", Action::Update)
                .id(g.id.clone())
                .field("scope", json!(g.scope), json!(scope)),
        ),
        Some(_) => {}
    }
    out
}

/// Creates what is missing and fixes the grant's scope.
pub async fn apply(
    graph: &Graph,
    state: &ConsentState,
    app_id: &str,
    graph_sp_id: &str,
    scope: &str,
) -> Result<()> {
    let sp = match &state.sp {
        Some(sp) => sp.clone(),
        None => graph.create_service_principal(app_id).await?,
    };
    match &state.grant {
        None => graph
            .create_grant(&sp.id, graph_sp_id, scope)
            .await
            .map(drop),
        Some(g) if normalise(g.scope.as_deref().unwrap_or("")) != normalise(scope) => {
            graph.update_grant(&g.id, scope).await
        }
        Some(_) => Ok(()),
    }
}

pub fn destroy_changes(state: &ConsentState) -> Vec<Change> {
    let mut out = Vec::new();
    if let Some(g) = &state.grant {
        out.push(Change::new("microsoft", "permission_grant", Action::Delete).id(g.id.clone()));
    }
    if let Some(sp) = &state.sp {
        out.push(Change::new("microsoft", "service_principal", Action::Delete).id(sp.id.clone()));
    }
    out
}

pub async fn destroy(graph: &Graph, state: &ConsentState) -> Result<()> {
    if let Some(g) = &state.grant {
        graph.delete_grant(&g.id).await?;
    }
    if let Some(sp) = &state.sp {
        graph.delete_service_principal(&sp.id).await?;
    }
    Ok(())
}
