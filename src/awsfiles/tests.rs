use super::Contents;
use super::*;
use crate::aws::Credentials;
use crate::session::{Region, SessionId};

/// The session the tests publish for.
fn sid() -> SessionId {
    "0b9c3f38-6a5e-4c47-9d1c-3c1f5b8d2a10".parse().unwrap()
}

/// A credentials file.
fn doc(text: &str) -> Document {
    Document::parse(text, Flavor::Credentials).unwrap()
}

fn config(text: &str) -> Document {
    Document::parse(text, Flavor::Config).unwrap()
}

fn creds(n: u32) -> Credentials {
    use secrecy::SecretString;
    Credentials {
        access_key_id: SecretString::from(format!("ASIA{n:016}")),
        secret_access_key: SecretString::from(format!("secret{n}")),
        session_token: SecretString::from(format!("token{n}")),
        expiration: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        issued: None,
    }
}

#[test]
fn parse_keeps_every_byte() {
    let text = "\u{feff}# top\r\n; other\n\n[default]\r\naws_access_key_id=AKIA # not a comment\nregion\t: eu-west-1\n[profile x]\ns3 =\n  max_concurrent_requests = 10\n\n[profile x]\nKey = dup\nkey = dup2\nnäme = wert";
    let d = config(text);
    assert_eq!(d.as_str(), text);
    assert_eq!(
        d.section_names().collect::<Vec<_>>(),
        ["default", "profile x", "profile x"]
    );
    assert_eq!(
        d.get("default", "aws_access_key_id"),
        Some("AKIA # not a comment")
    );
    assert_eq!(d.get("default", "REGION"), Some("eu-west-1"));
    assert_eq!(d.count("profile   x"), 2);
}

#[test]
fn unparseable_lines_are_reported_with_their_number() {
    for (text, line) in [
        ("[a]\nk = v\njust words\n", 3),
        ("key = before any section\n", 1),
        ("[a]\n[unclosed\n", 2),
        ("[]\n", 1),
        ("[a]\n= no key\n", 2),
    ] {
        assert_eq!(
            Document::parse(text, Flavor::Credentials).unwrap_err().line,
            line,
            "{text:?}"
        );
    }
}

#[test]
fn upsert_updates_in_place_keeping_spacing_case_and_position() {
    let mut d = doc("[a]\nAWS_Access_Key_Id=old\n# keep\nother = 1\n\n# about b\n[b]\nx = 1\n");
    let up = d
        .upsert(
            "a",
            &[("aws_access_key_id", "new"), ("aws_session_token", "t")],
            &[],
        )
        .unwrap();
    assert!(!up.created);
    assert_eq!(
        d.as_str(),
        "[a]\nAWS_Access_Key_Id=new\n# keep\nother = 1\naws_session_token = t\n\n# about b\n[b]\nx = 1\n"
    );
}

#[test]
fn upsert_keeps_crlf_and_a_missing_final_newline() {
    let mut d = doc("[a]\r\nk = v");
    d.upsert("a", &[("n", "1")], &[]).unwrap();
    assert_eq!(d.as_str(), "[a]\r\nk = v\r\nn = 1");
    let mut d = doc("x = 1".replace("x = 1", "[a]\r\nk = v").as_str());
    let up = d.upsert("b", &[("n", "1")], &[]).unwrap();
    assert_eq!(up.separator, "\r\n\r\n");
    assert_eq!(d.as_str(), "[a]\r\nk = v\r\n\r\n[b]\r\nn = 1\r\n");
    assert!(d.remove("b", &up.separator));
    assert_eq!(d.as_str(), "[a]\r\nk = v");
}

#[test]
fn new_sections_go_last_and_removing_them_restores_the_original() {
    for original in [
        "",
        "\u{feff}",
        "[a]\nk=v\n",
        "[a]\nk=v\n\n",
        "# only a comment",
        "[a]\n\tk=v\n# trailing\n",
    ] {
        let mut d = doc(original);
        let up = d.upsert("new", &[("k", "v")], &[]).unwrap();
        assert!(up.created);
        assert!(d.as_str().starts_with(original), "{original:?}");
        assert_eq!(d.section_text("new"), Some("[new]\nk = v\n"));
        assert!(d.remove("new", &up.separator));
        assert_eq!(d.as_str(), original);
    }
}

