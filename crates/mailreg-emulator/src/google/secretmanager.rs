//! Secret Manager v1 (discovery: `secretmanager.v1.json`): secrets with labels and automatic
//! replication, versions (add, access, list, disable, destroy), and the errors mailreg handles:
//! 401 without a token, 403 SERVICE_DISABLED when the project lacks the API, 403
//! PERMISSION_DENIED for a project listed in [`GoogleConfig::secret_manager_denied`], 404 for an
//! unknown project or secret, 409 ALREADY_EXISTS, 400 INVALID_ARGUMENT for a payload whose
//! `dataCrc32c` does not match.
//!
//! Resource names carry the project *number*, whatever the request used (inferred from the
//! real service's answers). Versions are numbered from 1; `latest` is the most recent one.

use super::*;

pub(super) const SECRET_MANAGER: &str = "secretmanager.googleapis.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VersionState {
    Enabled,
    Disabled,
    Destroyed,
}

impl VersionState {
    fn as_str(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
        }
    }
}

#[derive(Clone, Debug)]
struct Version {
    number: u32,
    data: Vec<u8>,
    state: VersionState,
    create_time: OffsetDateTime,
    destroy_time: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub(super) struct SmSecret {
    project_number: u64,
    id: String,
    labels: Map<String, Value>,
    create_time: OffsetDateTime,
    versions: Vec<Version>,
}

impl SmSecret {
    fn name(&self) -> String {
        format!("projects/{}/secrets/{}", self.project_number, self.id)
    }
    fn json(&self) -> Value {
        json!({
            "name": self.name(),
            "replication": {"automatic": {}},
            "createTime": rfc3339(self.create_time),
            "labels": self.labels,
            "etag": format!("\"{}\"", self.create_time.unix_timestamp()),
        })
    }
    fn version_json(&self, v: &Version) -> Value {
        let mut out = json!({
            "name": format!("{}/versions/{}", self.name(), v.number),
            "createTime": rfc3339(v.create_time),
            "state": v.state.as_str(),
            "replicationStatus": {"automatic": {}},
            "etag": format!("\"{}{}\"", v.create_time.unix_timestamp(), v.number),
            "clientSpecifiedPayloadChecksum": true,
        });
        if let Some(t) = v.destroy_time {
            out["destroyTime"] = json!(rfc3339(t));
        }
        out
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// CRC32C (Castagnoli), as Secret Manager checks `dataCrc32c`.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn not_found(what: &str) -> EmuResponse {
    google_error(404, "NOT_FOUND", &format!("{what} not found."), vec![])
}

impl GoogleState {
    /// `rest` is the path after `/v1/` and starts with `projects/{p}/secrets`.
    pub(super) fn secret_manager(&mut self, req: &EmuRequest, rest: &str) -> Handled {
        self.authenticate(req, self.now)?;
        let segs: Vec<&str> = rest.split('/').collect();
        let project = segs.get(1).copied().unwrap_or_default();
        let permission = match req.method.as_str() {
            "GET" if rest.ends_with(":access") => "secretmanager.versions.access",
            "GET" => "secretmanager.secrets.get",
            "DELETE" => "secretmanager.secrets.delete",
            _ if rest.contains(":addVersion") => "secretmanager.versions.add",
            _ => "secretmanager.secrets.create",
        };
        let Some(index) = self.find_project(project) else {
            return Err(google_error(
                404,
                "NOT_FOUND",
                &format!("Project 'projects/{project}' not found or deleted."),
                vec![],
            ));
        };
        let number = self.projects[index].number;
        if !self.projects[index].services.contains(SECRET_MANAGER) {
            return Err(service_disabled(number, SECRET_MANAGER));
        }
        if self
            .config
            .secret_manager_denied
            .iter()
            .any(|p| p == project || p == &number.to_string())
        {
            return Err(google_error(
                403,
                "PERMISSION_DENIED",
                &format!(
                    "Permission '{permission}' denied for resource '{rest}' (or it may not exist)."
                ),
                vec![json!({
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "secretmanager.googleapis.com",
                    "metadata": {"permission": permission, "resource": rest},
                })],
            ));
        }
        let now = self.now;
        let method = req.method.as_str();
        match (method, &segs[2..]) {
            ("POST", ["secrets"]) => self.sm_create(req, number),
            (m, ["secrets", secret]) => {
                if let Some((id, "addVersion")) = secret.split_once(':') {
                    return self.sm_add_version(req, number, id, now);
                }
                let i = self.sm_find(number, secret)?;
                match m {
                    "GET" => Ok(EmuResponse::json(200, &self.secret_manager[i].json())),
                    "DELETE" => {
                        self.secret_manager.remove(i);
                        Ok(EmuResponse::json(200, &json!({})))
                    }
                    _ => Err(unknown_path(req)),
                }
            }
            ("GET", ["secrets", secret, "versions"]) => {
                let i = self.sm_find(number, secret)?;
                let s = &self.secret_manager[i];
                let versions: Vec<Value> =
                    s.versions.iter().rev().map(|v| s.version_json(v)).collect();
                Ok(EmuResponse::json(
                    200,
                    &json!({"versions": versions, "totalSize": versions.len()}),
                ))
            }
            (m, ["secrets", secret, "versions", version]) => {
                let (version, verb) = version.split_once(':').unwrap_or((version, ""));
                let i = self.sm_find(number, secret)?;
                let s = &mut self.secret_manager[i];
                let name = format!("{}/versions/{version}", s.name());
                let v = match version {
                    "latest" => s.versions.iter().rposition(|_| true),
                    n => n
                        .parse::<u32>()
                        .ok()
                        .and_then(|n| s.versions.iter().position(|v| v.number == n)),
                }
                .ok_or_else(|| not_found(&format!("Secret Version [{name}]")))?;
                match (m, verb) {
                    ("GET", "access") => {
                        let ver = &s.versions[v];
                        if ver.state != VersionState::Enabled {
                            return Err(google_error(
                                400,
                                "FAILED_PRECONDITION",
                                &format!("{name} is in {} state.", ver.state.as_str()),
                                vec![],
                            ));
                        }
                        Ok(EmuResponse::json(
                            200,
                            &json!({
                                "name": format!("{}/versions/{}", s.name(), ver.number),
                                "payload": {
                                    "data": STANDARD.encode(&ver.data),
                                    "dataCrc32c": crc32c(&ver.data).to_string(),
                                },
                            }),
                        ))
                    }
                    ("GET", "") => Ok(EmuResponse::json(200, &s.version_json(&s.versions[v]))),
                    ("POST", "disable") | ("POST", "enable") | ("POST", "destroy") => {
                        let ver = &mut s.versions[v];
                        if ver.state == VersionState::Destroyed {
                            return Err(google_error(
                                400,
                                "FAILED_PRECONDITION",
                                &format!("{name} is in DESTROYED state."),
                                vec![],
                            ));
                        }
                        match verb {
                            "disable" => ver.state = VersionState::Disabled,
                            "enable" => ver.state = VersionState::Enabled,
                            _ => {
                                ver.state = VersionState::Destroyed;
                                ver.data.clear();
                                ver.destroy_time = Some(now);
                            }
                        }
                        let ver = s.versions[v].clone();
                        Ok(EmuResponse::json(200, &s.version_json(&ver)))
                    }
                    _ => Err(unknown_path(req)),
                }
            }
            _ => Err(unknown_path(req)),
        }
    }

