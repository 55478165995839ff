//! The catalog: every session and named profile, plus the settings that shape new sessions.
//! Each change is made on a copy and checked whole before it replaces the original, so a
//! failed change leaves the catalog exactly as it was.

use std::collections::HashSet;

use super::integration::Integration;

use super::{
    AccessKeyId, Alias, Field, Kind, ProfileName, Publish, Region, SecretAccessKey, Session,
    SessionId, SessionKind, State, ValidationError, Value,
};

/// What is wrong with a requested change. All of these are the caller's input, never I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no session has the id or alias {0:?}")]
    UnknownSession(String),
    /// A `[settings]` value that can't be used.
    #[error("[settings] {name}: {why}")]
    Setting { name: &'static str, why: String },
    #[error("no integration has the id or alias {0:?}")]
    UnknownIntegration(String),
    #[error("integration {alias:?} has sessions chained from its sessions: {}; delete those first, or delete them all with --cascade", quoted(.dependents))]
    IntegrationHasDependents {
        alias: String,
        dependents: Vec<String>,
    },
    #[error(
        "session {alias:?} comes from integration {integration:?} and can't be edited: only its named profile, region and publish mode can be changed (the rest comes from the integration's sync)"
    )]
    NotEditable { alias: String, integration: String },
    #[error(
        "session {alias:?} comes from integration {integration:?}, whose sync makes its sessions: it can't be duplicated"
    )]
    NotDuplicable { alias: String, integration: String },
    #[error("{kind} sessions have no {field}")]
    NotApplicable { field: Field, kind: Kind },
    #[error("nothing to change: name at least one field to edit")]
    NothingToEdit,
    #[error("session {alias:?} is the assumer of {}; delete those first, or delete them all with --cascade", quoted(.dependents))]
    HasDependents {
        alias: String,
        dependents: Vec<String>,
    },
    #[error("named profile {profile:?} is used by {}; move those sessions to another profile first", quoted(.sessions))]
    ProfileInUse {
        profile: String,
        sessions: Vec<String>,
    },
    #[error("named profile {0:?} already exists")]
    ProfileExists(String),
    #[error("no named profile is called {0:?}")]
    UnknownProfile(String),
    #[error("the named profile \"default\" always exists and can't be deleted")]
    DefaultProfile,
}

fn quoted(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    names.join(", ")
}

/// Settings that shape new sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The region of a session added without one.
    pub default_region: Region,
    /// Regions the user has used that this build's partition data does not know yet.
    pub extra_regions: Vec<Region>,
    /// The publish mode of a session added without one (`[settings] publish`).
    pub publish: Publish,
    /// How long a federated login may take (`[settings] saml_login_timeout`, in seconds).
    pub saml_login_timeout: std::time::Duration,
    /// The proxy and the CA bundle (`[settings] proxy`, `no_proxy`, `proxy_user`,
    /// `ca_bundle`).
    pub network: crate::net::Settings,
    /// The store of secrets (`[settings] keychain`); `None`: the OS keychain.
    pub keychain: Option<crate::secrets::Backend>,
    /// The store `keychain migrate` moved the items from, until their old copies are gone.
    pub keychain_from: Option<crate::secrets::Backend>,
}

impl Settings {
    /// How long a federated login may take unless `[settings] saml_login_timeout` says.
    pub const SAML_LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_region: Region::us_east_1(),
            extra_regions: Vec::new(),
            publish: Publish::File,
            saml_login_timeout: Self::SAML_LOGIN_TIMEOUT,
            network: crate::net::Settings::default(),
            keychain: None,
            keychain_from: None,
        }
    }
}

/// A session to add; the catalog gives it an id, default profile and default region.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub alias: Alias,
    pub profile: Option<ProfileName>,
    /// Parsed against the catalog's known regions (see [`Catalog::parse_region`]).
    pub region: Option<String>,
    /// `None`: the settings' default ([`Settings::publish`]).
    pub publish: Option<Publish>,
    pub kind: SessionKind,
}

/// Changes to a session; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Edit {
    pub alias: Option<Alias>,
    pub profile: Option<ProfileName>,
    /// Parsed against the catalog's known regions (see [`Catalog::parse_region`]).
    pub region: Option<String>,
    /// Like profile and region, a quick change even integration-derived sessions take.
    pub publish: Option<Publish>,
    /// New values of the kind's own fields ([`Kind::fields`]); an optional field's `None`
    /// value clears it.
    pub values: Vec<Value>,
    /// Replacement keys: the catalog only checks they apply; the engine stores them.
    pub access_key_id: Option<AccessKeyId>,
    pub secret_access_key: Option<SecretAccessKey>,
}

