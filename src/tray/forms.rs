//! The tray's forms as pure functions: what each dialog shows (fields, pre-filled values,
//! choices) and how its values become an engine command's input, checked against the catalog
//! so a refusal re-opens the dialog with the reason. Tested without a display.

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::dialog::{Entry, Form, Refusal};
use credtray::engine::Chain;
use credtray::engine::network::Password;
use credtray::net::{self, NoProxy, ProxySetting, ProxyUrl, ProxyUser};
use credtray::session::{
    AccessKeyId, Alias, Catalog, Edit, ExternalId, Field, IamUserKeys, Integration,
    IntegrationEdit, IntegrationId, Kind, Mismatch, NewIntegration, NewSession, RoleSessionName,
    SecretAccessKey, Session, SessionId, SessionKind, ValidationError, Value,
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

fn current_value(catalog: &Catalog, session: &Session, field: Field) -> String {
    match field {
        Field::Alias => session.alias.to_string(),
        Field::Profile => session.profile.to_string(),
        Field::Region => session.region.to_string(),
        _ => match session.kind.get(field) {
            Some(Value::Assumer(id)) => catalog
                .get(id)
                .map(|a| a.alias.to_string())
                .unwrap_or_default(),
            // Shown, never edited: the integration's alias says more than its id.
            Some(Value::Integration(id)) => catalog
                .integration(id)
                .map_or_else(|| id.to_string(), |i| i.alias.to_string()),
            Some(value) => value.text().unwrap_or_default(),
            None => String::new(),
        },
    }
}

fn edit_of(catalog: &Catalog, field: Field, value: &str) -> Result<Edit, ValidationError> {
    let value = value.trim();
    let mut edit = Edit::default();
    match field {
        Field::Alias => edit.alias = Some(value.parse()?),
        Field::Profile => edit.profile = Some(value.parse()?),
        Field::Region => {
            catalog.parse_region(value)?;
            edit.region = Some(value.to_owned());
        }
        Field::AccessKeyId | Field::SecretAccessKey => {
            let (access_key_id, secret_access_key) = secret_of(field, value)?;
            edit.access_key_id = access_key_id;
            edit.secret_access_key = secret_access_key;
        }
        // The kind's own fields (a session named by its alias), parsed by the domain's table.
        _ => edit.values.push(value_of(catalog, field, value)?),
    }
    Ok(edit)
}

/// The value of one of a kind's non-secret fields; a session is named by its alias (or id).
fn value_of(catalog: &Catalog, field: Field, text: &str) -> Result<Value, ValidationError> {
    if field == Field::Assumer {
        let session = catalog.resolve(text.trim()).map_err(|_| {
            ValidationError::new(
                field,
                format!("no session has the id or alias {:?}", text.trim()),
            )
        })?;
        return Ok(Value::Assumer(session.id));
    }
    Value::parse(field, text)
}

/// A key typed into a secret entry, in the slot its field names.
fn secret_of(
    field: Field,
    text: &str,
) -> Result<(Option<AccessKeyId>, Option<SecretAccessKey>), ValidationError> {
    let secret = SecretString::from(text.trim().to_owned());
    match field {
        Field::AccessKeyId => Ok((Some(AccessKeyId::parse(&secret)?), None)),
        Field::SecretAccessKey => Ok((None, Some(SecretAccessKey::parse(&secret)?))),
        _ => Err(ValidationError::new(field, "is not a key")),
    }
}

// --- Edit session… ------------------------------------------------------------------------------

/// The fields of Edit session…, in the form's order: alias, named profile, region, then the
/// kind's own (its table's order).
pub fn session_fields(session: &Session) -> Vec<Field> {
    let mut fields = vec![Field::Alias, Field::Profile, Field::Region];
    fields.extend_from_slice(session.kind.tag().fields());
    fields
}

/// Edit session…: every parameter of the session's type pre-filled; secrets masked and empty
/// (left empty, the stored key stays); named profile, region and assumer in combo boxes you
/// can type into (a new profile name creates the profile). A session from an integration can
/// change only its named profile and region: the rest is shown read-only.
pub fn edit_session(catalog: &Catalog, session: &Session) -> Form {
    let derived = session.kind.tag().is_integration_derived();
    let fields = session_fields(session)
        .into_iter()
        .map(|field| {
            let current = current_value(catalog, session, field);
            let label = if field.is_optional() {
                optional_label(field)
            } else {
                field.label().to_owned()
            };
            let entry = match field {
                _ if field.is_secret() => {
                    Entry::secret(label).hint("leave empty to keep the stored key")
                }
                Field::Profile => Entry::choice(
                    format!("{label} (a new name creates it)"),
                    current,
                    profiles(catalog),
                ),
                Field::Region => Entry::choice(label, current, regions()),
                Field::Assumer => Entry::choice(label, current, aliases(catalog, Some(session.id))),
                _ => Entry::text(label, current),
            };
            if derived && !matches!(field, Field::Profile | Field::Region) {
                entry.read_only()
            } else {
                entry
            }
        })
        .collect();
    Form::new(
        format!("credtray — Edit session \"{}\"", session.alias),
        fields,
    )
}

/// Edit session…'s values as one edit of what changed (an empty secret keeps the stored key),
/// refused field by field, then as a whole by the catalog (a refusal that names a field is
/// shown beside it).
pub fn parse_session_edit(
    catalog: &Catalog,
    session: &Session,
    values: &[Zeroizing<String>],
) -> Result<Edit, Refusal> {
    let fields = session_fields(session);
    let mut edit = Edit::default();
    let mut refusal = Refusal::default();
    for (i, &field) in fields.iter().enumerate() {
        let text = values.get(i).map_or("", |v| v.as_str());
        let unchanged = if field.is_secret() {
            text.trim().is_empty()
        } else {
            text.trim() == current_value(catalog, session, field)
        };
        if unchanged {
            continue;
        }
        match edit_of(catalog, field, text) {
            Ok(one) => merge(&mut edit, one),
            Err(e) => refusal.fields.push((i, e.rule)),
        }
    }
    if !refusal.fields.is_empty() {
        return Err(refusal);
    }
    if edit.is_empty() {
        return Ok(edit);
    }
    match catalog.clone().edit(session.id, &edit) {
        Ok(_) => Ok(edit),
        Err(credtray::session::Error::Invalid(e)) => {
            match fields.iter().position(|f| *f == e.field) {
                Some(i) => Err(Refusal {
                    fields: vec![(i, e.rule)],
                    form: None,
                }),
                None => Err(Refusal::form(e.to_string())),
            }
        }
        Err(e) => Err(Refusal::form(e.to_string())),
    }
}

/// `one` (an edit of one field) added to `edit`.
fn merge(edit: &mut Edit, one: Edit) {
    edit.alias = one.alias.or(edit.alias.take());
    edit.profile = one.profile.or(edit.profile.take());
    edit.region = one.region.or(edit.region.take());
    edit.publish = one.publish.or(edit.publish.take());
    edit.access_key_id = one.access_key_id.or(edit.access_key_id.take());
    edit.secret_access_key = one.secret_access_key.or(edit.secret_access_key.take());
    edit.values.extend(one.values);
}

// --- Create chained session… ---------------------------------------------------------------------

/// The role ARN to assume, with the alias and role session name pre-filled with the defaults
/// of `Engine::chain`, and the external id the role may ask for.
pub fn chain(parent: &Session) -> Form {
    Form::new(
        format!(
            "credtray — Create chained session from \"{}\"",
            parent.alias
        ),
        vec![
            Entry::text(Field::RoleArn.label(), ""),
            Entry::text(Field::Alias.label(), format!("{} chained", parent.alias)),
            Entry::text(
                Field::RoleSessionName.label(),
                RoleSessionName::derived_from(&parent.alias).to_string(),
            ),
            Entry::text(optional_label(Field::ExternalId), ""),
        ],
    )
}

pub fn parse_chain(catalog: &Catalog, values: &[Zeroizing<String>]) -> Result<Chain, String> {
    let text = |i: usize| values.get(i).map_or("", |v| v.as_str());
    let alias: Alias = text(1).parse().map_err(message)?;
    if catalog.resolve(alias.as_str()).is_ok() {
        return Err(format!(
            "invalid alias: another session is already called {:?}",
            alias.as_str()
        ));
    }
    Ok(Chain {
        role_arn: text(0).parse().map_err(message)?,
        alias: Some(alias),
        role_session_name: Some(text(2).parse().map_err(message)?),
        external_id: optional(text(3))
            .map(|e| e.parse::<ExternalId>())
            .transpose()
            .map_err(message)?,
        profile: None,
        region: None,
        publish: None,
    })
}

// --- Add session ▸ -------------------------------------------------------------------------------

fn optional_label(field: Field) -> String {
    format!("{} (optional)", field.label())
}

/// Every field of the chosen type in one form, in its table's order (`None` for kinds that
/// come from integrations).
pub fn add(catalog: &Catalog, kind: Kind) -> Option<Form> {
    if kind.is_integration_derived() {
        return None;
    }
    let mut fields = vec![
        Entry::text(Field::Alias.label(), ""),
        Entry::choice(Field::Profile.label(), "default", profiles(catalog)),
        Entry::choice(
            Field::Region.label(),
            catalog.settings.default_region.to_string(),
            regions(),
        ),
    ];
    fields.extend(kind.fields().iter().map(|&field| {
        let label = if field.is_optional() {
            optional_label(field)
        } else {
            field.label().to_owned()
        };
        if field.is_secret() {
            Entry::secret(label)
        } else if field == Field::Assumer {
            Entry::choice(label, "", aliases(catalog, None))
        } else {
            Entry::text(label, "")
        }
    }));
    Some(Form::new(format!("credtray — Add {kind} session"), fields))
}

/// Duplicate session…: the add form of the session's kind filled with a copy's values (alias
/// `<alias> copy`); secret entries empty, so an IAM user's copy asks for its own keys. `None`
/// for a session from an integration.
pub fn duplicate(catalog: &Catalog, session: &Session) -> Option<Form> {
    let copy = catalog.duplicate(session.id, None).ok()?;
    let mut form = add(catalog, session.kind.tag())?;
    form.title = format!("credtray — Duplicate \"{}\"", session.alias);
    let mut values = vec![
        copy.alias.to_string(),
        session.profile.to_string(),
        session.region.to_string(),
    ];
    values.extend(
        session
            .kind
            .tag()
            .fields()
            .iter()
            .map(|&field| current_value(catalog, session, field)),
    );
    for (entry, value) in form.fields.iter_mut().zip(values) {
        if !entry.masked {
            entry.value = Zeroizing::new(value);
        }
    }
    Some(form)
}

/// The add form's values (in [`add`]'s order) as a session to add, checked against the
/// catalog.
pub fn parse_add(
    catalog: &Catalog,
    kind: Kind,
    v: &[Zeroizing<String>],
) -> Result<(NewSession, Option<IamUserKeys>), String> {
    if kind.is_integration_derived() {
        return Err(format!("{kind} sessions come from an integration"));
    }
    let text = |i: usize| v.get(i).map_or("", |t| t.as_str());
    let mut values = Vec::new();
    let (mut access_key_id, mut secret_access_key) = (None, None);
    for (i, &field) in kind.fields().iter().enumerate() {
        let text = text(3 + i);
        if field.is_secret() {
            let (id, secret) = secret_of(field, text).map_err(message)?;
            access_key_id = access_key_id.or(id);
            secret_access_key = secret_access_key.or(secret);
        } else {
            values.push(value_of(catalog, field, text).map_err(message)?);
        }
    }
    let keys = match (access_key_id, secret_access_key) {
        (Some(access_key_id), Some(secret_access_key)) => Some(IamUserKeys {
            access_key_id,
            secret_access_key,
        }),
        _ => None,
    };
    let session_kind = SessionKind::from_values(kind, values).map_err(|m| {
        let (Mismatch::Missing(field) | Mismatch::Stray(field)) = m;
        format!("{kind} sessions need a {field}")
    })?;
    let new = NewSession {
        publish: None,
        alias: text(0).parse().map_err(message)?,
        profile: Some(text(1).trim().parse().map_err(message)?),
        region: Some(text(2).trim().to_owned()),
        kind: session_kind,
    };
    catalog
        .clone()
        .add(new.clone())
        .map_err(|e| e.to_string())?;
    Ok((new, keys))
}

// --- Integrations ▸ Add AWS SSO integration… / Edit… ----------------------------------------------

/// The integration's alias, start URL and region, pre-filled when editing one.
pub fn integration(catalog: &Catalog, current: Option<&Integration>) -> Form {
    let title = match current {
        Some(i) => format!("credtray — Edit integration \"{}\"", i.alias),
        None => "credtray — Add AWS SSO integration".to_owned(),
    };
    Form::new(
        title,
        vec![
            Entry::text(
                "Integration alias",
                current.map_or_else(String::new, |i| i.alias.to_string()),
            ),
            Entry::text(
                Field::StartUrl.label(),
                current.map_or_else(|| "https://".to_owned(), |i| i.start_url.to_string()),
            ),
            Entry::choice(
                "IAM Identity Center region",
                current.map_or_else(
                    || catalog.settings.default_region.to_string(),
                    |i| i.region.to_string(),
                ),
                regions(),
            ),
        ],
    )
}

/// The add form's values as an integration the catalog would accept.
pub fn parse_new_integration(
    catalog: &Catalog,
    v: &[Zeroizing<String>],
) -> Result<NewIntegration, String> {
    let text = |i: usize| v.get(i).map_or("", |t| t.as_str());
    let new = NewIntegration {
        alias: text(0).parse().map_err(message)?,
        start_url: text(1).parse().map_err(message)?,
        region: text(2).trim().to_owned(),
    };
    catalog
        .clone()
        .add_integration(new.clone())
        .map_err(|e| e.to_string())?;
    Ok(new)
}

/// The edit form's values as the changes they make, checked against the catalog.
pub fn parse_integration_edit(
    catalog: &Catalog,
    id: IntegrationId,
    v: &[Zeroizing<String>],
) -> Result<IntegrationEdit, String> {
    let current = catalog
        .integration(id)
        .ok_or_else(|| "the integration is gone".to_owned())?;
    let text = |i: usize| v.get(i).map_or("", |t| t.as_str());
    let alias: credtray::session::Alias = text(0).parse().map_err(message)?;
    let start_url: credtray::session::StartUrl = text(1).parse().map_err(message)?;
    let region = text(2).trim().to_owned();
    let edit = IntegrationEdit {
        alias: (alias != current.alias).then_some(alias),
        start_url: (start_url != current.start_url).then_some(start_url),
        region: (region != current.region.as_str()).then_some(region),
    };
    if !edit.is_empty() {
        catalog
            .clone()
            .edit_integration(id, &edit)
            .map_err(|e| e.to_string())?;
    }
    Ok(edit)
}

/// Integrations ▸ Log out's question: it names the integration's sessions the logout stops
/// (those not inactive); `None` for an integration no longer in the catalog.
pub fn logout_question(catalog: &Catalog, id: IntegrationId) -> Option<String> {
    let integration = catalog.integration(id)?;
    let running: Vec<String> = catalog
        .derived_from(id)
        .filter(|s| s.state.is_running())
        .map(|s| format!("\"{}\"", s.alias))
        .collect();
    let mut question = format!(
        "Log out of \"{}\"? Its tokens and its sessions' cached credentials are removed from the keychain; its sessions can't start until you log in again.",
        integration.alias
    );
    question.push_str(&if running.is_empty() {
        "\n\nNone of its sessions is running.".to_owned()
    } else {
        format!(
            "\n\nThis stops {} and removes what they wrote to your AWS files.",
            running.join(", ")
        )
    });
    Some(question)
}

// --- Network… -----------------------------------------------------------------------------------

/// How credtray reaches the network, as the Network… form's first field offers it.
const FROM_ENVIRONMENT: &str = "From the environment";
const DIRECT: &str = "None (direct)";
const THIS_PROXY: &str = "This proxy";

/// The Network… form's fields, in [`network`]'s order.
const PROXY: usize = 0;
const PROXY_URL: usize = 1;
const NO_PROXY: usize = 2;
const PROXY_USER: usize = 3;
const PROXY_PASSWORD: usize = 4;
const CA_BUNDLE: usize = 5;

/// Network…: the proxy (from the environment, none, or one of its own with the hosts that go
/// direct, a user and a password), and a CA bundle, pre-filled with `settings`. The password
/// entry starts empty: the keychain's stays unless one is typed.
pub fn network(settings: &net::Settings) -> Form {
    let (choice, url) = match &settings.proxy {
        ProxySetting::Environment => (FROM_ENVIRONMENT, String::new()),
        ProxySetting::Direct => (DIRECT, String::new()),
        ProxySetting::Via(url) => (THIS_PROXY, url.to_string()),
    };
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    let fields = vec![
        Entry::choice(
            "Proxy",
            choice,
            vec![
                FROM_ENVIRONMENT.to_owned(),
                DIRECT.to_owned(),
                THIS_PROXY.to_owned(),
            ],
        ),
        Entry::text("Proxy URL", url).hint("http://host:port (for This proxy)"),
        Entry::text(
            "Hosts that go direct (optional)",
            text(settings.no_proxy.as_ref().map(NoProxy::as_str)),
        )
        .hint("as curl's NO_PROXY: host, .domain, IP or CIDR, comma-separated"),
        Entry::text(
            "Proxy user (optional)",
            text(settings.proxy_user.as_ref().map(ProxyUser::as_str)),
        ),
        Entry::secret("Proxy password")
            .hint("leave empty to keep the stored one (same user); kept in the keychain"),
        Entry::text(
            "CA bundle (optional)",
            settings
                .ca_bundle
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string()),
        )
        .hint("full path of a PEM file of CA certificates to trust too"),
    ];
    Form::new("credtray — Network", fields)
}

