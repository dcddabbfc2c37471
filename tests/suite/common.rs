//! What every area of the suite shares: running the binary, the fixtures,
//! child processes that cannot leak, free ports. No helper is written twice.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A path under `tests/fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    repo().join("tests/fixtures").join(relative)
}

/// The `revintel` binary, to run in `dir` (its shell history kept there).
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_revintel"));
    command
        .current_dir(dir)
        .env("REVINTEL_HISTORY", dir.join(".history"));
    command
}

/// Runs `revintel ARGS` in `dir`.
pub fn revintel(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("the binary runs")
}

/// Runs `revintel ARGS` in `dir`, which must succeed.
pub fn revintel_ok(dir: &Path, args: &[&str]) -> Output {
    let o = revintel(dir, args);
    assert!(
        o.status.success(),
        "revintel {args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// The output's stdout, which must come from a successful run.
pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", stderr(&o), stdout(&o));
    stdout(&o)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A project folder with a copy of the tiny fixture, safe to damage.
pub fn tiny_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("tiny")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

/// A project using `examples/maven`'s config as checked in and its mapping
/// as `edit` leaves it (copied into the project), with the example's data,
/// the shipped templates, and models and output inside the project, so
/// nothing lands in the repository.
pub fn maven_project(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let example = repo().join("examples/maven");
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(example.join("revintel.toml"))
        .unwrap()
        .replace(
            "path = \"data/",
            &format!("path = \"{}/data/", example.display()),
        )
        .replace(
            "\"../../templates\"",
            &format!("\"{}/templates\"", repo().display()),
        );
    assert!(
        !config.contains("\"data/")
            && config.contains("as_of")
            && config.contains("mapping = \"maven.toml\""),
        "{config}"
    );
    std::fs::write(dir.path().join("revintel.toml"), config).unwrap();
    let mapping = std::fs::read_to_string(example.join("maven.toml")).unwrap();
    std::fs::write(dir.path().join("maven.toml"), edit(&mapping)).unwrap();
    dir
}

/// A child process, killed and reaped when dropped, so a failing test
/// leaks no process.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed certificate for `localhost` and 127.0.0.1 and its key,
/// written into `dir` by the `openssl` CLI: (cert.pem, key.pem).
pub fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let o = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // Not a CA: rustls (webpki) refuses a CA certificate as the
        // server's own (CaUsedAsEndEntity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl CLI runs (it makes the test certificate)");
    assert!(
        o.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (cert, key)
}

/// A loopback port held without listening: connecting to it is refused
/// (nothing listens there), and nothing else can take it until the socket
/// is dropped.
pub fn reserved_port() -> (u16, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (port, socket)
}