impl Edit {
    fn edits_definition(&self) -> bool {
        self.alias.is_some()
            || !self.values.is_empty()
            || self.access_key_id.is_some()
            || self.secret_access_key.is_some()
    }

    /// Whether no field is named at all.
    pub fn is_empty(&self) -> bool {
        !self.edits_definition()
            && self.profile.is_none()
            && self.region.is_none()
            && self.publish.is_none()
    }

    /// The fields this edit names (common ones, the kind's, then keys).
    pub fn fields(&self) -> Vec<Field> {
        let mut fields = Vec::new();
        for (field, named) in [
            (Field::Alias, self.alias.is_some()),
            (Field::Profile, self.profile.is_some()),
            (Field::Region, self.region.is_some()),
            (Field::Publish, self.publish.is_some()),
        ] {
            if named {
                fields.push(field);
            }
        }
        fields.extend(self.values.iter().map(Value::field));
        for (field, named) in [
            (Field::AccessKeyId, self.access_key_id.is_some()),
            (Field::SecretAccessKey, self.secret_access_key.is_some()),
        ] {
            if named {
                fields.push(field);
            }
        }
        fields
    }
}

/// What an edit changed, and whether an active session must restart to apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditOutcome {
    pub session: Session,
    pub changed: Vec<Field>,
    pub needs_restart: bool,
}

/// Every session and named profile, with their invariants kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub settings: Settings,
    profiles: Vec<ProfileName>,
    sessions: Vec<Session>,
    pub(super) integrations: Vec<Integration>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            profiles: vec![ProfileName::default_profile()],
            sessions: Vec::new(),
            integrations: Vec::new(),
        }
    }
}