/// Network…'s values as the settings to save and what becomes of the keychain's proxy
/// password: an empty password keeps the stored one when the user is the one `before` has; a
/// proxy with no user, or no proxy of its own, removes it. The fields of This proxy are
/// ignored for the other two choices (as `credtray settings proxy --env|--none` clears them).
pub fn parse_network(
    before: &net::Settings,
    v: &[Zeroizing<String>],
) -> Result<(net::Settings, Password), String> {
    let text = |i: usize| v.get(i).map_or("", |t| t.as_str());
    let choice = text(PROXY).trim();
    let proxy = [FROM_ENVIRONMENT, DIRECT, THIS_PROXY]
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(choice))
        .ok_or_else(|| {
            format!("proxy: choose {FROM_ENVIRONMENT}, {DIRECT} or {THIS_PROXY}, not {choice:?}")
        })?;
    let ca_bundle = optional(text(CA_BUNDLE))
        .map(|path| {
            let path = std::path::PathBuf::from(path);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(format!(
                    "CA bundle: give the file's full path (/…), not {:?}",
                    path.display()
                ))
            }
        })
        .transpose()?;
    // Nothing to take out of the keychain when no user had a password there.
    let remove = || {
        if before.proxy_user.is_some() {
            Password::Remove
        } else {
            Password::Keep
        }
    };
    if proxy != THIS_PROXY {
        let settings = net::Settings {
            proxy: if proxy == DIRECT {
                ProxySetting::Direct
            } else {
                ProxySetting::Environment
            },
            no_proxy: None,
            proxy_user: None,
            ca_bundle,
        };
        return Ok((settings, remove()));
    }
    let url = text(PROXY_URL).trim();
    if url.contains('@') {
        // Not echoed: what is before the @ may be a password.
        return Err(
            "proxy URL: give the user and the password in their own fields, not in the URL"
                .to_owned(),
        );
    }
    let url = ProxyUrl::parse_setting(url).map_err(|why| {
        if url.is_empty() {
            "proxy URL: give the proxy's http://host:port".to_owned()
        } else {
            format!("proxy URL {url:?}: {why}")
        }
    })?;
    let no_proxy = optional(text(NO_PROXY))
        .map(|list| NoProxy::new(&list))
        .transpose()
        .map_err(|why| format!("hosts that go direct: {why}"))?;
    let proxy_user = optional(text(PROXY_USER))
        .map(|user| ProxyUser::new(&user))
        .transpose()
        .map_err(|why| format!("proxy user: {why}"))?;
    // A password is taken as typed: spaces may be part of it.
    let typed = text(PROXY_PASSWORD);
    let password = match (&proxy_user, typed.is_empty()) {
        (None, false) => {
            return Err("proxy password: it goes with a proxy user; give the user too".to_owned());
        }
        (Some(_), false) => Password::Set(SecretString::from(typed.to_owned())),
        (Some(user), true) if before.proxy_user.as_ref() == Some(user) => Password::Keep,
        (_, true) => remove(),
    };
    let settings = net::Settings {
        proxy: ProxySetting::Via(url),
        no_proxy,
        proxy_user,
        ca_bundle,
    };
    Ok((settings, password))
}

