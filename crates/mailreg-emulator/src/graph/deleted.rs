//! Deleted items: read, purge and restore soft-deleted applications.

use super::*;

impl GraphState {
    pub(super) fn deleted_index(&self, id: &str) -> Result<usize, GErr> {
        if !is_guid(id) {
            return Err(invalid_object_id(id));
        }
        self.deleted
            .iter()
            .position(|r| {
                r.body["id"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(id))
            })
            .ok_or_else(|| not_found(id))
    }

    pub(super) fn get_deleted(&mut self, id: &str) -> GResult {
        let idx = self.deleted_index(id)?;
        Ok(Out::json(200, self.deleted_entity(&self.deleted[idx].body)))
    }

    /// ref §1.7: permanent delete.
    pub(super) fn purge_deleted(&mut self, id: &str) -> GResult {
        let idx = self.deleted_index(id)?;
        self.deleted.remove(idx);
        Ok(Out::empty(204))
    }

    pub(super) fn restore_deleted(&mut self, id: &str) -> GResult {
        let idx = self.deleted_index(id)?;
        let mut rec = self.deleted.remove(idx);
        rec.body.insert("deletedDateTime".into(), Value::Null);
        let out = self.deleted_entity(&rec.body);
        // Keep creation order for paging.
        let pos = self
            .apps
            .iter()
            .position(|r| r.seq > rec.seq)
            .unwrap_or(self.apps.len());
        self.apps.insert(pos, rec);
        Ok(Out::json(200, out))
    }
}
