//! The tray's forms as pure functions: what each dialog shows (fields, pre-filled values,
//! choices) and how its values become an engine command's input, checked against the catalog
//! so a refusal re-opens the dialog with the reason. Tested without a display.

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::dialog::{Entry, Form};
use credtray::session::Field;
use credtray::session::{
    AccessKeyId, Alias, Catalog, Edit, IamUserKeys, IdpArn, Kind, MfaDevice, NewSession, RoleArn,
    RoleSessionName, SamlUrl, SecretAccessKey, Session, SessionId, SessionKind, ValidationError,
};

fn profiles(catalog: &Catalog) -> Vec<String> {
    catalog.profiles().iter().map(ToString::to_string).collect()
}

fn regions() -> Vec<String> {
    credtray::aws::regions()
        .map(|r| r.code.to_owned())
        .collect()
}

fn aliases(catalog: &Catalog, except: Option<SessionId>) -> Vec<String> {
    catalog
        .sessions()
        .iter()
        .filter(|s| Some(s.id) != except)
        .map(|s| s.alias.to_string())
        .collect()
}

fn optional(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn message(e: ValidationError) -> String {
    e.to_string()
}

// --- Edit ▸ one parameter ------------------------------------------------------------------------

/// The dialog for one parameter: pre-filled with its value; secrets masked and empty; choices
/// (profile, region, assumer) in an editable combo box.
pub fn edit(catalog: &Catalog, session: &Session, param: Field) -> Form {
    let current = current_value(catalog, session, param);
    let field = match param {
        _ if param.is_secret() => Entry::secret(param.label()),
        Field::Profile => Entry::choice(param.label(), current, profiles(catalog)),
        Field::Region => Entry::choice(param.label(), current, regions()),
        Field::Assumer => Entry::choice(param.label(), current, aliases(catalog, Some(session.id))),
        _ => Entry::text(param.label(), current),
    };
    Form::new(
        format!("credtray — Edit \"{}\"", session.alias),
        vec![field],
    )
}

/// The edit a dialog's value stands for, refused unless the catalog would accept it.
pub fn parse_edit(
    catalog: &Catalog,
    id: SessionId,
    param: Field,
    value: &str,
) -> Result<Edit, String> {
    let edit = edit_of(catalog, param, value).map_err(message)?;
    catalog.clone().edit(id, &edit).map_err(|e| e.to_string())?;
    Ok(edit)
}

fn current_value(catalog: &Catalog, session: &Session, param: Field) -> String {
    match (param, &session.kind) {
        (Field::Alias, _) => session.alias.to_string(),
        (Field::Profile, _) => session.profile.to_string(),
        (Field::Region, _) => session.region.to_string(),
        (Field::MfaDevice, SessionKind::IamUser { mfa_device }) => mfa_device
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        (
            Field::RoleArn,
            SessionKind::IamRoleChained { role_arn, .. }
            | SessionKind::IamRoleFederated { role_arn, .. },
        ) => role_arn.to_string(),
        (
            Field::RoleSessionName,
            SessionKind::IamRoleChained {
                role_session_name, ..
            },
        ) => role_session_name
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        (Field::Assumer, SessionKind::IamRoleChained { assumer, .. }) => catalog
            .get(*assumer)
            .map(|a| a.alias.to_string())
            .unwrap_or_default(),
        (Field::SamlUrl, SessionKind::IamRoleFederated { saml_url, .. }) => saml_url.to_string(),
        (Field::IdpArn, SessionKind::IamRoleFederated { idp_arn, .. }) => idp_arn.to_string(),
        _ => String::new(),
    }
}

fn edit_of(catalog: &Catalog, param: Field, value: &str) -> Result<Edit, ValidationError> {
    let value = value.trim();
    let secret = || SecretString::from(value.to_owned());
    let mut edit = Edit::default();
    match param {
        Field::Alias => edit.alias = Some(value.parse()?),
        Field::Profile => edit.profile = Some(value.parse()?),
        Field::Region => {
            catalog.parse_region(value)?;
            edit.region = Some(value.to_owned());
        }
        Field::MfaDevice => edit.mfa_device = Some(optional(value).map(|v| v.parse()).transpose()?),
        Field::AccessKeyId => edit.access_key_id = Some(AccessKeyId::parse(&secret())?),
        Field::SecretAccessKey => edit.secret_access_key = Some(SecretAccessKey::parse(&secret())?),
        Field::RoleArn => edit.role_arn = Some(value.parse()?),
        Field::RoleSessionName => {
            edit.role_session_name = Some(optional(value).map(|v| v.parse()).transpose()?)
        }
        Field::Assumer => {
            let assumer = catalog.resolve(value).map_err(|_| {
                ValidationError::new(
                    Field::Assumer,
                    format!("no session has the id or alias {value:?}"),
                )
            })?;
            edit.assumer = Some(assumer.id);
        }
        Field::SamlUrl => edit.saml_url = Some(value.parse()?),
        Field::IdpArn => edit.idp_arn = Some(value.parse()?),
        // Never offered by Edit ▸ (an id, a kind, a one-time code, SSO-derived fields).
        Field::Id
        | Field::Kind
        | Field::MfaCode
        | Field::AccountId
        | Field::RoleName
        | Field::Integration => {
            return Err(ValidationError::new(param, "can't be edited here"));
        }
    }
    Ok(edit)
}

// --- Create chained session… ---------------------------------------------------------------------

/// The role ARN to assume, with the alias and role session name pre-filled with the defaults of `Engine::chain`.
pub fn chain(parent: &Session) -> Form {
    Form::new(
        format!(
            "credtray — Create chained session from \"{}\"",
            parent.alias
        ),
        vec![
            Entry::text("Role ARN", ""),
            Entry::text("Session alias", format!("{} chained", parent.alias)),
            Entry::text(
                "Role session name",
                RoleSessionName::derived_from(&parent.alias).to_string(),
            ),
        ],
    )
}

pub fn parse_chain(
    catalog: &Catalog,
    values: &[Zeroizing<String>],
) -> Result<(RoleArn, Alias, RoleSessionName), String> {
    let role_arn: RoleArn = values[0].parse().map_err(message)?;
    let alias: Alias = values[1].parse().map_err(message)?;
    let role_session_name: RoleSessionName = values[2].parse().map_err(message)?;
    if catalog.resolve(alias.as_str()).is_ok() {
        return Err(format!(
            "invalid alias: another session is already called {:?}",
            alias.as_str()
        ));
    }
    Ok((role_arn, alias, role_session_name))
}

// --- Add session ▸ -------------------------------------------------------------------------------

/// Every field of the chosen type in one form (`None` for kinds that come from integrations).
pub fn add(catalog: &Catalog, kind: Kind) -> Option<Form> {
    let mut fields = vec![
        Entry::text("Session alias", ""),
        Entry::choice("Named profile", "default", profiles(catalog)),
        Entry::choice(
            "AWS region",
            catalog.settings.default_region.to_string(),
            regions(),
        ),
    ];
    match kind {
        Kind::IamUser => fields.extend([
            Entry::text("MFA device (optional)", ""),
            Entry::secret("Access key ID"),
            Entry::secret("Secret access key"),
        ]),
        Kind::IamRoleChained => fields.extend([
            Entry::text("Role ARN", ""),
            Entry::text("Role session name (optional)", ""),
            Entry::choice("Assumer session", "", aliases(catalog, None)),
        ]),
        Kind::IamRoleFederated => fields.extend([
            Entry::text("Role ARN", ""),
            Entry::text("SAML 2.0 URL", "https://"),
            Entry::text("Identity provider ARN", ""),
        ]),
        Kind::AwsSsoRole => return None,
    }
    Some(Form::new(format!("credtray — Add {kind} session"), fields))
}

pub fn parse_add(
    catalog: &Catalog,
    kind: Kind,
    v: &[Zeroizing<String>],
) -> Result<(NewSession, Option<IamUserKeys>), String> {
    let (session_kind, keys) = match kind {
        Kind::IamUser => {
            let mfa_device = optional(&v[3])
                .map(|m| m.parse::<MfaDevice>())
                .transpose()
                .map_err(message)?;
            let keys = IamUserKeys {
                access_key_id: AccessKeyId::parse(&SecretString::from(v[4].as_str()))
                    .map_err(message)?,
                secret_access_key: SecretAccessKey::parse(&SecretString::from(v[5].as_str()))
                    .map_err(message)?,
            };
            (SessionKind::IamUser { mfa_device }, Some(keys))
        }
        Kind::IamRoleChained => {
            let role_arn = v[3].parse().map_err(message)?;
            let role_session_name = optional(&v[4])
                .map(|n| n.parse::<RoleSessionName>())
                .transpose()
                .map_err(message)?;
            let assumer = catalog
                .resolve(&v[5])
                .map_err(|_| {
                    format!(
                        "invalid assumer session: no session has the id or alias {:?}",
                        v[5].trim()
                    )
                })?
                .id;
            (
                SessionKind::IamRoleChained {
                    role_arn,
                    role_session_name,
                    assumer,
                },
                None,
            )
        }
        Kind::IamRoleFederated => (
            SessionKind::IamRoleFederated {
                role_arn: v[3].parse().map_err(message)?,
                saml_url: v[4].parse::<SamlUrl>().map_err(message)?,
                idp_arn: v[5].parse::<IdpArn>().map_err(message)?,
            },
            None,
        ),
        Kind::AwsSsoRole => return Err("AWS SSO sessions come from an integration".to_owned()),
    };
    let new = NewSession {
        alias: v[0].parse().map_err(message)?,
        profile: Some(v[1].trim().parse().map_err(message)?),
        region: Some(v[2].trim().to_owned()),
        kind: session_kind,
    };
    catalog
        .clone()
        .add(new.clone())
        .map_err(|e| e.to_string())?;
    Ok((new, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> (Catalog, Session) {
        let mut c = Catalog::default();
        let s = c
            .add(NewSession {
                alias: "Prod Admin".parse().unwrap(),
                profile: Some("prod".parse().unwrap()),
                region: Some("eu-west-1".into()),
                kind: SessionKind::IamUser {
                    mfa_device: Some("GAHT12345678".parse().unwrap()),
                },
            })
            .unwrap();
        (c, s)
    }

    fn values(v: &[&str]) -> Vec<Zeroizing<String>> {
        v.iter().map(|s| Zeroizing::new((*s).to_owned())).collect()
    }

    #[test]
    fn edit_forms_are_prefilled_masked_or_offer_choices() {
        let (c, s) = catalog();
        let f = edit(&c, &s, Field::MfaDevice);
        assert_eq!(f.title, "credtray — Edit \"Prod Admin\"");
        assert_eq!(f.fields[0].value.as_str(), "GAHT12345678");
        let f = edit(&c, &s, Field::SecretAccessKey);
        assert!(f.fields[0].masked && f.fields[0].value.is_empty());
        let f = edit(&c, &s, Field::Region);
        assert_eq!(f.fields[0].value.as_str(), "eu-west-1");
        assert!(
            f.fields[0].choices.len() > 40
                && f.fields[0].choices.contains(&"ap-southeast-2".to_owned())
        );
        assert_eq!(
            edit(&c, &s, Field::Profile).fields[0].choices,
            ["default", "prod"]
        );
    }

    #[test]
    fn edit_values_are_checked_against_the_catalog() {
        let (c, s) = catalog();
        let e = parse_edit(&c, s.id, Field::Region, " us-west-2 ").unwrap();
        assert_eq!(e.region.as_deref(), Some("us-west-2"));
        assert!(
            parse_edit(&c, s.id, Field::Region, "us-wset-2")
                .unwrap_err()
                .contains("did you mean us-west-2")
        );
        assert_eq!(
            parse_edit(&c, s.id, Field::MfaDevice, "")
                .unwrap()
                .mfa_device,
            Some(None),
            "empty clears it"
        );
        let err =
            parse_edit(&c, s.id, Field::RoleArn, "arn:aws:iam::123456789012:role/x").unwrap_err();
        assert!(err.contains("iam-user sessions have no role ARN"), "{err}");
        let err = parse_edit(&c, s.id, Field::AccessKeyId, "not-a-key").unwrap_err();
        assert!(
            err.contains("access key id") && !err.contains("not-a-key"),
            "{err}"
        );
    }

    #[test]
    fn chain_form_has_the_spec_defaults_and_refuses_taken_aliases() {
        let (c, s) = catalog();
        let f = chain(&s);
        let got: Vec<&str> = f.fields.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(got, ["", "Prod Admin chained", "credtray-Prod-Admin"]);
        let ok = parse_chain(
            &c,
            &values(&[
                "arn:aws:iam::123456789012:role/ops",
                "Prod Admin chained",
                "credtray-Prod-Admin",
            ]),
        )
        .unwrap();
        assert_eq!(ok.0.as_str(), "arn:aws:iam::123456789012:role/ops");
        assert!(
            parse_chain(
                &c,
                &values(&["arn:aws:iam::123456789012:role/ops", "prod admin", "x-y"])
            )
            .unwrap_err()
            .contains("already called")
        );
        assert!(
            parse_chain(&c, &values(&["role/ops", "a", "bb"]))
                .unwrap_err()
                .contains("role ARN")
        );
    }

    #[test]
    fn add_forms_walk_every_field_of_the_kind() {
        let (c, _) = catalog();
        let f = add(&c, Kind::IamUser).unwrap();
        let labels: Vec<&str> = f.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Session alias",
                "Named profile",
                "AWS region",
                "MFA device (optional)",
                "Access key ID",
                "Secret access key"
            ]
        );
        assert!(f.fields[4].masked && f.fields[5].masked);
        assert!(add(&c, Kind::AwsSsoRole).is_none());
        let (new, keys) = parse_add(
            &c,
            Kind::IamUser,
            &values(&[
                "dev",
                "dev",
                "us-east-2",
                "",
                "AKIAIOSFODNN7EXAMPLE",
                "secret",
            ]),
        )
        .unwrap();
        assert_eq!((new.alias.as_str(), keys.is_some()), ("dev", true));
        let (new, _) = parse_add(
            &c,
            Kind::IamRoleChained,
            &values(&[
                "ops",
                "default",
                "us-east-1",
                "arn:aws:iam::123456789012:role/o",
                "",
                "prod admin",
            ]),
        )
        .unwrap();
        assert!(matches!(
            new.kind,
            SessionKind::IamRoleChained {
                role_session_name: None,
                ..
            }
        ));
        let (new, _) = parse_add(
            &c,
            Kind::IamRoleFederated,
            &values(&[
                "fed",
                "default",
                "us-east-1",
                "arn:aws:iam::123456789012:role/f",
                "https://idp.example.com",
                "arn:aws:iam::123456789012:saml-provider/p",
            ]),
        )
        .unwrap();
        assert!(matches!(new.kind, SessionKind::IamRoleFederated { .. }));
        for (kind, bad, what) in [
            (
                Kind::IamUser,
                values(&[
                    "PROD ADMIN",
                    "dev",
                    "us-east-1",
                    "",
                    "AKIAIOSFODNN7EXAMPLE",
                    "s",
                ]),
                "already called",
            ),
            (
                Kind::IamUser,
                values(&[
                    "x",
                    "my profile",
                    "us-east-1",
                    "",
                    "AKIAIOSFODNN7EXAMPLE",
                    "s",
                ]),
                "named profile",
            ),
            (
                Kind::IamUser,
                values(&["x", "dev", "mars-1", "", "AKIAIOSFODNN7EXAMPLE", "s"]),
                "region",
            ),
            (
                Kind::IamRoleChained,
                values(&[
                    "x",
                    "dev",
                    "us-east-1",
                    "arn:aws:iam::123456789012:role/o",
                    "",
                    "nobody",
                ]),
                "assumer session",
            ),
            (
                Kind::IamRoleFederated,
                values(&[
                    "x",
                    "dev",
                    "us-east-1",
                    "arn:aws:iam::123456789012:role/f",
                    "http://idp.example.com",
                    "arn:aws:iam::123456789012:saml-provider/p",
                ]),
                "SAML 2.0 URL",
            ),
        ] {
            let err = parse_add(&c, kind, &bad).unwrap_err();
            assert!(err.contains(what), "{what}: {err}");
        }
    }
}
