//! A real PgBouncer (Debian's `pgbouncer`) in front of the test server, on a free port, for
//! one test; stopped when the guard is dropped.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::server_url;

pub struct PgBouncer {
    child: Child,
    _dir: TempDir,
    pub port: u16,
    user: String,
    password: String,
}

impl PgBouncer {
    /// Starts PgBouncer with `pool_mode` (`transaction` or `session`) and `pool_size` server
    /// connections per database, in front of `NELO_TEST_SERVER_URL`'s server, accepting
    /// sqlx's `extra_float_digits` startup parameter (as PgBouncer is usually set up for it).
    pub fn start(pool_mode: &str, pool_size: u32) -> Self {
        Self::start_with(pool_mode, pool_size, &["extra_float_digits"])
    }

    /// [`Self::start`] with the startup parameters PgBouncer ignores instead of refusing
    /// (none: its default configuration).
    pub fn start_with(pool_mode: &str, pool_size: u32, ignore_startup_parameters: &[&str]) -> Self {
        let server = url::Url::parse(&server_url()).expect("NELO_TEST_SERVER_URL is a URL");
        let user = server.username().to_string();
        let password = server.password().unwrap_or_default().to_string();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("a temporary directory");
        // PgBouncer refuses to run as root: it runs as `nobody`, who must read its files.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let users = dir.path().join("users.txt");
        std::fs::write(&users, format!("\"{user}\" \"{password}\"\n")).unwrap();
        let config = dir.path().join("pgbouncer.ini");
        std::fs::write(
            &config,
            format!(
                "[databases]\n* = host={} port={}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\nauth_type = plain\nauth_file = {}\n\
                 pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\nmax_client_conn = 200\n\
                 ignore_startup_parameters = {}\n",
                server.host_str().unwrap_or("127.0.0.1"),
                server.port().unwrap_or(5432),
                users.display(),
                ignore_startup_parameters.join(",")
            ),
        )
        .unwrap();
        for file in [&users, &config] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut command = Command::new("pgbouncer");
        if is_root() {
            command.args(["-u", "nobody"]);
        }
        let child = command
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start `pgbouncer`: install Debian's `pgbouncer` package");
        let mut pooler = Self {
            child,
            _dir: dir,
            port,
            user,
            password,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = pooler.child.try_wait() {
                panic!("pgbouncer exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "pgbouncer did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        pooler
    }

    /// A URL to `database` through the pooler, with `params` (e.g. `pgbouncer=true`).
    pub fn url(&self, database: &str, params: &str) -> String {
        let mut url = format!(
            "postgresql://{}:{}@127.0.0.1:{}/{database}",
            self.user, self.password, self.port
        );
        if !params.is_empty() {
            url.push('?');
            url.push_str(params);
        }
        url
    }
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|user| user == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|output| output.stdout.starts_with(b"0\n"))
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
