//! `credtray session duplicate`: a copy with the same profile, region and fields, never a
//! secret: an IAM user's copy takes keys of its own (checked in the real keychain).

use crate::engine::{add_moto_chain, add_moto_user};
use crate::harness::{Env, fixtures, keychain};

const NEW_KEYS: &str = "AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";

/// `session duplicate dev` with `NEW_KEYS` as the copy's keys, which must succeed.
fn duplicate_dev(env: &Env) -> crate::harness::Run {
    env.run(
        &[
            "session",
            "duplicate",
            "dev",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        NEW_KEYS,
    )
    .ok()
}

#[test]
fn a_copy_has_the_same_fields_and_keys_of_its_own() {
    let env = Env::new();
    let f = fixtures();
    let dev = add_moto_user(
        &env,
        &f,
        "dev",
        "dev",
        &["--mfa-device", "arn:aws:iam::123456789012:mfa/me"],
    );
    // No keys: refused, nothing added.
    let run = env.run(&["session", "duplicate", "dev"], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("keys of its own"), "{run:?}");
    assert!(env.run(&["session", "show", "dev copy"], "").code != 0);

    let run = duplicate_dev(&env);
    assert!(
        run.stdout.contains("\"dev copy\"") && run.stdout.contains("a copy of \"dev\""),
        "{run:?}"
    );
    let (original, copy) = (env.session("dev"), env.session("dev copy"));
    for key in ["kind", "profile", "region", "publish", "mfa_device"] {
        assert_eq!(original[key], copy[key], "{key}");
    }
    assert_ne!(original["id"], copy["id"]);
    let copy_id = copy["id"].as_str().unwrap();
    let (copy_key_id, _) = crate::harness::key_pair(copy_id).expect("its own keys");
    assert_eq!(
        copy_key_id, "AKIAIOSFODNN7EXAMPLE",
        "its own keys, not the original's"
    );
    assert!(crate::harness::key_pair(&dev).is_some_and(|(id, _)| id == f.access_key_id));

    // A second copy gets the next free alias.
    duplicate_dev(&env);
    assert_eq!(
        env.session("dev copy 2")["mfa_device"],
        original["mfa_device"]
    );
}

#[test]
fn a_chained_copy_keeps_its_role_and_assumer_and_takes_no_keys() {
    let env = Env::new();
    let f = fixtures();
    add_moto_user(&env, &f, "dev", "dev", &[]);
    add_moto_chain(&env, &f);
    let run = env.run(
        &[
            "session",
            "duplicate",
            "ops",
            "--access-key-id",
            "-",
            "--secret-access-key",
            "-",
        ],
        NEW_KEYS,
    );
    assert_eq!(run.code, 2, "{run:?}");
    env.run(&["session", "duplicate", "ops", "--alias", "ops two"], "")
        .ok();
    let (ops, copy) = (env.session("ops"), env.session("ops two"));
    for key in ["kind", "role_arn", "assumer", "profile", "region"] {
        assert_eq!(ops[key], copy[key], "{key}");
    }
    assert!(keychain(copy["id"].as_str().unwrap()).is_empty());
    // The copy works: it starts through the same assumer.
    env.run(&["session", "edit", "ops two", "--profile", "ops2"], "")
        .ok();
    env.run_moto(&["session", "start", "ops two"], "").ok();
}
