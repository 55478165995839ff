//! Invalid input of every field is refused with exit code 2 and a message naming the field,
//! and leaves the store byte-identical.

use crate::harness::{Env, fresh_keys};

const ROLE: &str = "arn:aws:iam::123456789012:role/r";
const IDP: &str = "arn:aws:iam::123456789012:saml-provider/p";
const URL: &str = "https://idp.example.com/saml";

fn federated(role_arn: &str, idp_arn: &str, saml_url: &str) -> Vec<String> {
    [
        "session",
        "add",
        "iam-role-federated",
        "--alias",
        "new-fed",
        "--role-arn",
        role_arn,
        "--idp-arn",
        idp_arn,
        "--saml-url",
        saml_url,
    ]
    .map(str::to_owned)
    .to_vec()
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn user(extra: &[&str]) -> Vec<String> {
    with(
        [
            "session",
            "add",
            "iam-user",
            "--alias",
            "new-user",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ]
        .map(str::to_owned)
        .to_vec(),
        extra,
    )
}

fn edit(session: &str, extra: &[&str]) -> Vec<String> {
    with(vec!["session".into(), "edit".into(), session.into()], extra)
}

fn chained(alias: &str, assumer: &str, extra: &[&str]) -> Vec<String> {
    with(
        [
            "session",
            "add",
            "iam-role-chained",
            "--alias",
            alias,
            "--role-arn",
            ROLE,
            "--assumer",
            assumer,
        ]
        .map(str::to_owned)
        .to_vec(),
        extra,
    )
}

#[test]
fn invalid_inputs_of_every_field_exit_2_name_the_field_and_change_nothing() {
    let env = Env::new();
    env.add_federated("fed-a");
    env.add_chained("chain-b", "fed-a");
    env.add_chained("chain-c", "chain-b");
    let (access_key_id, secret) = fresh_keys();
    env.add_user("key-user", &access_key_id, &secret);
    let good_keys = format!("{access_key_id}\n{secret}\n");
    let long = |n: usize| "a".repeat(n);
    let name65 = format!("arn:aws:iam::123456789012:role/{}", long(65));
    let alias65 = long(65);
    let rsn65 = long(65);
    let profile65 = long(65);
    let serial257 = "A".repeat(257);
    let fed_a_id = env.id_of("fed-a");

    // (what, args, stdin, the field the message must name)
    let rows: Vec<(&str, Vec<String>, String, &str)> = vec![
        (
            "11-digit account in role ARN",
            federated("arn:aws:iam::12345678901:role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "13-digit account in role ARN",
            federated("arn:aws:iam::1234567890123:role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "letter in account of role ARN",
            federated("arn:aws:iam::12345678901a:role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "unknown partition in role ARN",
            federated("arn:aws-mars:iam::123456789012:role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "wrong partition spelling",
            federated("arn:aws-gov:iam::123456789012:role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "wrong service in role ARN",
            federated("arn:aws:sts::123456789012:role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "region in role ARN",
            federated("arn:aws:iam:us-east-1:123456789012:role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "user instead of role",
            federated("arn:aws:iam::123456789012:user/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "empty role name",
            federated("arn:aws:iam::123456789012:role/", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "65-char role name",
            federated(&name65, IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "space in role name",
            federated("arn:aws:iam::123456789012:role/my role", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "not an ARN at all",
            federated("role/r", IDP, URL),
            String::new(),
            "role ARN",
        ),
        (
            "role ARN given as IdP ARN",
            federated(ROLE, ROLE, URL),
            String::new(),
            "identity provider ARN",
        ),
        (
            "11-digit account in IdP ARN",
            federated(ROLE, "arn:aws:iam::12345678901:saml-provider/p", URL),
            String::new(),
            "identity provider ARN",
        ),
        (
            "unknown partition in IdP ARN",
            federated(ROLE, "arn:aws-xx:iam::123456789012:saml-provider/p", URL),
            String::new(),
            "identity provider ARN",
        ),
        (
            "http SAML URL to a remote host",
            federated(ROLE, IDP, "http://idp.example.com/saml"),
            String::new(),
            "SAML 2.0 URL",
        ),
        (
            "ftp SAML URL",
            federated(ROLE, IDP, "ftp://idp.example.com/saml"),
            String::new(),
            "SAML 2.0 URL",
        ),
        (
            "relative SAML URL",
            federated(ROLE, IDP, "/saml/login"),
            String::new(),
            "SAML 2.0 URL",
        ),
        (
            "SAML URL that is not a URL",
            federated(ROLE, IDP, "idp example"),
            String::new(),
            "SAML 2.0 URL",
        ),
        (
            "11-digit account in MFA ARN",
            user(&["--mfa-device", "arn:aws:iam::12345678901:mfa/me"]),
            good_keys.clone(),
            "MFA device",
        ),
        (
            "role ARN as MFA device",
            user(&["--mfa-device", ROLE]),
            good_keys.clone(),
            "MFA device",
        ),
        (
            "8-char hardware serial",
            user(&["--mfa-device", "GAHT1234"]),
            good_keys.clone(),
            "MFA device",
        ),
        (
            "257-char hardware serial",
            user(&["--mfa-device", &serial257]),
            good_keys.clone(),
            "MFA device",
        ),
        (
            "space in hardware serial",
            user(&["--mfa-device", "GAHT 12345678"]),
            good_keys.clone(),
            "MFA device",
        ),
        (
            "misspelt region",
            user(&["--region", "eu-wset-1"]),
            good_keys.clone(),
            "region",
        ),
        (
            "made-up region",
            user(&["--region", "mars-north-1"]),
            good_keys.clone(),
            "region",
        ),
        (
            "upper-case region",
            edit("fed-a", &["--region", "US-EAST-1"]),
            String::new(),
            "region",
        ),
        (
            "empty region",
            edit("fed-a", &["--region", ""]),
            String::new(),
            "region",
        ),
        (
            "profile name with a space",
            user(&["--profile", "my profile"]),
            good_keys.clone(),
            "named profile",
        ),
        (
            "profile name with brackets",
            edit("fed-a", &["--profile", "[prod]"]),
            String::new(),
            "named profile",
        ),
        (
            "profile name starting with 'profile '",
            edit("fed-a", &["--profile", "profile dev"]),
            String::new(),
            "named profile",
        ),
        (
            "65-char profile name",
            edit("fed-a", &["--profile", &profile65]),
            String::new(),
            "named profile",
        ),
        (
            "empty profile name",
            edit("fed-a", &["--profile", ""]),
            String::new(),
            "named profile",
        ),
        (
            "profile add with a space",
            vec!["profile".into(), "add".into(), "a b".into()],
            String::new(),
            "named profile",
        ),
        (
            "1-char role session name",
            chained("new-chain", "fed-a", &["--role-session-name", "a"]),
            String::new(),
            "role session name",
        ),
        (
            "65-char role session name",
            chained("new-chain", "fed-a", &["--role-session-name", &rsn65]),
            String::new(),
            "role session name",
        ),
        (
            "role session name with '!'",
            edit("chain-b", &["--role-session-name", "hey!"]),
            String::new(),
            "role session name",
        ),
        (
            "blank alias",
            edit("fed-a", &["--alias", "   "]),
            String::new(),
            "alias",
        ),
        (
            "65-char alias",
            edit("fed-a", &["--alias", &alias65]),
            String::new(),
            "alias",
        ),
        (
            "alias with a bidi override",
            edit("fed-a", &["--alias", "prod\u{202E}nimda"]),
            String::new(),
            "U+202E",
        ),
        (
            "alias with a bidi isolate",
            edit("fed-a", &["--alias", "\u{2067}dev\u{2069}"]),
            String::new(),
            "U+2067",
        ),
        (
            "alias with a zero-width space",
            chained("de\u{200B}v", "fed-a", &[]),
            String::new(),
            "U+200B",
        ),
        (
            "alias with a byte order mark",
            chained("\u{FEFF}dev", "fed-a", &[]),
            String::new(),
            "U+FEFF",
        ),
        (
            "alias that is another session's id, on edit",
            edit("chain-c", &["--alias", &fed_a_id]),
            String::new(),
            "alias",
        ),
        (
            "alias that is another session's id, upper-case, on add",
            chained(&fed_a_id.to_uppercase(), "fed-a", &[]),
            String::new(),
            "alias",
        ),
        (
            "duplicate alias on add (other case)",
            chained("FED-A", "chain-b", &[]),
            String::new(),
            "alias",
        ),
        (
            "duplicate alias on edit",
            edit("chain-c", &["--alias", "Chain-B"]),
            String::new(),
            "alias",
        ),
        (
            "assumer cycle",
            edit("chain-b", &["--assumer", "chain-c"]),
            String::new(),
            "assumer session",
        ),
        (
            "assumer is itself",
            edit("chain-b", &["--assumer", "chain-b"]),
            String::new(),
            "assumer session",
        ),
        (
            "unknown assumer",
            chained("new-chain", "nobody", &[]),
            String::new(),
            "assumer session",
        ),
        (
            "lower-case access key id",
            user(&[]),
            format!("akia1234567890abcdef\n{secret}\n"),
            "access key id",
        ),
        (
            "15-char access key id",
            user(&[]),
            format!("AKIA12345678901\n{secret}\n"),
            "access key id",
        ),
        (
            "secret access key with a space",
            user(&[]),
            format!("{access_key_id}\nab cd\n"),
            "secret access key",
        ),
        (
            "secret on the command line",
            with(edit("key-user", &["--access-key-id"]), &[&access_key_id]),
            String::new(),
            "access-key-id",
        ),
        (
            "missing secret line",
            user(&[]),
            format!("{access_key_id}\n"),
            "secret access key",
        ),
        (
            "MFA device on a federated session",
            edit("fed-a", &["--mfa-device", "GAHT12345678"]),
            String::new(),
            "MFA device",
        ),
        (
            "assumer on an IAM user",
            edit("key-user", &["--assumer", "fed-a"]),
            String::new(),
            "assumer session",
        ),
        (
            "unknown session",
            edit("nobody", &["--alias", "x"]),
            String::new(),
            "nobody",
        ),
        (
            "5-digit MFA code",
            vec![
                "session".into(),
                "start".into(),
                "key-user".into(),
                "--mfa-code".into(),
                "12345".into(),
            ],
            String::new(),
            "MFA code",
        ),
        (
            "7-digit MFA code",
            vec![
                "session".into(),
                "test".into(),
                "key-user".into(),
                "--mfa-code".into(),
                "1234567".into(),
            ],
            String::new(),
            "MFA code",
        ),
        (
            "MFA code of letters",
            vec![
                "session".into(),
                "start".into(),
                "key-user".into(),
                "--mfa-code".into(),
                "abcdef".into(),
            ],
            String::new(),
            "MFA code",
        ),
        (
            "literal SAML assertion",
            vec![
                "session".into(),
                "start".into(),
                "fed-a".into(),
                "--saml-assertion".into(),
                "PHNhbWw+".into(),
            ],
            String::new(),
            "saml-assertion",
        ),
    ];
    assert!(rows.len() >= 40);

    for (what, args, stdin, field) in &rows {
        let before = env.store_bytes().expect("the store exists");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = env.run(&args, stdin);
        assert_eq!(run.code, 2, "{what}: expected exit 2, got {run:#?}");
        assert!(
            run.stderr.contains(field),
            "{what}: the message does not name {field:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains(&secret),
            "{what}: the message shows the secret access key"
        );
        assert!(
            !run.stderr.contains(&access_key_id),
            "{what}: the message shows the access key id"
        );
        assert_eq!(
            env.store_bytes().unwrap(),
            before,
            "{what}: the store changed"
        );
    }
}

#[test]
fn an_alias_shaped_like_another_sessions_id_never_stands_for_that_session() {
    let env = Env::new();
    let a = env.add_federated("fed-a");
    env.add_federated("fed-b");
    let before = env.store_bytes().unwrap();
    for alias in [
        a.clone(),
        a.to_uppercase(),
        format!("{{{a}}}"),
        a.replace('-', ""),
    ] {
        let run = env.run(&["session", "edit", "fed-b", "--alias", &alias], "");
        assert_eq!(run.code, 2, "{alias}: {run:#?}");
        assert!(
            run.stderr.contains("invalid alias") && run.stderr.contains("session id"),
            "{alias}: {}",
            run.stderr
        );
        assert_eq!(
            env.store_bytes().unwrap(),
            before,
            "{alias}: the store changed"
        );
    }
    assert_eq!(env.session(&a)["alias"], "fed-a");
    env.run(&["session", "delete", "fed-a"], "").ok();
    let run = env.run(&["session", "show", &a], "");
    assert_eq!(run.code, 2, "a deleted id names no session: {run:#?}");

    // A store that holds such an alias (hand-edited, or written before the rule) is refused
    // whole, naming the line, rather than letting the alias stand in for an id.
    let text = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    let edited = text.replace("alias = \"fed-b\"", &format!("alias = \"{a}\""));
    assert_ne!(edited, text);
    std::fs::write(env.store_path(), &edited).unwrap();
    let run = env.run(&["session", "show", &a], "");
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("alias") && run.stderr.contains(" line "),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(env.store_path()).unwrap(), edited);
}

#[test]
fn a_corrupt_store_is_reported_with_file_and_line_and_never_overwritten() {
    let env = Env::new();
    env.add_federated("fed-a");
    let valid = String::from_utf8(env.store_bytes().unwrap()).unwrap();
    let cases = [
        (
            "not TOML",
            format!("{valid}\nthis is = = not toml\n"),
            "line",
        ),
        (
            "a bad region",
            valid.replace(
                "region = \"us-east-1\"\npublish",
                "region = \"eu-wset-1\"\npublish",
            ),
            "region",
        ),
        (
            "a bad role ARN",
            valid.replace("123456789012:role", "12345:role"),
            "role ARN",
        ),
        (
            "an unknown key",
            valid.replace("state = ", "colour = \"red\"\nstate = "),
            "colour",
        ),
        (
            "a newer version",
            valid.replace("version = 7", "version = 8"),
            "version",
        ),
    ];
    for (what, text, field) in cases {
        assert_ne!(text, valid, "{what}: the case must change the file");
        std::fs::write(env.store_path(), &text).unwrap();
        for args in [
            &["session", "list"][..],
            &[
                "session",
                "add",
                "iam-role-chained",
                "--alias",
                "x",
                "--role-arn",
                ROLE,
                "--assumer",
                "fed-a",
            ],
            &["profile", "add", "p"],
        ] {
            let run = env.run(args, "");
            assert_eq!(run.code, 2, "{what} {args:?}: {run:#?}");
            assert!(
                run.stderr.contains(&env.store_path().display().to_string()),
                "{what}: names the file: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains(field),
                "{what}: names {field:?}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains(" line "),
                "{what}: names the line: {}",
                run.stderr
            );
            assert_eq!(
                std::fs::read_to_string(env.store_path()).unwrap(),
                text,
                "{what}: the file was modified"
            );
        }
    }
}
