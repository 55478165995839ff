//! Integrations: sources of derived sessions. An AWS IAM Identity Center (SSO) instance has a
//! hidden id, an alias (unique among integrations, ignoring case), its portal's start URL and
//! its SSO region, and is logged in or out. Its derived `aws-sso-role` sessions name it; the
//! catalog keeps that link whole (a derived session's integration exists; deleting one names
//! what would go with it).

use time::OffsetDateTime;

use super::catalog::Error;
use super::{Alias, Catalog, Field, IntegrationId, Session, SessionId, StartUrl, ValidationError};
use crate::session::Region;

/// Whether an integration has tokens to work with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Login {
    #[default]
    LoggedOut,
    /// Logged in; `until` is when the portal session ends (a refresh can't go past it).
    LoggedIn { until: Option<OffsetDateTime> },
}

impl Login {
    pub fn as_str(&self) -> &'static str {
        match self {
            Login::LoggedOut => "logged-out",
            Login::LoggedIn { .. } => "logged-in",
        }
    }
}

/// An AWS IAM Identity Center instance that sessions are derived from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: IntegrationId,
    pub alias: Alias,
    pub start_url: StartUrl,
    /// The IAM Identity Center's own region (its OIDC and portal endpoints).
    pub region: Region,
    pub login: Login,
    /// The profile names the user had for some of its roles (`import aws-config`): a sync
    /// that creates the session of such a role calls it that, and publishes it there.
    pub profiles: Vec<RememberedProfile>,
    /// What the pace of its calls learned of the rate the portal bears (from the last sync):
    /// the next process's pace starts there.
    pub pace: Option<crate::aws::pace::Learned>,
}

/// A profile of `~/.aws/config` that named one of an integration's roles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RememberedProfile {
    pub account_id: super::AccountId,
    pub role_name: super::RoleName,
    pub profile: super::ProfileName,
}

impl Integration {
    /// The kind of integration, as `integration add <kind>` and `--json` name it.
    pub fn kind(&self) -> &'static str {
        "aws-sso"
    }
}

/// An integration to add; the catalog gives it an id.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub alias: Alias,
    pub start_url: StartUrl,
    /// Parsed against the catalog's known regions.
    pub region: String,
}

/// Changes to an integration; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct IntegrationEdit {
    pub alias: Option<Alias>,
    pub start_url: Option<StartUrl>,
    pub region: Option<String>,
}

impl IntegrationEdit {
    pub fn is_empty(&self) -> bool {
        self.alias.is_none() && self.start_url.is_none() && self.region.is_none()
    }
}

impl Catalog {
    pub fn integrations(&self) -> &[Integration] {
        &self.integrations
    }