#[test]
fn remove_takes_the_section_but_not_the_comments_after_it() {
    let mut d = doc("[a]\nk=v\ns3 =\n  x = 1\n\n# about b\n[b]\ny=2\n");
    assert!(d.remove("a", ""));
    assert_eq!(d.as_str(), "\n# about b\n[b]\ny=2\n");
    assert!(!d.remove("zzz", ""));
}

#[test]
fn repeated_owned_keys_collapse_and_removed_keys_take_their_continuations() {
    let mut d = doc("[a]\nk = 1\nk = 2\nt = x\n  more\nz = 9\n");
    d.upsert("a", &[("k", "3")], &["t"]).unwrap();
    assert_eq!(d.as_str(), "[a]\nk = 3\nz = 9\n");
}

#[test]
fn multi_line_values_are_refused_and_change_nothing() {
    let mut d = doc("[a]\n");
    assert!(d.upsert("a", &[("k", "1\n[evil]")], &[]).is_err());
    assert!(d.upsert("a\nb", &[("k", "1")], &[]).is_err());
    assert_eq!(d.as_str(), "[a]\n");
}

#[test]
fn config_sections_are_named_by_flavor() {
    let dev: ProfileName = "dev".parse().unwrap();
    assert_eq!(Flavor::Credentials.section(&dev), "dev");
    assert_eq!(Flavor::Config.section(&dev), "profile dev");
    assert_eq!(
        Flavor::Config.section(&ProfileName::default_profile()),
        "default"
    );
}

