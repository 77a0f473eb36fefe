//! What `gc` may collect of the Microsoft side, and how it collects it.

use super::{MicrosoftProvider, PROVIDER, app, hint_graph};
use crate::error::Result;

/// Something `gc` may delete: a resource with all of mailreg's marks for the spec's name.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GcCandidate {
    pub provider: &'static str,
    pub env: String,
    /// Object id (Microsoft) or project ID (Google): what the delete addresses.
    #[serde(skip)]
    pub key: String,
    /// Client ID (Microsoft) or project ID (Google): what people recognise.
    pub id: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<time::OffsetDateTime>,
    /// Set for an application already in deleted items (a `destroy` without `--purge`, or an
    /// interrupted gc): collecting it means purging it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted: Option<time::OffsetDateTime>,
}

impl MicrosoftProvider {
    /// Every application of this spec's name, in every environment, that carries all of
    /// mailreg's marks, live or in deleted items (where it still counts against the directory
    /// quota). Apps with only some of the marks, or none, are never candidates.
    pub async fn gc_candidates(&self) -> Result<Vec<GcCandidate>> {
        let tag = format!("mailreg:name={}", self.name());
        let (live, deleted) = futures::future::join(
            self.graph.apps_by_tag(&tag),
            self.graph.deleted_apps_by_tag(&tag),
        )
        .await;
        let (live, deleted) = (live.map_err(hint_graph)?, deleted.map_err(hint_graph)?);
        Ok(live
            .into_iter()
            .chain(deleted)
            .filter_map(|a| {
                let env = a
                    .tags
                    .iter()
                    .find_map(|t| t.strip_prefix("mailreg:env="))?
                    .to_owned();
                app::is_ours(&a, self.name(), &env).then(|| GcCandidate {
                    provider: PROVIDER,
                    env,
                    key: a.id.clone(),
                    id: a.app_id.clone(),
                    created: a
                        .created_date_time
                        .as_deref()
                        .and_then(crate::clock::parse_rfc3339),
                    expires: app::expiry(&a),
                    deleted: a
                        .deleted_date_time
                        .as_deref()
                        .and_then(crate::clock::parse_rfc3339),
                })
            })
            .collect())
    }

    /// Deletes and purges one candidate (only purges one already in deleted items).
    pub async fn gc_delete(&self, c: &GcCandidate) -> Result<()> {
        if c.deleted.is_none() {
            self.graph.delete_app(&c.key).await.map_err(hint_graph)?;
        }
        self.graph.purge(&c.key).await.map_err(hint_graph)
    }
}