    pub fn integration(&self, id: IntegrationId) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.id == id)
    }

    /// The integration with this id or alias (ignoring case).
    pub fn resolve_integration(&self, name: &str) -> Result<&Integration, Error> {
        let name = name.trim();
        if let Ok(id) = name.parse::<IntegrationId>()
            && let Some(found) = self.integration(id)
        {
            return Ok(found);
        }
        let folded = name.to_lowercase();
        self.integrations
            .iter()
            .find(|i| i.alias.folded() == folded)
            .ok_or_else(|| Error::UnknownIntegration(name.to_owned()))
    }

    /// The sessions derived from an integration.
    pub fn derived_from(&self, id: IntegrationId) -> impl Iterator<Item = &Session> {
        self.sessions()
            .iter()
            .filter(move |s| s.kind.integration() == Some(id))
    }

    pub fn add_integration(&mut self, new: NewIntegration) -> Result<Integration, Error> {
        let integration = Integration {
            id: IntegrationId::new(),
            alias: new.alias,
            start_url: new.start_url,
            region: self.parse_region(&new.region)?,
            login: Login::LoggedOut,
            profiles: Vec::new(),
            pace: None,
        };
        let mut next = self.clone();
        next.integrations.push(integration.clone());
        next.check()?;
        *self = next;
        Ok(integration)
    }

    /// Adds profile names for the integration's roles (a role already named keeps its name).
    pub fn remember_profiles(
        &mut self,
        id: IntegrationId,
        profiles: Vec<RememberedProfile>,
    ) -> Result<(), Error> {
        let slot = self
            .integrations
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| Error::UnknownIntegration(id.to_string()))?;
        for p in profiles {
            let named = slot
                .profiles
                .iter()
                .any(|r| r.account_id == p.account_id && r.role_name == p.role_name);
            if !named {
                slot.profiles.push(p);
            }
        }
        Ok(())
    }

    pub fn edit_integration(
        &mut self,
        id: IntegrationId,
        edit: &IntegrationEdit,
    ) -> Result<Integration, Error> {
        if edit.is_empty() {
            return Err(Error::NothingToEdit);
        }
        let region = edit
            .region
            .as_deref()
            .map(|r| self.parse_region(r))
            .transpose()?;
        let mut next = self.clone();
        let slot = next
            .integrations
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| Error::UnknownIntegration(id.to_string()))?;
        if let Some(alias) = &edit.alias {
            slot.alias = alias.clone();
        }
        if let Some(start_url) = &edit.start_url {
            // Another portal: the tokens of the old one are no use there.
            if *start_url != slot.start_url {
                slot.login = Login::LoggedOut;
            }
            slot.start_url = start_url.clone();
        }
        if let Some(region) = region {
            if region != slot.region {
                slot.login = Login::LoggedOut;
            }
            slot.region = region;
        }
        let edited = slot.clone();
        next.check()?;
        *self = next;
        Ok(edited)
    }

    pub fn set_login(&mut self, id: IntegrationId, login: Login) {
        if let Some(slot) = self.integrations.iter_mut().find(|i| i.id == id) {
            slot.login = login;
        }
    }

    /// Records what the pace of an integration's calls learned.
    pub fn set_pace(&mut self, id: IntegrationId, pace: crate::aws::pace::Learned) {
        if let Some(slot) = self.integrations.iter_mut().find(|i| i.id == id) {
            slot.pace = Some(pace);
        }
    }

    /// The sessions that deleting the integration removes, each after the ones that depend on
    /// it: its derived sessions and, with `cascade`, every session chained from them. Without
    /// `cascade`, chained sessions built on them refuse the delete, named.
    pub fn integration_removal(
        &self,
        id: IntegrationId,
        cascade: bool,
    ) -> Result<Vec<SessionId>, Error> {
        let integration = self
            .integration(id)
            .ok_or_else(|| Error::UnknownIntegration(id.to_string()))?;
        let derived: Vec<SessionId> = self.derived_from(id).map(|s| s.id).collect();
        let dependents: Vec<String> = derived
            .iter()
            .flat_map(|d| self.dependents(*d))
            .filter(|s| s.kind.integration() != Some(id))
            .map(|s| s.alias.to_string())
            .collect();
        if !dependents.is_empty() && !cascade {
            return Err(Error::IntegrationHasDependents {
                alias: integration.alias.to_string(),
                dependents,
            });
        }
        Ok(derived)
    }

    /// Takes the integration out, once its derived sessions are gone.
    pub fn forget_integration(&mut self, id: IntegrationId) -> Result<(), Error> {
        let mut next = self.clone();
        next.integrations.retain(|i| i.id != id);
        next.check()?;
        *self = next;
        Ok(())
    }

    /// The integration rules: unique ids and aliases; every derived session's integration
    /// exists.
    pub(super) fn check_integrations(&self) -> Result<(), Error> {
        let invalid = |field, rule: String| Err(Error::Invalid(ValidationError::new(field, rule)));
        let mut ids = std::collections::HashSet::new();
        let mut aliases = std::collections::HashSet::new();
        for i in &self.integrations {
            if !ids.insert(i.id) {
                return invalid(
                    Field::Integration,
                    format!("{} is used by two integrations", i.id),
                );
            }
            if !aliases.insert(i.alias.folded()) {
                return invalid(
                    Field::Alias,
                    format!(
                        "another integration is already called {:?} (aliases are unique, ignoring case)",
                        i.alias.as_str()
                    ),
                );
            }
        }
        for s in self.sessions() {
            if let Some(integration) = s.kind.integration()
                && self.integration(integration).is_none()
            {
                return invalid(
                    Field::Integration,
                    format!(
                        "session {:?} comes from the integration {integration}, which does not exist",
                        s.alias.as_str()
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{NewSession, RoleArn, SessionKind};

    fn new_corp() -> NewIntegration {
        NewIntegration {
            alias: "Corp".parse().unwrap(),
            start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
            region: "eu-west-1".into(),
        }
    }

    fn derived(c: &mut Catalog, integration: IntegrationId, alias: &str) -> Session {
        c.add(NewSession {
            alias: alias.parse().unwrap(),
            profile: None,
            region: None,
            publish: None,
            kind: SessionKind::AwsSsoRole {
                account_id: "123456789012".parse().unwrap(),
                role_name: "Admin".parse().unwrap(),
                integration,
            },
        })
        .unwrap()
    }

    #[test]
    fn integrations_have_unique_aliases_and_are_found_by_id_or_alias() {
        let mut c = Catalog::default();
        let corp = c.add_integration(new_corp()).unwrap();
        assert_eq!(corp.login, Login::LoggedOut);
        assert_eq!(c.resolve_integration("corp").unwrap().id, corp.id);
        assert_eq!(
            c.resolve_integration(&corp.id.to_string()).unwrap().id,
            corp.id
        );
        assert!(matches!(
            c.resolve_integration("other"),
            Err(Error::UnknownIntegration(_))
        ));
        let err = c.add_integration(new_corp()).unwrap_err().to_string();
        assert!(err.contains("already called"), "{err}");
        let mut bad = new_corp();
        bad.alias = "Other".parse().unwrap();
        bad.region = "eu-wset-1".into();
        assert!(c.add_integration(bad).is_err());
        assert_eq!(c.integrations().len(), 1, "a refused add changes nothing");
        for url in ["http://sso.example.com/start", "ftp://x/y", "start"] {
            assert!(url.parse::<StartUrl>().is_err(), "{url}");
        }
        "http://127.0.0.1:8080/start".parse::<StartUrl>().unwrap();
    }

    #[test]
    fn a_derived_session_needs_its_integration_and_another_portal_logs_it_out() {
        let mut c = Catalog::default();
        let corp = c.add_integration(new_corp()).unwrap();
        c.set_login(corp.id, Login::LoggedIn { until: None });
        let session = derived(&mut c, corp.id, "prod/Admin");
        assert_eq!(c.derived_from(corp.id).count(), 1);
        // Deleting the integration while its session remains breaks the rule.
        assert!(c.forget_integration(corp.id).is_err());
        assert!(
            c.add(NewSession {
                alias: "orphan".parse().unwrap(),
                profile: None,
                region: None,
                publish: None,
                kind: SessionKind::AwsSsoRole {
                    account_id: "123456789012".parse().unwrap(),
                    role_name: "Admin".parse().unwrap(),
                    integration: IntegrationId::new(),
                },
            })
            .is_err()
        );
        // The same alias: still logged in. Another start URL: logged out.
        let renamed = c
            .edit_integration(
                corp.id,
                &IntegrationEdit {
                    alias: Some("corp-eu".parse().unwrap()),
                    ..IntegrationEdit::default()
                },
            )
            .unwrap();
        assert!(matches!(renamed.login, Login::LoggedIn { .. }));
        let moved = c
            .edit_integration(
                corp.id,
                &IntegrationEdit {
                    start_url: Some("https://d-0987654321.awsapps.com/start".parse().unwrap()),
                    ..IntegrationEdit::default()
                },
            )
            .unwrap();
        assert_eq!(moved.login, Login::LoggedOut);
        // An edit of the derived session's definition names the integration.
        let err = c
            .edit(
                session.id,
                &crate::session::Edit {
                    alias: Some("mine".parse().unwrap()),
                    ..Default::default()
                },
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"corp-eu\"") && err.contains("profile"),
            "{err}"
        );
    }

    #[test]
    fn removing_an_integration_names_the_sessions_chained_from_its_sessions() {
        let mut c = Catalog::default();
        let corp = c.add_integration(new_corp()).unwrap();
        let root = derived(&mut c, corp.id, "prod/Admin");
        let role: RoleArn = "arn:aws:iam::123456789012:role/ops".parse().unwrap();
        c.add(NewSession {
            alias: "ops".parse().unwrap(),
            profile: None,
            region: None,
            publish: None,
            kind: SessionKind::IamRoleChained {
                role_arn: role,
                role_session_name: None,
                assumer: root.id,
                external_id: None,
            },
        })
        .unwrap();
        let err = c
            .integration_removal(corp.id, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"ops\"") && err.contains("--cascade"),
            "{err}"
        );
        assert_eq!(c.integration_removal(corp.id, true).unwrap(), [root.id]);
    }
}
