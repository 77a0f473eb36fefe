//! The handful of Microsoft Graph v1.0 calls mailreg makes, as typed serde structs over the
//! shared HTTP client (not graph-rs-sdk: see reference/rust-crates.md §2 and the README).
//!
//! Each call states whether it is safe to repeat and which answers mean replication lag
//! (reference/microsoft-graph.md §4.3); retries happen in [`crate::http`].

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::auth::GraphAuth;
use super::cloud::Endpoints;
use super::permissions::GRAPH_APP_ID;
use crate::error::Result;
use crate::http::{Failure, Http, Request, Safety};

fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiApplication {
    #[serde(default)]
    pub requested_access_token_version: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebApplication {
    #[serde(default, deserialize_with = "null_default")]
    pub redirect_uris: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceAccess {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequiredResourceAccess {
    pub resource_app_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub resource_access: Vec<ResourceAccess>,
}

/// A client secret as Graph lists it (no value).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    pub key_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub start_date_time: Option<String>,
    #[serde(default)]
    pub end_date_time: Option<String>,
    #[serde(default)]
    pub hint: Option<String>,
}

/// The answer of addPassword: the only time the Value is visible.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPassword {
    pub key_id: String,
    pub secret_text: String,
    #[serde(default)]
    pub end_date_time: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    #[serde(default)]
    pub app_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub sign_in_audience: Option<String>,
    #[serde(default)]
    pub api: Option<ApiApplication>,
    #[serde(default)]
    pub web: Option<WebApplication>,
    #[serde(default, deserialize_with = "null_default")]
    pub required_resource_access: Vec<RequiredResourceAccess>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub password_credentials: Vec<PasswordCredential>,
    #[serde(default)]
    pub unique_name: Option<String>,
    #[serde(default)]
    pub created_date_time: Option<String>,
    #[serde(default)]
    pub deleted_date_time: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionScope {
    pub id: String,
    pub value: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub oauth2_permission_scopes: Vec<PermissionScope>,
    /// A resource's application permissions (`Exchange`'s `IMAP.AccessAsApp`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub app_roles: Vec<PermissionScope>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub id: String,
    pub resource_id: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub consent_type: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// Fields mailreg reads of an application: everything it diffs, and the secrets' metadata.
pub const APP_SELECT: &str = "id,appId,displayName,signInAudience,api,web,requiredResourceAccess,tags,notes,passwordCredentials,uniqueName,createdDateTime";

/// Answers that mean "just created, not replicated yet" (reference §4.3).
pub fn lag_app(f: &Failure) -> bool {
    f.is(404, "Request_ResourceNotFound")
        || f.is(409, "Error_MsaAppDoesNotExist")
        || (f.status == 400
            && f.message
                .contains("does not reference a valid application object"))
}

/// `removePassword` of a keyId the app no longer has (INFERRED wording, reference §4).
fn password_gone(f: &Failure) -> bool {
    f.status == 404 || (f.status == 400 && f.message.contains("No password credential found"))
}

/// A new service principal not yet visible to the grant service.
pub fn lag_grant(f: &Failure) -> bool {
    (f.status == 400 || f.status == 404)
        && f.message.contains(
            "does not exist or one of its queried reference-property objects are not present",
        )
}

/// Outcome of the keyed upsert.
pub enum Upserted {
    Created(Box<Application>),
    /// The app already existed (a previous create whose answer was lost) and was updated.
    Updated,
}

#[derive(Clone)]
pub struct Graph {
    http: Http,
    endpoints: Endpoints,
    auth: GraphAuth,
}

fn odata_quote(s: &str) -> String {
    s.replace('\'', "''")
}

impl Graph {
    pub fn new(http: Http, endpoints: Endpoints, auth: GraphAuth) -> Self {
        Graph {
            http,
            endpoints,
            auth,
        }
    }

    /// The sign-in Graph uses, for the other Microsoft endpoints of the same run (Exchange).
    pub fn auth(&self) -> &GraphAuth {
        &self.auth
    }

    /// A current access token. azure_identity caches it and asks for a new one before it
    /// expires, so no copy is kept here: a long paced run never sends an expired token.
    pub async fn token(&self) -> Result<String> {
        self.auth.token().await
    }

    pub(super) fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.endpoints.graph_url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    pub(super) async fn list_of<T: for<'de> Deserialize<'de>>(&self, first: Url) -> Result<Vec<T>> {
        self.list(first).await
    }

    pub(super) async fn call(&self, req: Request) -> Result<crate::http::Response> {
        let token = self.token().await?;
        self.http.send(req.bearer(&token)).await
    }

    /// Follows `@odata.nextLink`, rebased onto the configured Graph URL (national clouds and
    /// the emulator answer with links on their own canonical host).
    async fn list<T: for<'de> Deserialize<'de>>(&self, first: Url) -> Result<Vec<T>> {
        let what = first.path().trim_start_matches("/v1.0/").to_owned();
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > crate::http::MAX_PAGES {
                return Err(crate::http::paging_error(&what, pages - 1, false));
            }
            let page: Page<T> = self
                .call(Request::new(Method::GET, url.clone()))
                .await?
                .json()?;
            out.extend(page.value);
            if let Some(link) = page.next_link
                && let Ok(link) = Url::parse(&link)
            {
                let mut rebased = self.endpoints.graph.clone();
                rebased.set_path(link.path());
                rebased.set_query(link.query());
                if rebased == url {
                    return Err(crate::http::paging_error(&what, pages, true));
                }
                next = Some(rebased);
            }
        }
        Ok(out)
    }

    pub async fn apps_by_tag(&self, tag: &str) -> Result<Vec<Application>> {
        let filter = format!("tags/any(t:t eq '{}')", odata_quote(tag));
        self.list(self.url(
            "applications",
            &[("$filter", &filter), ("$select", APP_SELECT)],
        ))
        .await
    }

    pub async fn deleted_apps_by_tag(&self, tag: &str) -> Result<Vec<Application>> {
        let filter = format!("tags/any(t:t eq '{}')", odata_quote(tag));
        self.list(self.url(
            "directory/deletedItems/microsoft.graph.application",
            &[
                ("$filter", &filter),
                (
                    "$select",
                    "id,appId,displayName,tags,createdDateTime,deletedDateTime",
                ),
            ],
        ))
        .await
    }

    /// Creates or updates by `uniqueName`: idempotent by key, so safe to repeat even when an
    /// answer is lost (reference §1.4).
    pub async fn upsert(&self, unique_name: &str, body: Value) -> Result<Upserted> {
        let path = format!("applications(uniqueName='{}')", odata_quote(unique_name));
        let req = Request::new(Method::PATCH, self.url(&path, &[]))
            .header("prefer", "create-if-missing")
            .json(body)
            .safety(Safety::Idempotent);
        let resp = self.call(req).await?;
        if resp.status == 201 {
            Ok(Upserted::Created(Box::new(resp.json()?)))
        } else {
            Ok(Upserted::Updated)
        }
    }

    pub async fn patch_app(&self, id: &str, body: Value) -> Result<()> {
        let url = self.url(&format!("applications/{id}"), &[]);
        self.call(Request::new(Method::PATCH, url).json(body).lag(lag_app))
            .await
            .map(drop)
    }

    pub async fn add_password(
        &self,
        id: &str,
        display_name: &str,
        end: &str,
    ) -> Result<NewPassword> {
        let url = self.url(&format!("applications/{id}/addPassword"), &[]);
        let body = json!({"passwordCredential": {"displayName": display_name, "endDateTime": end}});
        self.call(Request::new(Method::POST, url).json(body).lag(lag_app))
            .await?
            .json()
    }

    pub async fn remove_password(&self, id: &str, key_id: &str) -> Result<()> {
        let url = self.url(&format!("applications/{id}/removePassword"), &[]);
        // Removing the same keyId twice only fails the second time: safe to repeat.
        let req = Request::new(Method::POST, url)
            .json(json!({"keyId": key_id}))
            .safety(Safety::Idempotent)
            .lag(lag_app)
            .gone(password_gone);
        self.call(req).await.map(drop)
    }

    /// Soft delete. A 404 means it is already gone: success.
    pub async fn delete_app(&self, id: &str) -> Result<()> {
        let url = self.url(&format!("applications/{id}"), &[]);
        match self.call(Request::new(Method::DELETE, url)).await {
            Err(e) if e.status == Some(404) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Permanent delete from deleted items. Right after the soft delete the item may not be
    /// listed yet (lag); a 404 that persists means it is already purged.
    pub async fn purge(&self, id: &str) -> Result<()> {
        let url = self.url(&format!("directory/deletedItems/{id}"), &[]);
        match self
            .call(Request::new(Method::DELETE, url).lag(lag_app))
            .await
        {
            Err(e) if e.status == Some(404) => Ok(()),
            other => other.map(drop),
        }
    }

    /// The tenant's default app management policy (needs Policy.Read.ApplicationConfiguration).
    pub async fn default_app_management_policy(&self) -> Result<Value> {
        let url = self.url("policies/defaultAppManagementPolicy", &[]);
        self.call(Request::new(Method::GET, url)).await?.json()
    }

    pub async fn graph_service_principal(&self) -> Result<ServicePrincipal> {
        let url = self.url(
            &format!("servicePrincipals(appId='{GRAPH_APP_ID}')"),
            &[("$select", "id,appId,oauth2PermissionScopes")],
        );
        self.call(Request::new(Method::GET, url)).await?.json()
    }

    pub async fn service_principal_of(&self, app_id: &str) -> Result<Option<ServicePrincipal>> {
        let filter = format!("appId eq '{}'", odata_quote(app_id));
        let url = self.url(
            "servicePrincipals",
            &[("$filter", &filter), ("$select", "id,appId")],
        );
        Ok(self.list(url).await?.into_iter().next())
    }

    pub async fn create_service_principal(&self, app_id: &str) -> Result<ServicePrincipal> {
        let url = self.url("servicePrincipals", &[]);
        let req = Request::new(Method::POST, url)
            .json(json!({"appId": app_id}))
            .lag(lag_app);
        self.call(req).await?.json()
    }

    pub async fn delete_service_principal(&self, id: &str) -> Result<()> {
        let url = self.url(&format!("servicePrincipals/{id}"), &[]);
        match self.call(Request::new(Method::DELETE, url)).await {
            Err(e) if e.status == Some(404) => Ok(()),
            other => other.map(drop),
        }
    }

    pub async fn grants_of(&self, sp_id: &str) -> Result<Vec<Grant>> {
        let filter = format!("clientId eq '{}'", odata_quote(sp_id));
        self.list(self.url("oauth2PermissionGrants", &[("$filter", &filter)]))
            .await
    }

    pub async fn create_grant(&self, sp_id: &str, resource_id: &str, scope: &str) -> Result<Grant> {
        let body = json!({
            "clientId": sp_id,
            "consentType": "AllPrincipals",
            "principalId": null,
            "resourceId": resource_id,
            "scope": scope,
        });
        let req = Request::new(Method::POST, self.url("oauth2PermissionGrants", &[]))
            .json(body)
            .lag(lag_grant);
        self.call(req).await?.json()
    }

    pub async fn update_grant(&self, id: &str, scope: &str) -> Result<()> {
        let url = self.url(&format!("oauth2PermissionGrants/{id}"), &[]);
        self.call(Request::new(Method::PATCH, url).json(json!({"scope": scope})))
            .await
            .map(drop)
    }

    pub async fn delete_grant(&self, id: &str) -> Result<()> {
        let url = self.url(&format!("oauth2PermissionGrants/{id}"), &[]);
        match self.call(Request::new(Method::DELETE, url)).await {
            Err(e) if e.status == Some(404) => Ok(()),
            other => other.map(drop),
        }
    }
}