#[test]
fn publish_refuses_foreign_sections_unless_taken_over_with_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    let foreign = "# mine\n[dev]\naws_access_key_id = AKIAFOREIGN\n";
    std::fs::write(files.credentials.path(), foreign).unwrap();
    let dev: ProfileName = "dev".parse().unwrap();
    let region: Region = Region::parse("eu-west-1", &[]).unwrap();
    let mut owned = Vec::new();
    let err = files
        .publish(
            &dev,
            Contents::Credentials {
                region: &region,
                credentials: &creds(1),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NotOwned { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(files.credentials.path()).unwrap(),
        foreign
    );
    assert!(
        !files.config.path().exists(),
        "the config file is not touched either"
    );
    assert!(owned.is_empty());

    let (_, published) = files
        .publish(
            &dev,
            Contents::Credentials {
                region: &region,
                credentials: &creds(1),
            },
            &mut owned,
            true,
            sid(),
        )
        .unwrap();
    assert_eq!(published.backups.len(), 1);
    let backup = std::fs::read_to_string(&published.backups[0]).unwrap();
    assert!(
        backup.contains("[dev]\naws_access_key_id = AKIAFOREIGN\n"),
        "{backup}"
    );
    assert_eq!(owned.len(), 2);
    let text = std::fs::read_to_string(files.credentials.path()).unwrap();
    assert!(
        text.starts_with("# mine\n[dev]\naws_access_key_id = ASIA0000000000000001\n"),
        "{text}"
    );

    // Owned now: updates need no take-over, and unpublish removes both sections.
    files
        .publish(
            &dev,
            Contents::Credentials {
                region: &region,
                credentials: &creds(2),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap();
    files.unpublish(&dev, &mut owned, &[], |_| false).unwrap();
    assert!(owned.is_empty());
    assert_eq!(
        std::fs::read_to_string(files.credentials.path()).unwrap(),
        "# mine\n"
    );
    assert_eq!(std::fs::read_to_string(files.config.path()).unwrap(), "");
    // A second take-over appends to the backup, never truncating it.
    std::fs::write(files.credentials.path(), foreign).unwrap();
    files
        .publish(
            &dev,
            Contents::Credentials {
                region: &region,
                credentials: &creds(3),
            },
            &mut owned,
            true,
            sid(),
        )
        .unwrap();
    let backup = std::fs::read_to_string(&published.backups[0]).unwrap();
    assert_eq!(backup.matches("AKIAFOREIGN").count(), 2);
}

#[test]
fn publish_into_new_files_creates_them_private() {
    let dir = tempfile::tempdir().unwrap();
    let aws = dir.path().join(".aws");
    let files = Files::at(aws.join("credentials"), aws.join("config"));
    let mut owned = Vec::new();
    let default = ProfileName::default_profile();
    files
        .publish(
            &default,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &creds(7),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(files.config.path()).unwrap(),
        "[default]\nregion = us-east-1\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&aws), 0o700);
        assert_eq!(mode(files.credentials.path()), 0o600);
        assert_eq!(mode(files.config.path()), 0o600);
    }
}

#[cfg(unix)]
#[test]
fn writes_go_through_symlinks_and_keep_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles-credentials");
    std::fs::write(&real, "[keep]\nx = 1\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("credentials");
    std::os::unix::fs::symlink("dotfiles-credentials", &link).unwrap();
    let files = Files::at(&link, dir.path().join("config"));
    let mut owned = Vec::new();
    files
        .publish(
            &"p".parse().unwrap(),
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &creds(1),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .starts_with("[keep]\nx = 1\n\n[p]\n")
    );
    assert_eq!(
        std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn unparseable_files_are_left_untouched_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    std::fs::write(files.config.path(), "[ok]\nthis line is broken\n").unwrap();
    let mut owned = Vec::new();
    let err = files
        .publish(
            &"p".parse().unwrap(),
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &creds(1),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap_err();
    let message = crate::error_sentence(&err);
    assert!(
        message.contains("config") && message.contains("line 2"),
        "{message}"
    );
    assert!(!files.credentials.path().exists(), "nothing was written");
    std::fs::write(files.credentials.path(), b"[a]\nk = \xff\n").unwrap();
    let report = files.check(&owned);
    assert!(report[0].problems[0].contains("not UTF-8"), "{report:?}");
}

#[test]
fn removing_a_section_never_glues_a_line_to_what_follows() {
    // The file ended without a newline, credtray appended [dev], then another tool appended
    // [prod] after it: removing [dev] must keep [prod] on its own line.
    let mut d = doc("[default]\nregion = us-east-1");
    let up = d.upsert("dev", &[("k", "v")], &[]).unwrap();
    assert_eq!(up.separator, "\n\n");
    let text = format!("{}[prod]\nregion = eu-west-1\n", d.as_str());
    let mut d = doc(&text);
    assert!(d.remove("dev", &up.separator));
    assert_eq!(
        d.as_str(),
        "[default]\nregion = us-east-1\n\n[prod]\nregion = eu-west-1\n"
    );
    assert_eq!(d.get("prod", "region"), Some("eu-west-1"));
    assert_eq!(d.get("default", "region"), Some("us-east-1"));
}

#[cfg(unix)]
#[test]
fn new_files_get_their_mode_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let _ = crate::atomic::write(&path, b"x", 0o640).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn a_publish_that_fails_in_the_config_file_puts_the_credentials_file_back() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    let dev: ProfileName = "dev".parse().unwrap();
    let mut owned = Vec::new();
    files
        .publish(
            &dev,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &creds(1),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap();
    let before = std::fs::read_to_string(files.credentials.path()).unwrap();
    // A directory where the config file's lock goes: reading works, writing fails.
    std::fs::remove_file(dir.path().join("config.credtray-lock")).unwrap();
    std::fs::create_dir(dir.path().join("config.credtray-lock")).unwrap();
    assert!(
        files
            .publish(
                &dev,
                Contents::Credentials {
                    region: &Region::us_east_1(),
                    credentials: &creds(2)
                },
                &mut owned,
                false,
                sid()
            )
            .is_err()
    );
    assert_eq!(
        std::fs::read_to_string(files.credentials.path()).unwrap(),
        before,
        "session 1's keys, not session 2's"
    );
    assert_eq!(owned.len(), 2, "what was owned stays owned");
    // A new profile is removed again, and not recorded.
    let other: ProfileName = "other".parse().unwrap();
    assert!(
        files
            .publish(
                &other,
                Contents::Credentials {
                    region: &Region::us_east_1(),
                    credentials: &creds(3)
                },
                &mut owned,
                false,
                sid()
            )
            .is_err()
    );
    assert_eq!(
        std::fs::read_to_string(files.credentials.path()).unwrap(),
        before
    );
    assert_eq!(owned.len(), 2);
}

#[test]
fn taking_over_a_config_section_drops_keys_that_would_send_the_aws_tools_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    std::fs::write(
        files.config.path(),
        "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = base\noutput = json\nregion = us-west-2\n",
    )
    .unwrap();
    let mut owned = Vec::new();
    let dev: ProfileName = "dev".parse().unwrap();
    let (_, published) = files
        .publish(
            &dev,
            Contents::Credentials {
                region: &Region::parse("eu-west-1", &[]).unwrap(),
                credentials: &creds(1),
            },
            &mut owned,
            true,
            sid(),
        )
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(files.config.path()).unwrap(),
        "[profile dev]\noutput = json\nregion = eu-west-1\n"
    );
    let backup = std::fs::read_to_string(&published.backups[0]).unwrap();
    assert!(
        backup.contains("role_arn = arn:aws:iam::123456789012:role/x"),
        "{backup}"
    );
}

#[test]
fn an_owned_section_changed_by_hand_is_backed_up_before_it_is_replaced_or_removed() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    let dev: ProfileName = "dev".parse().unwrap();
    let mut owned = Vec::new();
    files
        .publish(
            &dev,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &creds(1),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap();
    assert!(owned.iter().all(|o| o.fingerprint.is_some()));
    // Unchanged: a refresh and a stop make no backup.
    let (_, published) = files
        .publish(
            &dev,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &creds(2),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap();
    assert!(published.backups.is_empty());
    // Someone adds their own key to credtray's section.
    let text = std::fs::read_to_string(files.credentials.path()).unwrap();
    assert!(files.changed_by_hand(&owned).is_empty());
    std::fs::write(
        files.credentials.path(),
        text.replace("[dev]\n", "[dev]\n# my note\nregion_hint = mine\n"),
    )
    .unwrap();
    assert_eq!(
        files.changed_by_hand(&owned),
        [(files.credentials.path().to_owned(), "dev".to_owned())],
        "what `doctor` reports"
    );
    let (_, published) = files
        .publish(
            &dev,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &creds(3),
            },
            &mut owned,
            false,
            sid(),
        )
        .unwrap();
    assert_eq!(published.backups.len(), 1);
    let backup = std::fs::read_to_string(&published.backups[0]).unwrap();
    assert!(backup.contains("region_hint = mine"), "{backup}");
    let text = std::fs::read_to_string(files.credentials.path()).unwrap();
    std::fs::write(
        files.credentials.path(),
        text.replace("region_hint = mine", "region_hint = changed again"),
    )
    .unwrap();
    files.unpublish(&dev, &mut owned, &[], |_| false).unwrap();
    let backup = std::fs::read_to_string(&published.backups[0]).unwrap();
    assert!(
        backup.contains("region_hint = changed again"),
        "the removed text is kept: {backup}"
    );
    assert_eq!(
        std::fs::read_to_string(files.credentials.path()).unwrap(),
        ""
    );
}

#[test]
fn an_upsert_into_an_empty_last_value_without_a_final_newline_keeps_the_new_value() {
    // The value's edit and the keys appended after it both land at the end of the text.
    let mut d = doc("[dev]\naws_access_key_id=");
    d.upsert(
        "dev",
        &[("aws_access_key_id", "new"), ("aws_session_token", "t")],
        &[],
    )
    .unwrap();
    assert_eq!(
        d.as_str(),
        "[dev]\naws_access_key_id=new\naws_session_token = t"
    );
    assert_eq!(d.get("dev", "aws_access_key_id"), Some("new"));
}

/// Which header spellings botocore (1.44) files under which name, as its `load_config` and
/// `raw_config_parse` report them.
#[test]
fn sections_are_found_by_the_name_botocore_gives_them() {
    let config_dev = [
        ("profile dev", true),
        ("profile  dev", true),
        ("profile\tdev", true),
        ("profile \"dev\"", true),
        ("profile 'dev'", true),
        ("profile dev ", true),
        ("profile \"de\"v", true),
        ("profile d\\ev", true),
        ("profilex dev", true),
        ("Profile dev", false),
        (" profile dev", false),
        ("profile \"dev", false),
        ("profile dev\\", false),
        ("profile dev extra", false),
        ("profile", false),
        ("dev", false),
        (" dev ", false),
    ];
    for (header, found) in config_dev {
        let d = config(&format!("[{header}]\nregion = r\n"));
        assert_eq!(d.count("profile dev"), usize::from(found), "[{header}]");
        assert_eq!(
            d.get("profile dev", "region").is_some(),
            found,
            "[{header}]"
        );
        assert_eq!(
            d.section_range("profile dev").is_some(),
            found,
            "[{header}]"
        );
        assert_eq!(d.section_text("profile dev").is_some(), found, "[{header}]");
    }
    for (header, found) in [
        ("default", true),
        ("profile default", true),
        (" default ", false),
    ] {
        let d = config(&format!("[{header}]\nregion = r\n"));
        assert_eq!(d.count("default"), usize::from(found), "[{header}]");
    }
    let d = config("[sso-session   corp]\nsso_region = r\n[services \"s\"]\nx = 1\n");
    assert_eq!(d.get("sso-session corp", "sso_region"), Some("r"));
    assert_eq!(d.count("services s"), 1);
    assert_eq!(d.count("profile corp"), 0);

    for (header, found) in [
        ("dev", true),
        (" dev ", false),
        ("dev ", false),
        ("profile dev", false),
        ("\"dev\"", false),
    ] {
        let d = doc(&format!("[{header}]\naws_access_key_id = A\n"));
        assert_eq!(d.count("dev"), usize::from(found), "[{header}]");
        assert_eq!(d.count(header), 1, "[{header}] finds itself");
    }
}

#[test]
fn every_section_is_found_by_the_name_it_is_listed_under() {
    let text = "[ dev ]\nk = 1\n[profile  \"a\"]\nk = 2\n[default]\nk = 3\n[weird name]\nk = 4\n";
    for d in [doc(text), config(text)] {
        let names: Vec<String> = d.section_names().map(str::to_owned).collect();
        assert_eq!(names, [" dev ", "profile  \"a\"", "default", "weird name"]);
        for (i, name) in names.iter().enumerate() {
            assert_eq!(
                d.get(name, "k"),
                Some((i + 1).to_string().as_str()),
                "{name}"
            );
        }
    }
}

#[test]
fn a_config_profile_spelled_another_way_is_updated_in_place_not_shadowed() {
    let mut d = config("[profile \"dev\"]\nregion = us-west-2\noutput = json\n");
    let up = d
        .upsert("profile dev", &[("region", "eu-west-1")], &[])
        .unwrap();
    assert!(!up.created);
    assert_eq!(
        d.as_str(),
        "[profile \"dev\"]\nregion = eu-west-1\noutput = json\n"
    );
    assert!(d.remove("profile dev", ""));
    assert_eq!(d.as_str(), "");
}

#[test]
fn a_spaced_credentials_header_is_another_profile_and_stays_untouched() {
    let mut d = doc("[ dev ]\naws_access_key_id=");
    let up = d
        .upsert("dev", &[("aws_access_key_id", "new")], &[])
        .unwrap();
    assert!(up.created);
    assert_eq!(
        d.as_str(),
        "[ dev ]\naws_access_key_id=\n\n[dev]\naws_access_key_id = new\n"
    );
    assert_eq!(d.get(" dev ", "aws_access_key_id"), Some(""));
}

#[test]
fn files_check_warns_about_a_bom_and_repeated_sections_and_keys_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    std::fs::write(
        files.credentials.path(),
        "\u{feff}[a]\nk = 1\nK = 2\n[b]\nk = 1\n[a]\nk = 3\n",
    )
    .unwrap();
    std::fs::write(
        files.config.path(),
        "[profile \"dev\"]\nregion = r\n\n[profile  dev]\nregion = s\n[profile default]\n[default]\n",
    )
    .unwrap();
    let reports = files.check(&[]);
    let lines = |r: &Report| r.warnings.iter().map(|w| w.line).collect::<Vec<_>>();
    assert_eq!(lines(&reports[0]), [1, 3, 6], "{reports:?}");
    let [bom, key, section] = &reports[0].warnings[..] else {
        unreachable!()
    };
    assert!(bom.message.contains("byte order mark"), "{bom:?}");
    assert!(
        bom.message.contains("refuses to read any of the file"),
        "{bom:?}"
    );
    assert!(
        key.message
            .starts_with("K repeats the key on line 2 in [a]"),
        "{key:?}"
    );
    assert!(
        section
            .message
            .starts_with("[a] repeats the section on line 1"),
        "{section:?}"
    );
    assert!(reports[0].problems.is_empty(), "warnings are not problems");

    assert_eq!(lines(&reports[1]), [4, 7], "{reports:?}");
    assert!(
        reports[1].warnings[0].message.starts_with(
            "[profile  dev] is the same section to botocore as [profile \"dev\"] on line 1; it reads only the last"
        ),
        "{reports:?}"
    );
    assert!(
        reports[1].warnings[1].message.starts_with(
            "[default] is the same section to botocore as [profile default] on line 6"
        ),
        "{reports:?}"
    );
}

/// `reclaim` used to be a step every caller of `unpublish` had to remember: now a section
/// taken over for good (`import --move-keys`) is claimed again by `unpublish` itself, resting
/// on the user's section, when its session keeps it, and given up when not.
#[test]
fn unpublish_itself_keeps_a_section_taken_over_for_good_claimed() {
    use secrecy::SecretString;
    let keys = || crate::session::IamUserKeys {
        access_key_id: crate::session::AccessKeyId::parse(&SecretString::from(
            "AKIAIOSFODNN7EXAMPLE",
        ))
        .unwrap(),
        secret_access_key: crate::session::SecretAccessKey::parse(&SecretString::from(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ))
        .unwrap(),
    };
    let dev: ProfileName = "dev".parse().unwrap();
    let region: Region = Region::parse("eu-west-1", &[]).unwrap();
    for keeps in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
        std::fs::write(
            files.credentials.path(),
            "[dev]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\noutput = json\n",
        )
        .unwrap();
        let mut owned = Vec::new();
        let plan = files.plan_move(&dev, &owned, &keys()).unwrap();
        files.intend_move(&plan, sid(), &mut owned);
        files.write_move(&plan, &mut owned).unwrap();
        files.claim_the_rest(&plan, sid(), &mut owned);
        let resting = owned.clone();
        assert_eq!(resting.len(), 1);
        files
            .publish(
                &dev,
                Contents::Credentials {
                    region: &region,
                    credentials: &creds(1),
                },
                &mut owned,
                false,
                sid(),
            )
            .unwrap();
        let given_up = files
            .unpublish(&dev, &mut owned, &plan.originals, |t| {
                keeps && t.session == sid()
            })
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(files.credentials.path()).unwrap(),
            "[dev]\noutput = json\n",
            "the user's section is back, without the keys"
        );
        if keeps {
            assert_eq!(owned, resting, "claimed again, resting");
            assert!(
                given_up.iter().all(|o| o.flavor == Flavor::Config),
                "{given_up:?}"
            );
        } else {
            assert!(owned.is_empty(), "{owned:?}");
            assert!(given_up.iter().any(|o| o.flavor == Flavor::Credentials));
        }
    }
}