    fn sm_find(&self, number: u64, id: &str) -> Result<usize, EmuResponse> {
        self.secret_manager
            .iter()
            .position(|s| s.project_number == number && s.id == id)
            .ok_or_else(|| not_found(&format!("Secret [projects/{number}/secrets/{id}]")))
    }

    fn sm_create(&mut self, req: &EmuRequest, number: u64) -> Handled {
        let id = req.query_param("secretId").unwrap_or_default().to_owned();
        let valid = !id.is_empty()
            && id.len() <= 255
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                "Secret ID must be 1-255 characters: letters, digits, hyphens and underscores.",
                vec![],
            ));
        }
        let body = req.json().unwrap_or(Value::Null);
        if body.pointer("/replication/automatic").is_none()
            && body.pointer("/replication/userManaged").is_none()
        {
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                "Secret.replication must be specified.",
                vec![],
            ));
        }
        if self.sm_find(number, &id).is_ok() {
            return Err(google_error(
                409,
                "ALREADY_EXISTS",
                &format!("Secret [projects/{number}/secrets/{id}] already exists."),
                vec![],
            ));
        }
        let labels = body
            .get("labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let secret = SmSecret {
            project_number: number,
            id,
            labels,
            create_time: self.now,
            versions: Vec::new(),
        };
        let out = secret.json();
        self.secret_manager.push(secret);
        Ok(EmuResponse::json(200, &out))
    }

    fn sm_add_version(
        &mut self,
        req: &EmuRequest,
        number: u64,
        id: &str,
        now: OffsetDateTime,
    ) -> Handled {
        let i = self.sm_find(number, id)?;
        let body = req.json().unwrap_or(Value::Null);
        let Some(data) = body
            .pointer("/payload/data")
            .and_then(Value::as_str)
            .and_then(|d| STANDARD.decode(d).ok())
        else {
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                "SecretPayload.data must be base64 encoded bytes.",
                vec![],
            ));
        };
        if data.len() > 64 * 1024 {
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                "Secret payload data size must be no larger than 65536 bytes.",
                vec![],
            ));
        }
        if let Some(sum) = body.pointer("/payload/dataCrc32c").and_then(Value::as_str)
            && sum != crc32c(&data).to_string()
        {
            return Err(google_error(
                400,
                "INVALID_ARGUMENT",
                "Checksum mismatch: the data_crc32c of the payload does not match the payload data.",
                vec![],
            ));
        }
        let s = &mut self.secret_manager[i];
        let number = s.versions.last().map_or(1, |v| v.number + 1);
        s.versions.push(Version {
            number,
            data,
            state: VersionState::Enabled,
            create_time: now,
            destroy_time: None,
        });
        let v = s.versions.last().cloned().expect("just pushed");
        Ok(EmuResponse::json(200, &s.version_json(&v)))
    }

    /// Enables a service on a project directly (tests: Secret Manager starts disabled).
    pub fn seed_service(&mut self, project_id: &str, service: &str) {
        if let Some(i) = self.find_project(project_id) {
            self.projects[i].services.insert(service.to_owned());
        }
    }

    /// Every Secret Manager secret, as `secrets.get` shows it plus its versions with their
    /// states and (for versions not destroyed) their data as text.
    pub fn secret_manager_secrets(&self) -> Vec<Value> {
        self.secret_manager
            .iter()
            .map(|s| {
                let mut out = s.json();
                out["versions"] = s
                    .versions
                    .iter()
                    .map(|v| {
                        json!({"number": v.number, "state": v.state.as_str(),
                            "data": String::from_utf8_lossy(&v.data)})
                    })
                    .collect();
                out
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::crc32c;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }
}