impl Catalog {
    /// A catalog from stored parts, checked whole. `default` is added when missing.
    pub fn new(
        settings: Settings,
        mut profiles: Vec<ProfileName>,
        sessions: Vec<Session>,
        integrations: Vec<Integration>,
    ) -> Result<Self, Error> {
        if !profiles.iter().any(ProfileName::is_default) {
            profiles.insert(0, ProfileName::default_profile());
        }
        let catalog = Self {
            settings,
            profiles,
            sessions,
            integrations,
        };
        catalog.check()?;
        Ok(catalog)
    }

    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    pub fn profiles(&self) -> &[ProfileName] {
        &self.profiles
    }

    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }

    /// The session a user named by id or (case-insensitively) by alias. A name shaped like an
    /// id is only ever looked up as an id: aliases can't have that shape (see [`Alias`]), so
    /// one session can't be reached through another's id, even one deleted since.
    pub fn resolve(&self, name: &str) -> Result<&Session, Error> {
        let name = name.trim();
        let found = if uuid::Uuid::parse_str(name).is_ok() {
            name.parse::<SessionId>().ok().and_then(|id| self.get(id))
        } else {
            let folded = name.to_lowercase();
            self.sessions.iter().find(|s| s.alias.folded() == folded)
        };
        found.ok_or_else(|| Error::UnknownSession(name.to_owned()))
    }

    /// A region this catalog accepts: a known one, or one the user has used before.
    pub fn parse_region(&self, s: &str) -> Result<Region, ValidationError> {
        Region::parse(s, &self.settings.extra_regions)
    }

    /// The sessions that use `id` as their assumer, directly.
    pub fn dependents(&self, id: SessionId) -> impl Iterator<Item = &Session> {
        self.sessions
            .iter()
            .filter(move |s| s.kind.assumer() == Some(id))
    }

    /// Adds a session, creating its named profile if it does not exist yet.
    pub fn add(&mut self, new: NewSession) -> Result<Session, Error> {
        self.add_as(SessionId::new(), new)
    }

    /// [`Self::add`] with the id given: one whose secrets were written before the catalog
    /// was locked (they go to the keychain outside the store's lock).
    pub fn add_as(&mut self, id: SessionId, new: NewSession) -> Result<Session, Error> {
        let region = match new.region {
            Some(r) => self.parse_region(&r)?,
            None => self.settings.default_region.clone(),
        };
        let session = Session {
            id,
            alias: new.alias,
            profile: new.profile.unwrap_or_else(ProfileName::default_profile),
            region,
            publish: new.publish.unwrap_or(self.settings.publish),
            kind: new.kind,
            state: State::Inactive,
            expiration: None,
            issued: None,
            pinned: false,
            last_used: None,
        };
        let mut next = self.clone();
        next.ensure_profile(&session.profile);
        next.sessions.push(session.clone());
        next.check()?;
        *self = next;
        Ok(session)
    }

    /// A new session with the fields of session `id` (its profile, region, publish mode and
    /// kind's fields), called `alias` or `<alias> copy` (`copy 2`, … when taken). No secret
    /// is copied: an IAM user's copy needs keys of its own. A session from an integration
    /// comes from its sync and is not duplicated.
    pub fn duplicate(&self, id: SessionId, alias: Option<Alias>) -> Result<NewSession, Error> {
        let of = self
            .get(id)
            .ok_or_else(|| Error::UnknownSession(id.to_string()))?;
        if let Some(integration) = of.kind.integration() {
            return Err(Error::NotDuplicable {
                alias: of.alias.to_string(),
                integration: self
                    .integration(integration)
                    .map_or_else(|| integration.to_string(), |i| i.alias.to_string()),
            });
        }
        let alias = match alias {
            Some(alias) => alias,
            None => (1..)
                .map(|n| match n {
                    1 => format!("{} copy", of.alias),
                    n => format!("{} copy {n}", of.alias),
                })
                .map(|a| a.parse::<Alias>())
                .find(|a| {
                    a.as_ref()
                        .map_or(true, |a| self.resolve(a.as_str()).is_err())
                })
                .unwrap_or_else(|| format!("{} copy", of.alias).parse())?,
        };
        Ok(NewSession {
            alias,
            profile: Some(of.profile.clone()),
            region: Some(of.region.to_string()),
            publish: Some(of.publish),
            kind: of.kind.clone(),
        })
    }

    /// Applies an edit to the session `id`; nothing changes unless all of it is valid.
    pub fn edit(&mut self, id: SessionId, edit: &Edit) -> Result<EditOutcome, Error> {
        let before = self
            .get(id)
            .ok_or_else(|| Error::UnknownSession(id.to_string()))?
            .clone();
        if edit.is_empty() {
            return Err(Error::NothingToEdit);
        }
        let mut session = before.clone();
        let mut changed = Vec::new();
        let kind = session.kind.tag();

        if kind.is_integration_derived() && edit.edits_definition() {
            return Err(Error::NotEditable {
                integration: session
                    .kind
                    .integration()
                    .and_then(|i| self.integration(i))
                    .map_or_else(String::new, |i| i.alias.to_string()),
                alias: session.alias.to_string(),
            });
        }

        let mut record = |field: Field, did_change: bool| {
            if did_change {
                changed.push(field);
            }
        };
        if let Some(alias) = edit.alias.clone() {
            record(Field::Alias, alias != session.alias);
            session.alias = alias;
        }
        if let Some(profile) = edit.profile.clone() {
            record(Field::Profile, profile != session.profile);
            session.profile = profile;
        }
        if let Some(region) = &edit.region {
            let region = self.parse_region(region)?;
            record(Field::Region, region != session.region);
            session.region = region;
        }
        if let Some(publish) = edit.publish {
            record(Field::Publish, publish != session.publish);
            session.publish = publish;
        }

        // A field the kind does not have (Kind::fields) is refused; `session` is a copy, so a
        // refusal part-way changes nothing.
        for value in &edit.values {
            let field = value.field();
            let did_change = session
                .kind
                .set(value.clone())
                .ok_or(Error::NotApplicable { field, kind })?;
            record(field, did_change);
        }
        for (field, given) in [
            (Field::AccessKeyId, edit.access_key_id.is_some()),
            (Field::SecretAccessKey, edit.secret_access_key.is_some()),
        ] {
            if given && !kind.has(field) {
                return Err(Error::NotApplicable { field, kind });
            }
        }
        record(Field::AccessKeyId, edit.access_key_id.is_some());
        record(Field::SecretAccessKey, edit.secret_access_key.is_some());

        if changed.is_empty() {
            return Ok(EditOutcome {
                session: before,
                changed,
                needs_restart: false,
            });
        }

        let mut next = self.clone();
        next.ensure_profile(&session.profile);
        if let Some(slot) = next.sessions.iter_mut().find(|s| s.id == id) {
            *slot = session.clone();
        }
        next.check()?;
        *self = next;

        let needs_restart = matches!(before.state, State::Active | State::Pending)
            && changed.iter().any(|f| *f != Field::Alias);
        Ok(EditOutcome {
            session,
            changed,
            needs_restart,
        })
    }

    /// Removes a session; with `cascade`, also every session chained from it (at any depth).
    /// Returns the removed sessions, dependents first.
    pub fn remove(&mut self, id: SessionId, cascade: bool) -> Result<Vec<Session>, Error> {
        let session = self
            .get(id)
            .ok_or_else(|| Error::UnknownSession(id.to_string()))?;
        let dependents: Vec<String> = self.dependents(id).map(|s| s.alias.to_string()).collect();
        if !dependents.is_empty() && !cascade {
            return Err(Error::HasDependents {
                alias: session.alias.to_string(),
                dependents,
            });
        }
        // Depth-first order puts each dependent before the session it depends on.
        let mut order = Vec::new();
        self.collect_subtree(id, &mut order);
        order.reverse();
        let removed: Vec<Session> = order
            .iter()
            .filter_map(|id| self.get(*id).cloned())
            .collect();
        let mut next = self.clone();
        next.sessions.retain(|s| !order.contains(&s.id));
        next.check()?;
        *self = next;
        Ok(removed)
    }

    /// Takes one session out for good, once [`Self::remove`] has said it may go and its
    /// keychain entries are gone; it must have no dependents left.
    pub fn forget(&mut self, id: SessionId) -> Result<(), Error> {
        let mut next = self.clone();
        next.sessions.retain(|s| s.id != id);
        next.check()?;
        *self = next;
        Ok(())
    }

    fn collect_subtree(&self, id: SessionId, out: &mut Vec<SessionId>) {
        if out.contains(&id) {
            return;
        }
        out.push(id);
        let children: Vec<SessionId> = self.dependents(id).map(|s| s.id).collect();
        for child in children {
            self.collect_subtree(child, out);
        }
    }

    /// Records where a session stands (and when its credentials expire). A failure's message
    /// is scrubbed of anything shaped like a key or token: it may quote AWS, and the store,
    /// `--json` and the menu show it.
    pub fn set_state(
        &mut self,
        id: SessionId,
        state: State,
        expiration: Option<time::OffsetDateTime>,
    ) {
        let state = match state {
            State::Error(message) => State::Error(crate::redact::scrub(&message)),
            other => other,
        };
        if let Some(s) = self.sessions.iter_mut().find(|s| s.id == id) {
            s.state = state;
            s.expiration = expiration;
            if expiration.is_none() {
                s.issued = None;
            }
        }
    }

    /// Records when the credentials of a session were issued (see [`Session::issued`]).
    pub fn set_issued(&mut self, id: SessionId, issued: Option<time::OffsetDateTime>) {
        if let Some(s) = self.sessions.iter_mut().find(|s| s.id == id) {
            s.issued = issued;
        }
    }

    /// Pins a session to the top of the tray's menu, or unpins it.
    pub fn set_pinned(&mut self, id: SessionId, pinned: bool) -> Result<(), Error> {
        let s = self
            .sessions
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::UnknownSession(id.to_string()))?;
        s.pinned = pinned;
        Ok(())
    }

    /// Records when a session was last started.
    pub fn set_last_used(&mut self, id: SessionId, at: time::OffsetDateTime) {
        if let Some(s) = self.sessions.iter_mut().find(|s| s.id == id) {
            s.last_used = Some(at);
        }
    }

    pub fn add_profile(&mut self, profile: ProfileName) -> Result<(), Error> {
        if self.profiles.contains(&profile) {
            return Err(Error::ProfileExists(profile.to_string()));
        }
        self.profiles.push(profile);
        Ok(())
    }

    pub fn remove_profile(&mut self, profile: &ProfileName) -> Result<(), Error> {
        if profile.is_default() {
            return Err(Error::DefaultProfile);
        }
        if !self.profiles.contains(profile) {
            return Err(Error::UnknownProfile(profile.to_string()));
        }
        let users: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| &s.profile == profile)
            .map(|s| s.alias.to_string())
            .collect();
        if !users.is_empty() {
            return Err(Error::ProfileInUse {
                profile: profile.to_string(),
                sessions: users,
            });
        }
        self.profiles.retain(|p| p != profile);
        Ok(())
    }

    fn ensure_profile(&mut self, profile: &ProfileName) {
        if !self.profiles.contains(profile) {
            self.profiles.push(profile.clone());
        }
    }

    /// Checks every invariant that spans more than one field.
    pub(super) fn check(&self) -> Result<(), Error> {
        let invalid = |field, rule: String| Err(Error::Invalid(ValidationError::new(field, rule)));
        let mut profiles = HashSet::new();
        for p in &self.profiles {
            if !profiles.insert(p) {
                return invalid(Field::Profile, format!("{p:?} is listed twice"));
            }
        }
        let mut ids = HashSet::new();
        let mut aliases = HashSet::new();
        for s in &self.sessions {
            if !ids.insert(s.id) {
                return invalid(Field::Id, format!("{} is used by two sessions", s.id));
            }
            if !aliases.insert(s.alias.folded()) {
                return invalid(
                    Field::Alias,
                    format!(
                        "another session is already called {:?} (aliases are unique, ignoring case)",
                        s.alias.as_str()
                    ),
                );
            }
            if let SessionKind::IamUser {
                mfa_device: None,
                mfa_source: Some(_),
            } = &s.kind
            {
                return invalid(
                    Field::MfaSource,
                    format!(
                        "session {:?} has an MFA source but no MFA device: set the MFA device too, or the source back to prompt",
                        s.alias.as_str()
                    ),
                );
            }
            if !profiles.contains(&s.profile) {
                return invalid(
                    Field::Profile,
                    format!(
                        "session {:?} uses {:?}, which is not a named profile",
                        s.alias.as_str(),
                        s.profile.as_str()
                    ),
                );
            }
        }
        for s in &self.sessions {
            let Some(assumer) = s.kind.assumer() else {
                continue;
            };
            if assumer == s.id {
                return invalid(
                    Field::Assumer,
                    format!("session {:?} can't be its own assumer", s.alias.as_str()),
                );
            }
            if self.get(assumer).is_none() {
                return invalid(
                    Field::Assumer,
                    format!(
                        "session {:?} names the assumer {assumer}, which does not exist",
                        s.alias.as_str()
                    ),
                );
            }
            // Walk up the chain: more steps than sessions means we are going round a cycle.
            let mut at = assumer;
            for _ in 0..self.sessions.len() {
                match self.get(at).and_then(|p| p.kind.assumer()) {
                    Some(next) if next == s.id => {
                        return invalid(
                            Field::Assumer,
                            format!(
                                "the assumers of session {:?} form a cycle",
                                s.alias.as_str()
                            ),
                        );
                    }
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
        self.check_integrations()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn federated(alias: &str) -> NewSession {
        NewSession {
            publish: None,
            alias: alias.parse().unwrap(),
            profile: None,
            region: None,
            kind: SessionKind::IamRoleFederated {
                role_arn: "arn:aws:iam::123456789012:role/r".parse().unwrap(),
                saml_url: "https://idp.example.com".parse().unwrap(),
                idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
            },
        }
    }

    fn chained(alias: &str, assumer: SessionId) -> NewSession {
        NewSession {
            publish: None,
            alias: alias.parse().unwrap(),
            profile: Some("dev".parse().unwrap()),
            region: Some("eu-west-1".to_owned()),
            kind: SessionKind::IamRoleChained {
                role_arn: "arn:aws:iam::123456789012:role/c".parse().unwrap(),
                role_session_name: None,
                assumer,
                external_id: None,
            },
        }
    }

    #[test]
    fn add_applies_defaults_and_creates_missing_profiles() {
        let mut c = Catalog::default();
        let root = c.add(federated("root")).unwrap();
        assert_eq!(root.profile.as_str(), "default");
        assert_eq!(root.region.as_str(), "us-east-1");
        assert_eq!(root.state, State::Inactive);
        let child = c.add(chained("child", root.id)).unwrap();
        assert_eq!(child.region.as_str(), "eu-west-1");
        assert_eq!(
            c.profiles()
                .iter()
                .map(ProfileName::as_str)
                .collect::<Vec<_>>(),
            ["default", "dev"]
        );
    }

    #[test]
    fn a_failed_change_leaves_the_catalog_untouched() {
        let mut c = Catalog::default();
        let a = c.add(federated("a")).unwrap();
        let b = c.add(chained("b", a.id)).unwrap();
        let snapshot = c.clone();
        assert!(c.add(federated("A")).is_err());
        assert!(c.add(chained("x", SessionId::new())).is_err());
        let cycle = Edit {
            values: vec![Value::Assumer(b.id)],
            ..Edit::default()
        };
        assert!(c.edit(b.id, &cycle).is_err(), "self");
        let bad_region = Edit {
            region: Some("nowhere-1".into()),
            profile: Some("new".parse().unwrap()),
            ..Edit::default()
        };
        assert!(c.edit(a.id, &bad_region).is_err());
        assert!(c.remove(a.id, false).is_err());
        assert_eq!(c, snapshot);
    }

    #[test]
    fn cycles_of_any_length_are_refused() {
        let mut c = Catalog::default();
        let a = c.add(federated("a")).unwrap();
        let b = c.add(chained("b", a.id)).unwrap();
        let x = c.add(chained("x", b.id)).unwrap();
        let y = c.add(chained("y", x.id)).unwrap();
        let err = c
            .edit(
                b.id,
                &Edit {
                    values: vec![Value::Assumer(y.id)],
                    ..Edit::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Invalid(ValidationError {
                    field: Field::Assumer,
                    ..
                })
            ),
            "{err}"
        );
        // Deep chains without cycles are fine.
        c.edit(
            b.id,
            &Edit {
                values: vec![Value::Assumer(a.id)],
                ..Edit::default()
            },
        )
        .unwrap();
    }

    #[test]
    fn edit_reports_what_changed_and_whether_an_active_session_must_restart() {
        let mut c = Catalog::default();
        let a = c.add(federated("a")).unwrap();
        assert_eq!(
            c.edit(a.id, &Edit::default()).unwrap_err(),
            Error::NothingToEdit
        );
        let same = c
            .edit(
                a.id,
                &Edit {
                    alias: Some("a".parse().unwrap()),
                    ..Edit::default()
                },
            )
            .unwrap();
        assert!(same.changed.is_empty());
        let out = c
            .edit(
                a.id,
                &Edit {
                    region: Some("eu-west-1".into()),
                    ..Edit::default()
                },
            )
            .unwrap();
        assert_eq!(out.changed, [Field::Region]);
        assert!(!out.needs_restart, "inactive sessions need no restart");

        c.sessions.iter_mut().for_each(|s| s.state = State::Active);
        let out = c
            .edit(
                a.id,
                &Edit {
                    alias: Some("renamed".parse().unwrap()),
                    ..Edit::default()
                },
            )
            .unwrap();
        assert!(!out.needs_restart, "a new alias changes no credentials");
        let out = c
            .edit(
                a.id,
                &Edit {
                    profile: Some("ops".parse().unwrap()),
                    ..Edit::default()
                },
            )
            .unwrap();
        assert!(out.needs_restart);
        assert!(
            c.profiles().iter().any(|p| p.as_str() == "ops"),
            "edit creates the profile"
        );
    }

    #[test]
    fn fields_of_other_kinds_are_refused() {
        let mut c = Catalog::default();
        let a = c.add(federated("a")).unwrap();
        let err = c
            .edit(
                a.id,
                &Edit {
                    values: vec![Value::RoleSessionName(None)],
                    ..Edit::default()
                },
            )
            .unwrap_err();
        assert_eq!(
            err,
            Error::NotApplicable {
                field: Field::RoleSessionName,
                kind: Kind::IamRoleFederated
            }
        );
    }

    #[test]
    fn integration_derived_sessions_only_take_profile_and_region() {
        let sso = Session {
            publish: crate::session::Publish::File,
            id: SessionId::new(),
            alias: "sso".parse().unwrap(),
            profile: ProfileName::default_profile(),
            region: Region::us_east_1(),
            kind: SessionKind::AwsSsoRole {
                account_id: "123456789012".parse().unwrap(),
                role_name: "Admin".parse().unwrap(),
                integration: "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap(),
            },
            state: State::Inactive,
            expiration: None,
            issued: None,
            pinned: false,
            last_used: None,
        };
        let mut c = Catalog::new(
            Settings::default(),
            vec![],
            vec![sso.clone()],
            vec![super::super::Integration {
                id: "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap(),
                alias: "corp".parse().unwrap(),
                start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
                region: Region::us_east_1(),
                login: super::super::Login::LoggedOut,
                profiles: Vec::new(),
                pace: None,
            }],
        )
        .unwrap();
        let err = c
            .edit(
                sso.id,
                &Edit {
                    alias: Some("x".parse().unwrap()),
                    ..Edit::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, Error::NotEditable { .. }));
        assert!(err.to_string().contains("can't be edited"));
        let out = c
            .edit(
                sso.id,
                &Edit {
                    region: Some("eu-west-1".into()),
                    ..Edit::default()
                },
            )
            .unwrap();
        assert_eq!(out.changed, [Field::Region]);
    }

    #[test]
    fn remove_cascades_dependents_first_and_profiles_guard_their_users() {
        let mut c = Catalog::default();
        let a = c.add(federated("a")).unwrap();
        let b = c.add(chained("b", a.id)).unwrap();
        let d = c.add(chained("d", b.id)).unwrap();
        let err = c.remove(a.id, false).unwrap_err();
        assert_eq!(
            err,
            Error::HasDependents {
                alias: "a".into(),
                dependents: vec!["b".into()]
            }
        );
        let dev: ProfileName = "dev".parse().unwrap();
        assert!(matches!(
            c.remove_profile(&dev),
            Err(Error::ProfileInUse { .. })
        ));
        assert_eq!(
            c.remove_profile(&ProfileName::default_profile()),
            Err(Error::DefaultProfile)
        );
        let removed: Vec<SessionId> = c.remove(a.id, true).unwrap().iter().map(|s| s.id).collect();
        assert_eq!(removed, [d.id, b.id, a.id]);
        c.remove_profile(&dev).unwrap();
        assert_eq!(
            c.add_profile(ProfileName::default_profile()),
            Err(Error::ProfileExists("default".into()))
        );
    }

    #[test]
    fn an_error_message_is_stored_without_the_keys_or_tokens_it_quotes() {
        let mut c = Catalog::default();
        let a = c.add(federated("a")).unwrap();
        let token =
            "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Kq2+9zWb3f1".repeat(3);
        c.set_state(
            a.id,
            State::Error(format!(
                "session \"a\": AssumeRoleWithSAML failed (AWS said: key ASIAQWERTYUIOP123456 token {token} for arn:aws:iam::123456789012:role/r)"
            )),
            None,
        );
        let State::Error(message) = &c.get(a.id).unwrap().state else {
            panic!("not an error: {:?}", c.get(a.id));
        };
        assert_eq!(
            message,
            "session \"a\": AssumeRoleWithSAML failed (AWS said: key <redacted> token <redacted> for arn:aws:iam::123456789012:role/r)"
        );
    }

    #[test]
    fn an_id_never_resolves_to_another_session_through_an_alias() {
        let mut c = Catalog::default();
        let a = c.add(federated("a")).unwrap();
        let b = c.add(federated("b")).unwrap();
        // The id's other spellings name the same session.
        for name in [
            a.id.to_string(),
            a.id.to_string().to_uppercase(),
            format!("{{{}}}", a.id),
            a.id.to_string().replace('-', ""),
        ] {
            assert_eq!(c.resolve(&name).unwrap().id, a.id, "{name}");
        }
        // No alias can take a's id, so b can't be reached through it, even once a is gone.
        assert!(a.id.to_string().parse::<Alias>().is_err());
        assert!(b.alias.as_str().parse::<SessionId>().is_err());
        c.remove(a.id, false).unwrap();
        assert_eq!(
            c.resolve(&a.id.to_string()).unwrap_err(),
            Error::UnknownSession(a.id.to_string())
        );
    }

    #[test]
    fn resolve_finds_by_id_or_alias_ignoring_case() {
        let mut c = Catalog::default();
        let a = c.add(federated("Prod Admin")).unwrap();
        assert_eq!(c.resolve("prod admin").unwrap().id, a.id);
        assert_eq!(c.resolve(&a.id.to_string()).unwrap().id, a.id);
        assert_eq!(
            c.resolve("nope").unwrap_err(),
            Error::UnknownSession("nope".into())
        );
    }
}
