//! Resource Manager v3: create, get, search, list, patch, delete and undelete projects.

use super::*;

impl GoogleState {
    // -----------------------------------------------------------------------------------------
    // Resource Manager v3 (ref §1, discovery cloudresourcemanager.v3)
    // -----------------------------------------------------------------------------------------

    pub(super) fn resource_manager(
        &mut self,
        req: &EmuRequest,
        rest: &str,
        now: OffsetDateTime,
    ) -> Handled {
        enum Route<'a> {
            Create,
            List,
            Search,
            Operation(&'a str),
            Get(&'a str),
            Delete(&'a str),
            Patch(&'a str),
            Undelete(&'a str),
        }
        let method = req.method.as_str();
        let route = match (method, rest) {
            ("POST", "projects") => Route::Create,
            ("GET", "projects") => Route::List,
            ("GET", "projects:search") => Route::Search,
            ("GET", r) if r.starts_with("operations/") => Route::Operation(r),
            (m, r) => match r.strip_prefix("projects/") {
                Some(tail) if !tail.is_empty() && !tail.contains('/') => {
                    match (m, tail.strip_suffix(":undelete")) {
                        ("POST", Some(id)) if !id.is_empty() => Route::Undelete(id),
                        ("GET", None) if !tail.contains(':') => Route::Get(tail),
                        ("DELETE", None) if !tail.contains(':') => Route::Delete(tail),
                        ("PATCH", None) if !tail.contains(':') => Route::Patch(tail),
                        _ => return Err(unknown_path(req)),
                    }
                }
                _ => return Err(unknown_path(req)),
            },
        };
        let caller = self.authenticate(req, now)?;
        self.check_user_project(req, "cloudresourcemanager.googleapis.com")?;
        match route {
            Route::Create => self.create_project(req, &caller, now),
            Route::List => self.list_projects(req, &caller),
            Route::Search => self.search_projects(req, &caller),
            Route::Operation(name) => self.poll_operation(name, Api::ResourceManager),
            Route::Get(key) => {
                let i = self.visible_project(key, &caller, "resourcemanager.projects.get")?;
                Ok(EmuResponse::json(200, &project_json(&self.projects[i])))
            }
            Route::Delete(key) => self.delete_project(key, &caller, now),
            Route::Undelete(key) => self.undelete_project(req, key, &caller, now),
            Route::Patch(key) => self.patch_project(req, key, &caller, now),
        }
    }

    /// The project for `key` (ID or number) if the caller may see it; otherwise 403, whether it
    /// exists or not (ref §1: "to prevent id probing"; message and ErrorInfo inferred).
    pub(super) fn visible_project(
        &self,
        key: &str,
        caller: &Caller,
        permission: &str,
    ) -> Result<usize, EmuResponse> {
        match self.find_project(key) {
            Some(i) if self.projects[i].visible_to(caller) => Ok(i),
            _ => Err(google_error(
                403,
                "PERMISSION_DENIED",
                &format!(
                    "Permission '{permission}' denied on resource '//cloudresourcemanager.googleapis.com/projects/{key}' (or it may not exist)."
                ),
                vec![json!({
                    "@type": T_ERROR_INFO,
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "cloudresourcemanager.googleapis.com",
                    "metadata": {"permission": permission, "resource": format!("projects/{key}")},
                })],
            )),
        }
    }

    pub(super) fn new_operation(
        &mut self,
        name: String,
        api: Api,
        pending_metadata: Option<Value>,
        done_metadata: Option<Value>,
        outcome: Outcome,
    ) -> EmuResponse {
        let view = operation_json(&name, pending_metadata.as_ref(), None);
        self.operations.insert(
            name,
            Operation {
                api,
                polls_left: self.config.operation_polls,
                created: self.now,
                pending_metadata,
                done_metadata,
                outcome,
                applied: false,
            },
        );
        EmuResponse::json(200, &view)
    }

    pub(super) fn create_project(
        &mut self,
        req: &EmuRequest,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> Handled {
        let body = json_object(req)?;
        check_known_fields(&body, "project")?;
        let project_id = match body.get("projectId") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(invalid_argument(
                    "project.project_id",
                    "Project ID is required.",
                ));
            }
        };
        validate_project_id(&project_id)?;
        let display_name = validate_display_name(body.get("displayName"))?;
        let labels = validate_labels(body.get("labels"))?;
        let parent = validate_parent(body.get("parent"))?;
        if matches!(caller, Caller::ServiceAccount(_)) && parent.is_none() {
            // ref §1 (googleapis/nodejs-resource-manager#95).
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                SA_WITHOUT_PARENT_MESSAGE,
                vec![],
            ));
        }
        let taken = self.config.taken_project_ids.contains(&project_id)
            || self.projects.iter().any(|p| p.project_id == project_id);
        if taken {
            // ref §1: taken by anyone, incl. pending deletion → 409.
            return Err(google_error(
                409,
                "ALREADY_EXISTS",
                "Requested entity already exists",
                vec![],
            ));
        }
        let owned = self
            .projects
            .iter()
            .filter(|p| p.owner.as_deref() == Some(caller.email()))
            .count();
        let over_quota = self
            .config
            .project_quota
            .is_some_and(|q| owned >= q as usize);
        let name = format!("operations/cp.{}", self.op_digits());
        let create_time = rfc3339(now);
        let metadata = |gettable: bool, ready: bool| json!({"@type": T_CREATE_META, "createTime": create_time, "gettable": gettable, "ready": ready});
        if over_quota {
            // ref §1: quota is reported inside the finished operation, exact body.
            let status = json!({
                "code": 8,
                "message": QUOTA_MESSAGE,
                "details": [{"@type": T_QUOTA_FAILURE, "violations": [{"description": QUOTA_MESSAGE}]}],
            });
            let (pending, done) = (metadata(false, false), metadata(false, false));
            return Ok(self.new_operation(
                name,
                Api::ResourceManager,
                Some(pending),
                Some(done),
                Outcome::Error(status),
            ));
        }
        let number = self.new_project_number();
        let etag = self.new_etag();
        self.projects.push(Project {
            number,
            project_id,
            display_name,
            labels,
            parent,
            state: ProjectState::Active,
            create_time: now,
            update_time: now,
            delete_time: None,
            etag,
            owner: Some(caller.email().to_owned()),
            via_api: true,
            search_lag: self.config.search_lag,
            enable_lag: self.config.enable_lag,
            enable_failures: 0,
            services: BTreeSet::new(),
            oauth_clients: Vec::new(),
        });
        let (pending, done) = (metadata(true, false), metadata(true, true));
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(pending),
            Some(done),
            Outcome::Project(number),
        ))
    }

    pub(super) fn delete_project(
        &mut self,
        key: &str,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> Handled {
        let i = self.visible_project(key, caller, "resourcemanager.projects.delete")?;
        // ref §1: deleting a DELETE_REQUESTED project "will not cause an error, but also won't do
        // anything".
        if self.projects[i].state == ProjectState::Active {
            let etag = self.new_etag();
            let p = &mut self.projects[i];
            p.state = ProjectState::DeleteRequested;
            p.delete_time = Some(now);
            p.update_time = now;
            p.etag = etag;
        }
        let number = self.projects[i].number;
        // Operation name prefix `dp.` is inferred (ref §8.1: not verified live).
        let name = format!("operations/dp.{}", self.op_digits());
        let md = json!({"@type": T_DELETE_META});
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(md.clone()),
            Some(md),
            Outcome::Project(number),
        ))
    }

    pub(super) fn undelete_project(
        &mut self,
        req: &EmuRequest,
        key: &str,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> Handled {
        if !req.body.trim_ascii().is_empty() {
            json_object(req)?;
        }
        let i = self.visible_project(key, caller, "resourcemanager.projects.undelete")?;
        if self.projects[i].state != ProjectState::DeleteRequested {
            // ref §1: only while DELETE_REQUESTED; wording inferred.
            return Err(google_error(
                400,
                "FAILED_PRECONDITION",
                &format!(
                    "Project '{}' is not in state DELETE_REQUESTED and cannot be undeleted.",
                    self.projects[i].project_id
                ),
                vec![],
            ));
        }
        let etag = self.new_etag();
        let p = &mut self.projects[i];
        p.state = ProjectState::Active;
        p.delete_time = None;
        p.update_time = now;
        p.etag = etag;
        let number = p.number;
        let name = format!("operations/udp.{}", self.op_digits()); // prefix inferred
        let md = json!({"@type": T_UNDELETE_META});
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(md.clone()),
            Some(md),
            Outcome::Project(number),
        ))
    }

    /// `PATCH v3/{+name}?updateMask=` (discovery). Only `displayName` and `labels` are updatable
    /// here; a missing mask updates both (inferred); a masked field absent from the body is
    /// cleared (field-mask semantics).
    pub(super) fn patch_project(
        &mut self,
        req: &EmuRequest,
        key: &str,
        caller: &Caller,
        now: OffsetDateTime,
    ) -> Handled {
        let body = json_object(req)?;
        check_known_fields(&body, "project")?;
        let i = self.visible_project(key, caller, "resourcemanager.projects.update")?;
        let mask: Vec<String> = match req.query_param("updateMask") {
            Some(m) if !m.trim().is_empty() => m.split(',').map(|s| s.trim().to_owned()).collect(),
            _ => vec!["displayName".into(), "labels".into()],
        };
        let mut new_display = None;
        let mut new_labels = None;
        for path in &mask {
            match path.as_str() {
                "displayName" | "display_name" => {
                    new_display = Some(validate_display_name(body.get("displayName"))?)
                }
                "labels" => new_labels = Some(validate_labels(body.get("labels"))?),
                other => {
                    return Err(invalid_argument(
                        "update_mask",
                        &format!(
                            "Invalid update mask path: '{other}'. Only 'display_name' and 'labels' can be updated."
                        ),
                    ));
                }
            }
        }
        if self.projects[i].state != ProjectState::Active {
            return Err(google_error(
                400,
                "FAILED_PRECONDITION",
                &format!(
                    "Project '{}' is pending deletion and cannot be updated.",
                    self.projects[i].project_id
                ),
                vec![],
            ));
        }
        let etag = self.new_etag();
        let p = &mut self.projects[i];
        if let Some(d) = new_display {
            p.display_name = d;
        }
        if let Some(l) = new_labels {
            p.labels = l;
        }
        p.update_time = now;
        p.etag = etag;
        let number = p.number;
        let name = format!("operations/up.{}", self.op_digits()); // prefix inferred
        let md = json!({"@type": T_UPDATE_META});
        Ok(self.new_operation(
            name,
            Api::ResourceManager,
            Some(md.clone()),
            Some(md),
            Outcome::Project(number),
        ))
    }

    /// `projects:search` (discovery): terms separated by spaces are OR-ed ("return results that
    /// match any of the fields"; example `labels.color:red labels.size:big` = red OR big), also
    /// ref §1. An explicit `AND` between two terms binds them (inferred, Google filter grammar).
    /// Case-insensitive. DELETE_REQUESTED projects are included (ref §1). Empty result = `{}`.
    pub(super) fn search_projects(&mut self, req: &EmuRequest, caller: &Caller) -> Handled {
        let query = req.query_param("query").unwrap_or("");
        let groups = parse_query(query).map_err(|m| invalid_argument("query", &m))?;
        let (page_size, offset) = paging(req)?;
        let mut hits = Vec::new();
        for p in self.projects.iter_mut().filter(|p| p.visible_to(caller)) {
            if p.search_lag > 0 {
                p.search_lag -= 1; // eventually consistent (ref §1)
                continue;
            }
            if groups.is_empty() || groups.iter().any(|g| g.iter().all(|t| t.matches(p))) {
                hits.push(project_json(p));
            }
        }
        Ok(EmuResponse::json(200, &page(hits, page_size, offset)))
    }

    /// `projects.list`: `parent` required (ref §1); `showDeleted` (discovery). No lag (inferred).
    pub(super) fn list_projects(&mut self, req: &EmuRequest, caller: &Caller) -> Handled {
        let Some(parent) = req.query_param("parent").filter(|p| !p.is_empty()) else {
            return Err(invalid_argument(
                "parent",
                "Request is missing required field: parent.",
            ));
        };
        let show_deleted = req.query_param("showDeleted") == Some("true");
        let (page_size, offset) = paging(req)?;
        let hits = self
            .projects
            .iter()
            .filter(|p| p.visible_to(caller) && p.parent.as_deref() == Some(parent))
            .filter(|p| show_deleted || p.state == ProjectState::Active)
            .map(project_json)
            .collect();
        Ok(EmuResponse::json(200, &page(hits, page_size, offset)))
    }
}