/// What the toast says once the settings are saved: the proxy with its user (never a
/// password), the hosts that go direct, the CA bundle.
pub fn network_saved(settings: &net::Settings) -> String {
    let mut said = match &settings.proxy {
        ProxySetting::Environment => {
            "proxy from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)".to_owned()
        }
        ProxySetting::Direct => "no proxy: every call goes direct".to_owned(),
        ProxySetting::Via(url) => match &settings.proxy_user {
            Some(user) => format!(
                "proxy http://{}@{}",
                user.as_str(),
                url.to_string().trim_start_matches("http://")
            ),
            None => format!("proxy {url}"),
        },
    };
    if let Some(list) = &settings.no_proxy {
        said.push_str(&format!("; {} go direct", list.as_str()));
    }
    if let Some(path) = &settings.ca_bundle {
        said.push_str(&format!("; CA bundle {}", path.display()));
    }
    said
}

/// The passphrase typed into the file keychain's dialog: one field, or two that must agree
/// (a new passphrase); never empty.
pub fn passphrase(values: &[Zeroizing<String>]) -> Result<SecretString, String> {
    let Some(first) = values.first() else {
        return Err("Type the passphrase.".to_owned());
    };
    if first.is_empty() {
        return Err("Type the passphrase.".to_owned());
    }
    if let Some(again) = values.get(1)
        && **again != **first
    {
        return Err("The two passphrases differ. Type them again.".to_owned());
    }
    Ok(SecretString::from(first.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credtray::session::State;
    use secrecy::ExposeSecret;

    fn catalog() -> (Catalog, Session) {
        let mut c = Catalog::default();
        let s = c
            .add(NewSession {
                publish: None,
                alias: "Prod Admin".parse().unwrap(),
                profile: Some("prod".parse().unwrap()),
                region: Some("eu-west-1".into()),
                kind: SessionKind::IamUser {
                    mfa_device: Some("GAHT12345678".parse().unwrap()),
                    mfa_source: None,
                },
            })
            .unwrap();
        (c, s)
    }

    fn values(v: &[&str]) -> Vec<Zeroizing<String>> {
        v.iter().map(|s| Zeroizing::new((*s).to_owned())).collect()
    }

    #[test]
    fn the_logout_question_names_the_sessions_it_stops() {
        let mut c = Catalog::default();
        let corp = c
            .add_integration(NewIntegration {
                alias: "corp".parse().unwrap(),
                start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
                region: "eu-west-1".into(),
            })
            .unwrap()
            .id;
        let mut derived = |alias: &str, role: &str| {
            c.add(NewSession {
                alias: alias.parse().unwrap(),
                profile: Some(role.parse().unwrap()),
                region: None,
                publish: None,
                kind: SessionKind::AwsSsoRole {
                    account_id: "111111111111".parse().unwrap(),
                    role_name: role.parse().unwrap(),
                    integration: corp,
                },
            })
            .unwrap()
            .id
        };
        let admin = derived("dev/Admin", "Admin");
        let reader = derived("dev/ReadOnly", "ReadOnly");
        derived("dev/Billing", "Billing");
        let idle = logout_question(&c, corp).unwrap();
        assert!(idle.contains("Log out of \"corp\"?"), "{idle}");
        assert!(idle.contains("None of its sessions is running"), "{idle}");
        c.set_state(admin, State::Active, None);
        c.set_state(reader, State::Error("expired".into()), None);
        let busy = logout_question(&c, corp).unwrap();
        assert!(
            busy.contains("This stops \"dev/Admin\", \"dev/ReadOnly\" and removes"),
            "{busy}"
        );
        assert!(!busy.contains("dev/Billing"), "{busy}");
        assert_eq!(logout_question(&c, IntegrationId::new()), None);
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
            parse_edit(&c, s.id, Field::MfaDevice, "").unwrap().values,
            [Value::MfaDevice(None)],
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
        assert_eq!(got, ["", "Prod Admin chained", "credtray-Prod-Admin", ""]);
        let ok = parse_chain(
            &c,
            &values(&[
                "arn:aws:iam::123456789012:role/ops",
                "Prod Admin chained",
                "credtray-Prod-Admin",
            ]),
        )
        .unwrap();
        assert_eq!(ok.role_arn.as_str(), "arn:aws:iam::123456789012:role/ops");
        assert_eq!(ok.external_id, None);
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
                "MFA source (optional)",
                "Access key ID",
                "Secret access key"
            ]
        );
        assert!(f.fields[5].masked && f.fields[6].masked);
        assert!(add(&c, Kind::AwsSsoRole).is_none());
        let (new, keys) = parse_add(
            &c,
            Kind::IamUser,
            &values(&[
                "dev",
                "dev",
                "us-east-2",
                "",
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
                    "",
                    "AKIAIOSFODNN7EXAMPLE",
                    "s",
                ]),
                "named profile",
            ),
            (
                Kind::IamUser,
                values(&["x", "dev", "mars-1", "", "", "AKIAIOSFODNN7EXAMPLE", "s"]),
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

    #[test]
    fn integration_forms_are_checked_against_the_catalog() {
        let (mut c, _) = catalog();
        let f = integration(&c, None);
        let got: Vec<&str> = f.fields.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(got, ["", "https://", "us-east-1"]);
        let new = parse_new_integration(
            &c,
            &values(&[
                "corp",
                "https://d-1234567890.awsapps.com/start",
                "eu-west-1",
            ]),
        )
        .unwrap();
        let id = c.add_integration(new).unwrap().id;
        assert!(
            parse_new_integration(
                &c,
                &values(&["CORP", "https://x.awsapps.com/start", "eu-west-1"])
            )
            .unwrap_err()
            .contains("already called")
        );
        assert!(
            parse_new_integration(
                &c,
                &values(&["b", "http://x.awsapps.com/start", "eu-west-1"])
            )
            .unwrap_err()
            .contains("https://")
        );
        let current = c.integration(id).unwrap().clone();
        let f = integration(&c, Some(&current));
        assert_eq!(
            f.fields[1].value.as_str(),
            "https://d-1234567890.awsapps.com/start"
        );
        let unchanged = parse_integration_edit(
            &c,
            id,
            &values(&[
                "corp",
                "https://d-1234567890.awsapps.com/start",
                "eu-west-1",
            ]),
        )
        .unwrap();
        assert!(unchanged.is_empty());
        let moved = parse_integration_edit(
            &c,
            id,
            &values(&[
                "corp",
                "https://d-1234567890.awsapps.com/start",
                "eu-central-1",
            ]),
        )
        .unwrap();
        assert_eq!(moved.region.as_deref(), Some("eu-central-1"));
        assert!(moved.alias.is_none() && moved.start_url.is_none());
    }

    /// A catalog with an IAM user, a chained session from it, a federated one, and a session
    /// from an integration.
    fn every_kind() -> (Catalog, [Session; 4]) {
        let (mut c, user) = catalog();
        let add = |c: &mut Catalog, alias: &str, kind: SessionKind| {
            c.add(NewSession {
                publish: None,
                alias: alias.parse().unwrap(),
                profile: None,
                region: None,
                kind,
            })
            .unwrap()
        };
        let chained = add(
            &mut c,
            "ops",
            SessionKind::IamRoleChained {
                role_arn: "arn:aws:iam::123456789012:role/Ops".parse().unwrap(),
                role_session_name: None,
                external_id: None,
                assumer: user.id,
            },
        );
        let fed = add(
            &mut c,
            "fed",
            SessionKind::IamRoleFederated {
                role_arn: "arn:aws:iam::123456789012:role/Fed".parse().unwrap(),
                saml_url: "https://idp.example.com/saml".parse().unwrap(),
                idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
            },
        );
        c.add_integration(NewIntegration {
            alias: "corp".parse().unwrap(),
            start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
            region: "us-east-1".into(),
        })
        .unwrap();
        let integration = c.integrations()[0].id;
        let sso = add(
            &mut c,
            "sso",
            SessionKind::AwsSsoRole {
                account_id: "123456789012".parse().unwrap(),
                role_name: "Admin".parse().unwrap(),
                integration,
            },
        );
        (c, [user, chained, fed, sso])
    }

    fn shown(form: &Form) -> Vec<(&str, &str, bool, bool)> {
        form.fields
            .iter()
            .map(|f| (f.label.as_str(), f.value.as_str(), f.masked, f.read_only))
            .collect()
    }

    #[test]
    fn edit_session_shows_every_field_of_each_kind_prefilled() {
        let (c, [user, chained, fed, sso]) = every_kind();
        assert_eq!(
            shown(&edit_session(&c, &user)),
            [
                ("Session alias", "Prod Admin", false, false),
                (
                    "Named profile (a new name creates it)",
                    "prod",
                    false,
                    false
                ),
                ("AWS region", "eu-west-1", false, false),
                ("MFA device (optional)", "GAHT12345678", false, false),
                ("MFA source (optional)", "", false, false),
                ("Access key ID", "", true, false),
                ("Secret access key", "", true, false),
            ]
        );
        let form = edit_session(&c, &chained);
        assert_eq!(form.title, "credtray — Edit session \"ops\"");
        let labels: Vec<&str> = form.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(labels.len(), 3 + Kind::IamRoleChained.fields().len());
        let assumer = &form.fields[labels
            .iter()
            .position(|l| l.starts_with("Assumer"))
            .unwrap()];
        assert_eq!(assumer.value.as_str(), "Prod Admin");
        assert!(!assumer.choices.contains(&"ops".to_owned()), "not itself");
        assert!(
            edit_session(&c, &fed)
                .fields
                .iter()
                .any(|f| f.value.as_str() == "https://idp.example.com/saml")
        );
        // From an integration: only the named profile and the region can change.
        let form = edit_session(&c, &sso);
        let editable: Vec<&str> = form
            .fields
            .iter()
            .filter(|f| !f.read_only)
            .map(|f| f.label.as_str())
            .collect();
        assert_eq!(
            editable,
            ["Named profile (a new name creates it)", "AWS region"]
        );
    }

    /// The index of the field labelled `label`.
    fn at(form: &Form, label: &str) -> usize {
        form.fields.iter().position(|f| f.label == label).unwrap()
    }

    fn typed(form: &Form, changes: &[(usize, &str)]) -> Vec<Zeroizing<String>> {
        let mut v: Vec<Zeroizing<String>> = form.fields.iter().map(|f| f.value.clone()).collect();
        for (i, text) in changes {
            v[*i] = Zeroizing::new((*text).to_owned());
        }
        v
    }

    #[test]
    fn edit_session_sends_only_what_changed_and_keeps_empty_secrets() {
        let (c, [user, chained, ..]) = every_kind();
        let form = edit_session(&c, &user);
        let edit = parse_session_edit(&c, &user, &typed(&form, &[])).unwrap();
        assert!(
            edit.is_empty(),
            "nothing typed, nothing sent; the keys stay"
        );
        let edit = parse_session_edit(
            &c,
            &user,
            &typed(&form, &[(1, "brand-new"), (5, "AKIAIOSFODNN7EXAMPLE")]),
        )
        .unwrap();
        assert_eq!(edit.profile.unwrap().as_str(), "brand-new");
        assert!(edit.access_key_id.is_some() && edit.secret_access_key.is_none());
        assert!(edit.alias.is_none() && edit.region.is_none() && edit.values.is_empty());

        let form = edit_session(&c, &chained);
        let role = at(&form, "Role ARN");
        let edit = parse_session_edit(
            &c,
            &chained,
            &typed(&form, &[(role, "arn:aws:iam::123456789012:role/New")]),
        )
        .unwrap();
        assert_eq!(edit.values.len(), 1);
        assert_eq!(
            edit.values[0].text().as_deref(),
            Some("arn:aws:iam::123456789012:role/New")
        );
    }

    #[test]
    fn edit_session_refuses_beside_each_field_and_keeps_the_rest() {
        let (c, [user, chained, _, sso]) = every_kind();
        let form = edit_session(&c, &chained);
        let role = at(&form, "Role ARN");
        let refusal = parse_session_edit(
            &c,
            &chained,
            &typed(
                &form,
                &[(role, "arn:aws:iam::1:role/x"), (2, "mars-north-1")],
            ),
        )
        .unwrap_err();
        let at: Vec<usize> = refusal.fields.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, [2, role], "both fields marked, in order");
        assert!(refusal.fields[1].1.contains("ARN") || refusal.fields[1].1.contains("account"));
        // The catalog's own refusal lands beside the field it names: an alias in use.
        let refusal =
            parse_session_edit(&c, &chained, &typed(&form, &[(0, "Prod Admin")])).unwrap_err();
        assert_eq!(refusal.fields.len(), 1, "{refusal:?}");
        assert_eq!(refusal.fields[0].0, 0);
        // A secret typed wrong is refused without being echoed.
        let form = edit_session(&c, &user);
        let refusal = parse_session_edit(&c, &user, &typed(&form, &[(5, "short")])).unwrap_err();
        assert_eq!(refusal.fields[0].0, 5);
        assert!(!refusal.fields[0].1.contains("short"));
        // A derived session's profile changes; its own fields are not even looked at.
        let form = edit_session(&c, &sso);
        let edit = parse_session_edit(&c, &sso, &typed(&form, &[(1, "corp-admin")])).unwrap();
        assert_eq!(edit.profile.unwrap().as_str(), "corp-admin");
    }

    #[test]
    fn duplicate_fills_the_add_form_with_a_copy_and_no_secret() {
        let (c, [user, chained, _, sso]) = every_kind();
        let form = duplicate(&c, &user).unwrap();
        assert_eq!(form.title, "credtray — Duplicate \"Prod Admin\"");
        let values: Vec<&str> = form.fields.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(
            values,
            [
                "Prod Admin copy",
                "prod",
                "eu-west-1",
                "GAHT12345678",
                "",
                "",
                ""
            ]
        );
        assert!(form.fields[5].masked && form.fields[6].masked);
        // Without keys the copy is refused (the engine asks for them); with them it is added.
        let typed = |v: &[&str]| {
            v.iter()
                .map(|s| Zeroizing::new((*s).to_owned()))
                .collect::<Vec<_>>()
        };
        let (new, keys) = parse_add(
            &c,
            Kind::IamUser,
            &typed(&[
                "Prod Admin copy",
                "prod",
                "eu-west-1",
                "GAHT12345678",
                "ykman:AWS:prod",
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ]),
        )
        .unwrap();
        assert_eq!(new.alias.as_str(), "Prod Admin copy");
        assert!(keys.is_some());
        let SessionKind::IamUser { mfa_source, .. } = &new.kind else {
            panic!("{:?}", new.kind)
        };
        assert_eq!(mfa_source.as_ref().unwrap().to_string(), "ykman:AWS:prod");
        let form = duplicate(&c, &chained).unwrap();
        assert!(
            form.fields
                .iter()
                .any(|f| f.value.as_str() == "arn:aws:iam::123456789012:role/Ops")
        );
        assert!(
            duplicate(&c, &sso).is_none(),
            "from an integration: its sync makes them"
        );
    }

    // --- Network… --------------------------------------------------------------------------------

    /// The settings a proxy of its own makes: `http://proxy.corp:3128` for `alice`, with hosts
    /// that go direct and a CA bundle.
    fn via_proxy() -> net::Settings {
        net::Settings {
            proxy: ProxySetting::Via(ProxyUrl::parse_setting("proxy.corp:3128").unwrap()),
            no_proxy: Some(NoProxy::new("localhost, .internal.corp,10.0.0.0/8").unwrap()),
            proxy_user: Some(ProxyUser::new("alice").unwrap()),
            ca_bundle: Some("/etc/corp/ca.pem".into()),
        }
    }

    fn accepted(before: &net::Settings, values: &[Zeroizing<String>]) -> (net::Settings, Password) {
        match parse_network(before, values) {
            Ok(parsed) => parsed,
            Err(e) => panic!("refused: {e}"),
        }
    }

    fn refused(before: &net::Settings, values: &[Zeroizing<String>]) -> String {
        match parse_network(before, values) {
            Ok((settings, _)) => panic!("accepted: {settings:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_network_form_shows_the_settings_with_the_password_empty_and_masked() {
        let form = network(&net::Settings::default());
        assert_eq!(form.title, "credtray — Network");
        assert_eq!(
            shown(&form),
            [
                ("Proxy", "From the environment", false, false),
                ("Proxy URL", "", false, false),
                ("Hosts that go direct (optional)", "", false, false),
                ("Proxy user (optional)", "", false, false),
                ("Proxy password", "", true, false),
                ("CA bundle (optional)", "", false, false),
            ]
        );
        assert_eq!(
            form.fields[PROXY].choices,
            ["From the environment", "None (direct)", "This proxy"]
        );
        assert!(
            form.fields[PROXY_PASSWORD]
                .hint
                .as_deref()
                .unwrap()
                .contains("leave empty to keep the stored one"),
            "{:?}",
            form.fields[PROXY_PASSWORD].hint
        );
        assert!(
            form.fields[NO_PROXY]
                .hint
                .as_deref()
                .unwrap()
                .contains("NO_PROXY")
        );
        let form = network(&via_proxy());
        let values: Vec<&str> = form.fields.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(
            values,
            [
                "This proxy",
                "http://proxy.corp:3128",
                "localhost, .internal.corp,10.0.0.0/8",
                "alice",
                "",
                "/etc/corp/ca.pem"
            ]
        );
        let direct = net::Settings {
            proxy: ProxySetting::Direct,
            ..net::Settings::default()
        };
        assert_eq!(
            network(&direct).fields[PROXY].value.as_str(),
            "None (direct)"
        );
    }

    #[test]
    fn the_network_form_saved_unchanged_gives_the_same_settings_and_keeps_the_password() {
        for before in [
            via_proxy(),
            net::Settings::default(),
            net::Settings {
                proxy: ProxySetting::Direct,
                ca_bundle: Some("/etc/corp/ca.pem".into()),
                ..net::Settings::default()
            },
        ] {
            let form = network(&before);
            let (after, password) = accepted(&before, &typed(&form, &[]));
            assert_eq!(after, before);
            assert!(matches!(password, Password::Keep), "{before:?}");
        }
    }

    #[test]
    fn a_typed_password_is_set_and_an_empty_one_is_kept_only_for_the_same_user() {
        let before = via_proxy();
        let form = network(&before);
        let (_, password) = accepted(&before, &typed(&form, &[(PROXY_PASSWORD, " s3cret ")]));
        assert!(
            matches!(&password, Password::Set(p) if p.expose_secret() == " s3cret "),
            "taken as typed, spaces and all"
        );
        // Another user, no password typed: alice's is not bob's.
        let (after, password) = accepted(&before, &typed(&form, &[(PROXY_USER, "bob")]));
        assert_eq!(after.proxy_user.unwrap().as_str(), "bob");
        assert!(matches!(password, Password::Remove));
        // No user any more: nor a password.
        let (after, password) = accepted(&before, &typed(&form, &[(PROXY_USER, "")]));
        assert_eq!(after.proxy_user, None);
        assert!(matches!(password, Password::Remove));
        // From a proxy of its own to the environment: user, hosts and password go, the CA
        // bundle stays.
        let (after, password) =
            accepted(&before, &typed(&form, &[(PROXY, "From the environment")]));
        assert_eq!(
            after,
            net::Settings {
                ca_bundle: before.ca_bundle.clone(),
                ..net::Settings::default()
            }
        );
        assert!(matches!(password, Password::Remove));
        let (after, _) = accepted(&before, &typed(&form, &[(PROXY, "none (direct)")]));
        assert_eq!(after.proxy, ProxySetting::Direct);
        // From the environment to a proxy with a user and a password.
        let before = net::Settings::default();
        let form = network(&before);
        let (after, password) = accepted(
            &before,
            &typed(
                &form,
                &[
                    (PROXY, "This proxy"),
                    (PROXY_URL, " http://127.0.0.1:3128/ "),
                    (PROXY_USER, "alice"),
                    (PROXY_PASSWORD, "pw"),
                ],
            ),
        );
        assert_eq!(
            after.proxy,
            ProxySetting::Via(ProxyUrl::parse_setting("127.0.0.1:3128").unwrap())
        );
        assert!(matches!(&password, Password::Set(p) if p.expose_secret() == "pw"));
        // No user before: nothing to remove from the keychain, which is not asked.
        let (_, password) = accepted(
            &before,
            &typed(&form, &[(PROXY, "This proxy"), (PROXY_URL, "proxy:3128")]),
        );
        assert!(matches!(password, Password::Keep));
    }

    #[test]
    fn the_network_form_refuses_what_the_settings_would_not_take() {
        let before = net::Settings::default();
        let form = network(&before);
        let proxy = |changes: &[(usize, &str)]| {
            let mut all = vec![(PROXY, "This proxy"), (PROXY_URL, "http://proxy.corp:3128")];
            all.extend_from_slice(changes);
            typed(&form, &all)
        };
        for (changes, said) in [
            (vec![(PROXY, "Carrier pigeon")], "proxy: choose"),
            (
                vec![(PROXY_URL, "")],
                "proxy URL: give the proxy's http://host:port",
            ),
            (
                vec![(PROXY_URL, "http://proxy.corp:99999")],
                "is not a port",
            ),
            (vec![(PROXY_URL, "proxy corp")], "is not a host name"),
            (
                vec![(PROXY_URL, "socks5://proxy.corp:1080")],
                "SOCKS proxies",
            ),
            (
                vec![(PROXY_URL, "https://proxy.corp:443")],
                "https:// proxy is not supported",
            ),
            (vec![(PROXY_URL, "http://proxy.corp:3128/pac")], "no path"),
            (vec![(NO_PROXY, "a.corp b.corp")], "hosts that go direct:"),
            (vec![(NO_PROXY, "http://a.corp")], "hosts that go direct:"),
            (vec![(NO_PROXY, "10.0.0.0/33")], "hosts that go direct:"),
            (vec![(PROXY_USER, "alice:pw")], "proxy user:"),
            (vec![(PROXY_PASSWORD, "pw")], "goes with a proxy user"),
            (
                vec![(CA_BUNDLE, "ca.pem")],
                "CA bundle: give the file's full path",
            ),
        ] {
            let said_now = refused(&before, &proxy(&changes));
            assert!(said_now.contains(said), "{changes:?}: {said_now}");
        }
        // A password in the URL is refused without being echoed.
        let said = refused(
            &before,
            &proxy(&[(PROXY_URL, "http://alice:hunter2@proxy.corp:3128")]),
        );
        assert!(
            said.contains("their own fields") && !said.contains("hunter2"),
            "{said}"
        );
        // Only This proxy reads its fields: the environment's choice ignores a bad URL.
        let (after, _) = accepted(&before, &typed(&form, &[(PROXY_URL, "socks5://x:1")]));
        assert_eq!(after, before);
    }

    #[test]
    fn the_saved_toast_names_the_proxy_and_its_user_never_a_password() {
        assert_eq!(
            network_saved(&via_proxy()),
            "proxy http://alice@proxy.corp:3128; localhost, .internal.corp,10.0.0.0/8 go direct; CA bundle /etc/corp/ca.pem"
        );
        assert_eq!(
            network_saved(&net::Settings::default()),
            "proxy from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)"
        );
        let direct = net::Settings {
            proxy: ProxySetting::Direct,
            ..net::Settings::default()
        };
        assert_eq!(network_saved(&direct), "no proxy: every call goes direct");
    }

    #[test]
    fn a_passphrase_is_never_empty_and_a_new_one_is_typed_twice_alike() {
        let z = |v: &[&str]| {
            v.iter()
                .map(|s| Zeroizing::new((*s).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(passphrase(&z(&[""])).unwrap_err(), "Type the passphrase.");
        assert_eq!(
            passphrase(&z(&["one", "two"])).unwrap_err(),
            "The two passphrases differ. Type them again."
        );
        assert_eq!(
            passphrase(&z(&["same words", "same words"]))
                .unwrap()
                .expose_secret(),
            "same words"
        );
        assert_eq!(passphrase(&z(&[" x "])).unwrap().expose_secret(), " x ");
    }
}
