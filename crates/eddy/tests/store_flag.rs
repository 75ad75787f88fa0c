//! `eddy serve --store URI`: the embedded store goes where `sqlite:DIR` says, a PostgreSQL store
//! that cannot be reached stops eddy with a message that names where it points (never its
//! password), and an unknown scheme is a usage error.

use std::process::{Command, Stdio};

fn serve(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args([
            "serve",
            "--aws-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("EDDY_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("run eddy")
}

#[test]
fn a_postgres_store_that_cannot_be_reached_stops_eddy_without_showing_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = serve(
        &[
            "--store",
            "postgres://eddy:secret@127.0.0.1:1/eddy?connect_timeout=2",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the store at `postgres://127.0.0.1:1/"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
    assert!(!dir.path().join("eddy.db").exists());
}

#[test]
fn an_unknown_store_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = serve(&["--store", "mysql://db/eddy"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a store URI"), "{stderr}");
}

#[test]
fn a_sqlite_store_lives_where_the_uri_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, store) = (dir.path().join("data"), dir.path().join("store"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args([
            "serve",
            "--aws-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("EDDY_STORE", format!("sqlite:{}", store.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start eddy");
    let mut line = String::new();
    let ready = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    );
    let _killed = child.kill();
    let _reaped = child.wait();
    ready.expect("ready line");
    assert!(line.contains("aws=http://"), "{line:?}");
    assert!(store.join("eddy.db").is_file(), "no store in {store:?}");
    assert!(
        !data.join("eddy.db").exists(),
        "the store went to --data-dir"
    );
}
