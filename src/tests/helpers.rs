//! `TestApp`: a running shop with its own database, and a cookie-keeping client that speaks the
//! no-JavaScript form contract.

use app::server::config::Settings;
use app::server::state::AppState;
use regex_lite::Regex;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{ACCEPT, LOCATION, REFERER};
use reqwest::{redirect, Client, Response, StatusCode};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use storefront::startup::Application;

pub const ADMIN_EMAIL: &str = "merchant@example.com";
pub const ADMIN_PASSWORD: &str = "merchant-password-1";
/// What the test shops believe their public origin is (as if behind a reverse proxy).
pub const PUBLIC_URL: &str = "http://shop.example.test";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL tests create their throw-away databases.
fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

enum Scratch {
    SqliteDir(PathBuf),
    PostgresDb(String),
    /// Another instance's database: left for that instance to remove.
    Shared,
}

/// A running shop. Dropping it removes its database.
pub struct TestApp {
    pub base: String,
    pub database_url: String,
    /// Where this shop (and its other instances) write emails without `SMTP_URL`.
    pub mail_dir: PathBuf,
    pub state: AppState,
    /// The built-in sandboxes this shop serves, with their own store.
    sandboxes: Option<storefront::sandboxes::Sandbox>,
    scratch: Scratch,
    /// The serving task; it ends once the instance has shut down.
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Runs the same test body on SQLite and on PostgreSQL: `both_backends!(async fn name(app) { … })`.
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await;
                $body
            }
        }
    )*};
}
pub(crate) use both_backends;

/// Runs `async fn name(backend: Backend)` (a test that needs its own settings or fakes) on SQLite
/// and on PostgreSQL: `on_both_backends!(name, other_name);`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}
pub(crate) use on_both_backends;

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// A shop with extra settings (e.g. a provider pointed at an address where nothing answers).
pub async fn spawn_app_with(backend: Backend, extra: &[(&'static str, &str)]) -> TestApp {
    storefront::telemetry::init();
    let id = uuid::Uuid::new_v4().simple().to_string();
    // Emails go to a folder of the test's own, never to the working tree's `data/mail/`.
    let mail_dir = std::env::temp_dir().join(format!("storefront-mail-{id}"));
    let media_dir = std::env::temp_dir().join(format!("storefront-media-{id}"));
    let (database_url, scratch) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("storefront-test-{id}"));
            let url = format!("sqlite://{}", dir.join("shop.db").display());
            (url, Scratch::SqliteDir(dir))
        }
        Backend::Postgres => {
            let (url, name) = create_postgres_database(&id).await;
            (url, Scratch::PostgresDb(name))
        }
    };
    let mut env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", database_url),
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0".to_string()),
        ("PUBLIC_URL", PUBLIC_URL.to_string()),
        ("ADMIN_EMAIL", ADMIN_EMAIL.to_string()),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ("MAIL_DIR", mail_dir.display().to_string()),
        ("MEDIA_DIR", media_dir.display().to_string()),
    ]);
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    start(env, scratch).await
}

/// A new empty PostgreSQL database for a test: its URL and its name (for
/// [`drop_postgres_database`]).
pub(crate) async fn create_postgres_database(id: &str) -> (String, String) {
    let name = format!("sf_test_{id}");
    let admin = postgres_admin_url();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("PostgreSQL must be reachable at TEST_POSTGRES_URL (default 127.0.0.1:5432/test)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    (format!("{base}/{name}"), name)
}

/// Drop a database made by [`create_postgres_database`], whoever is still connected.
pub(crate) async fn drop_postgres_database(name: &str) {
    if let Ok(mut conn) =
        <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_admin_url()).await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

async fn start(env: HashMap<&str, String>, scratch: Scratch) -> TestApp {
    let mail_dir = PathBuf::from(env.get("MAIL_DIR").cloned().unwrap_or_default());
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings");
    let database_url = settings.database_url.clone();
    let app = Application::build(settings).await.expect("app starts");
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let sandboxes = app.sandbox().cloned();
    let server = tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        database_url,
        mail_dir,
        state,
        sandboxes,
        scratch,
        server: Some(server),
    }
}

impl TestApp {
    /// The sandboxes' context (their store is not the shop's database).
    pub fn sandbox(&self) -> &storefront::sandboxes::Sandbox {
        self.sandboxes
            .as_ref()
            .expect("this shop serves a built-in sandbox")
    }

    /// A new browser: its own cookie jar, no JavaScript, redirects not followed automatically.
    pub fn browser(&self) -> Browser {
        self.browser_with_headers(&[])
    }

    /// A new browser that sends these headers with every request (e.g. the `X-Forwarded-For` a
    /// proxy in front of the shop would add).
    pub fn browser_with_headers(&self, headers: &[(&'static str, &str)]) -> Browser {
        let jar = Arc::new(Jar::default());
        let mut defaults = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            defaults.insert(*name, value.parse().unwrap());
        }
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(redirect::Policy::none())
            .default_headers(defaults)
            .build()
            .unwrap();
        Browser {
            base: self.base.clone(),
            client,
            jar,
        }
    }

    /// A second instance of the shop on the same database (as behind a load balancer).
    /// The reference of attempt `n` of `order` in this installation (`ORD-000001-A1-K7QX2M`).
    pub fn attempt_ref(&self, order: &str, n: i64) -> String {
        app::server::payments::reference::attempt_reference(order, n, &self.state.db.installation)
    }

    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(&[]).await
    }

    /// A second instance on the same database with extra settings (e.g. a new `ADMIN_EMAIL`).
    pub async fn another_instance_with(&self, extra: &[(&'static str, &str)]) -> TestApp {
        let mut env = HashMap::from([
            ("DATABASE_URL", self.database_url.clone()),
            ("LEPTOS_SITE_ADDR", "127.0.0.1:0".to_string()),
            ("PUBLIC_URL", PUBLIC_URL.to_string()),
            ("MAIL_DIR", self.mail_dir.display().to_string()),
            (
                "MEDIA_DIR",
                self.state
                    .settings
                    .catalogue
                    .media_dir
                    .display()
                    .to_string(),
            ),
        ]);
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        start(env, Scratch::Shared).await
    }

    /// Begin the shutdown SIGTERM begins (readiness fails; after `SHUTDOWN_DELAY_SECONDS`, stop
    /// accepting, drain, stop the workers).
    pub fn begin_stop(&self) {
        self.state.background.request_stop();
    }

    /// Wait until the instance has shut down; returns how serving ended.
    pub async fn stopped(&mut self) -> std::io::Result<()> {
        match self.server.take() {
            Some(server) => server
                .await
                .expect("the server task ends without panicking"),
            None => Ok(()),
        }
    }

    /// A browser logged in as the bootstrap merchant.
    pub async fn merchant(&self) -> Browser {
        let merchant = self.browser();
        merchant
            .log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("merchant logs in");
        merchant
    }

    /// Run one SQL statement directly (set up a state the UI cannot reach quickly).
    /// How many products the database holds (archived ones too).
    pub async fn product_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM products")
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap()
    }

    pub async fn exec(&self, sql: &str) {
        sqlx::query(sql)
            .execute(&self.state.db.pool)
            .await
            .expect(sql);
    }

    /// [`TestApp::exec`] for a catalogue change the shop would make itself (stock sold elsewhere,
    /// a product withdrawn), told to the shop's caches as the shop tells them.
    pub async fn exec_catalogue(&self, sql: &str) {
        self.exec(sql).await;
        self.state.events.catalogue_changed();
    }

    /// [`TestApp::exec`] on the sandboxes' own store (a provider-side change the shop cannot
    /// make).
    pub async fn sandbox_exec(&self, sql: &str) {
        sqlx::query(sql)
            .execute(&self.sandbox().db.pool)
            .await
            .expect(sql);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !matches!(self.scratch, Scratch::Shared) {
            let _ = std::fs::remove_dir_all(&self.mail_dir);
            let _ = std::fs::remove_dir_all(&self.state.settings.catalogue.media_dir);
        }
        match &self.scratch {
            Scratch::Shared => {}
            Scratch::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::PostgresDb(name) => {
                let name = name.clone();
                let pool = self.state.db.pool.clone();
                // Close our own connections, then drop the database from a fresh runtime.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async move {
                        pool.close().await;
                        drop_postgres_database(&name).await;
                    });
                })
                .join();
            }
        }
    }
}

/// A page as the browser received it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub html: String,
}

impl Page {
    pub fn contains(&self, text: &str) -> bool {
        self.html.contains(text)
    }

    /// Text of the first capture group of `pattern`, if it matches.
    pub fn capture(&self, pattern: &str) -> Option<String> {
        Regex::new(pattern)
            .unwrap()
            .captures(&self.html)
            .map(|c| c[1].to_string())
    }

    /// The cart total cell.
    pub fn cart_total(&self) -> Option<String> {
        self.capture(r#"data-testid="cart-total"[^>]*>([^<]+)<"#)
    }

    /// The Quantity input's value on the cart line of `product_id`.
    pub fn line_quantity(&self, product_id: i64) -> Option<i64> {
        self.capture(&format!(r#"id="quantity-{product_id}"[^>]*value="(\d+)""#))
            .map(|v| v.parse().unwrap())
    }

    /// The text of the page's alert, if one is shown.
    pub fn alert(&self) -> Option<String> {
        self.capture(r#"role="alert"[^>]*>([^<]+)<"#)
    }

    /// The text of the page's first non-empty polite status, if one is shown.
    pub fn status(&self) -> Option<String> {
        self.capture(r#"role="status"[^>]*>([^<]+)<"#)
    }
}

/// A form on a page: its method, action and hidden fields.
#[derive(Debug, Clone)]
pub struct HtmlForm {
    pub method: String,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl HtmlForm {
    /// A hidden field's value ("" when the form has none).
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Undo the HTML escaping of an attribute value.
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The forms of a page, in order.
pub fn forms(html: &str) -> Vec<HtmlForm> {
    let form = Regex::new(r#"(?s)<form([^>]*)>(.*?)</form>"#).unwrap();
    let attr = |tag: &str, name: &str| {
        Regex::new(&format!(r#"\b{name}="([^"]*)""#))
            .unwrap()
            .captures(tag)
            .map(|c| unescape(&c[1]))
    };
    let input = Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)">"#).unwrap();
    form.captures_iter(html)
        .map(|c| HtmlForm {
            method: attr(&c[1], "method").unwrap_or_default(),
            action: attr(&c[1], "action").unwrap_or_default(),
            fields: input
                .captures_iter(&c[2])
                .map(|i| (unescape(&i[1]), unescape(&i[2])))
                .collect(),
        })
        .collect()
}

/// A browser (as [`TestApp::browser`]) for a shop at `base`, e.g. behind a proxy. Each request
/// opens a new connection, so a proxy that balances connections balances requests.
pub fn browser_at(base: &str) -> Browser {
    let jar = Arc::new(Jar::default());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    Browser {
        base: base.to_string(),
        client,
        jar,
    }
}

/// A load balancer in front of `backends` (`host:port`): each new connection goes to the next
/// backend in turn. Returns its address as `http://127.0.0.1:{port}`.
pub async fn round_robin_proxy(backends: Vec<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut next = 0usize;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = backends[next % backends.len()].clone();
            next += 1;
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A cookie-keeping client that posts forms the way a browser with JavaScript off does.
pub struct Browser {
    pub base: String,
    pub client: Client,
    jar: Arc<Jar>,
}

impl Browser {
    /// The same browser (cookies and all) sent to another instance, as a load balancer would.
    pub fn at(&self, other: &TestApp) -> Browser {
        Browser {
            base: other.base.clone(),
            client: self.client.clone(),
            jar: self.jar.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status();
        Page {
            status,
            html: response.text().await.unwrap(),
        }
    }

    /// Post a form from page `from` (sent as Referer) and return the raw response (a redirect).
    pub async fn post_form(&self, from: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(format!("{}{action}", self.base))
            .header(ACCEPT, "text/html")
            .header(REFERER, format!("{}{from}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Post a multipart form (a file upload) from page `from`; the raw response.
    pub async fn post_multipart(
        &self,
        from: &str,
        action: &str,
        form: reqwest::multipart::Form,
    ) -> Response {
        self.client
            .post(format!("{}{action}", self.base))
            .header(ACCEPT, "text/html")
            .header(REFERER, format!("{}{from}", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Post a form and follow its redirect like a browser; fails the test if there was none.
    pub async fn submit(&self, from: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let response = self.post_form(from, action, fields).await;
        assert!(
            response.status().is_redirection(),
            "{action}: expected a redirect, got {}",
            response.status()
        );
        let location = response.headers()[LOCATION].to_str().unwrap().to_string();
        self.get(&self.local(&location)).await
    }

    /// Press Refund on the merchant's order page as its JavaScript does: the answer's status and
    /// text.
    pub async fn ask_refund(
        &self,
        reference: &str,
        amount: &str,
        key: &str,
    ) -> (StatusCode, String) {
        let response = self
            .client
            .post(format!("{}/api/admin/refund", self.base))
            .header(REFERER, format!("{}/admin/orders/{reference}", self.base))
            .form(&[
                ("reference", reference),
                ("amount", amount),
                ("reason", "Damaged in transit"),
                ("key", key),
            ])
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// [`Browser::ask_refund`] as the page reads it: the server function's message, or its error.
    pub async fn refund(&self, reference: &str, amount: &str, key: &str) -> Result<String, String> {
        let (status, text) = self.ask_refund(reference, amount, key).await;
        if status.is_success() {
            Ok(serde_json::from_str::<String>(&text).unwrap_or(text))
        } else {
            Err(text)
        }
    }

    /// [`Browser::ask_refund`] with a new form key, as a fresh refund form has.
    pub async fn refund_with_new_key(&self, reference: &str, amount: &str) -> (StatusCode, String) {
        let key = format!("refund-{}", uuid::Uuid::new_v4().simple());
        self.ask_refund(reference, amount, &key).await
    }

    /// The path of a URL on this shop, whether written with its public origin or its real address.
    pub fn local(&self, url: &str) -> String {
        url.strip_prefix(PUBLIC_URL)
            .or_else(|| url.strip_prefix(&self.base))
            .unwrap_or(url)
            .to_string()
    }

    pub async fn add_to_cart(&self, product_id: i64, quantity: i64) -> Page {
        self.submit(
            "/",
            "/api/add_to_cart",
            &[
                ("product_id", &product_id.to_string()),
                ("quantity", &quantity.to_string()),
            ],
        )
        .await
    }

    pub async fn update_line(&self, product_id: i64, quantity: &str) -> Page {
        self.submit(
            "/cart",
            "/api/update_cart_line",
            &[
                ("product_id", &product_id.to_string()),
                ("quantity", quantity),
            ],
        )
        .await
    }

    pub async fn cart(&self) -> Page {
        self.get("/cart").await
    }

    /// Log in through the form; `Err` carries the alert shown on the page.
    pub async fn log_in(&self, email: &str, password: &str) -> Result<Page, String> {
        self.account_form("/login", "/api/login", email, password)
            .await
    }

    /// Create an account through the form; `Err` carries the alert shown on the page.
    pub async fn register(&self, email: &str, password: &str) -> Result<Page, String> {
        self.account_form("/register", "/api/register", email, password)
            .await
    }

    async fn account_form(
        &self,
        page: &str,
        action: &str,
        email: &str,
        password: &str,
    ) -> Result<Page, String> {
        let page = self
            .submit(page, action, &[("email", email), ("password", password)])
            .await;
        match page.alert() {
            Some(alert) => Err(alert),
            None => Ok(page),
        }
    }

    pub async fn set_currency(&self, code: &str) -> Page {
        self.submit("/", "/api/set_currency", &[("currency", code)])
            .await
    }

    /// The merchant's product edit: price in the session's currency, stock, status.
    pub async fn edit_product(
        &self,
        product_id: i64,
        price: &str,
        stock: i64,
        status: &str,
    ) -> Page {
        self.submit(
            "/admin/products",
            "/api/admin/update_product",
            &[
                ("product_id", &product_id.to_string()),
                ("price", price),
                ("stock", &stock.to_string()),
                ("status", status),
            ],
        )
        .await
    }

    /// The cookies this browser would send to the shop (`name=value; …`).
    pub fn cookies(&self) -> String {
        let url: reqwest::Url = self.base.parse().unwrap();
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    /// Send a request with another browser's cookies (a stolen or planted session id).
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Page {
        let client = Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap();
        let response = client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .unwrap();
        Page {
            status: response.status(),
            html: response.text().await.unwrap(),
        }
    }
}

/// A TCP port standing for a provider: it drops every connection while the target is `None`, and
/// forwards connections to the target (`host:port`) otherwise; changing the target drops the
/// connections open. Tests point a provider's API base at it to take the provider down and back.
pub async fn switchable_proxy() -> (u16, tokio::sync::watch::Sender<Option<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (target, watch) = tokio::sync::watch::channel::<Option<String>>(None);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let Some(to) = watch.borrow().clone() else {
                drop(inbound);
                continue;
            };
            let mut changed = watch.clone();
            changed.mark_unchanged();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = changed.changed() => {}
                    }
                }
            });
        }
    });
    (port, target)
}

/// Read a Server-Sent Events body into `seen` until it contains `needle` (10 s at most).
pub async fn read_until<S, B>(stream: &mut S, seen: &mut String, needle: &str)
where
    S: futures_util::Stream<Item = reqwest::Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    use futures_util::StreamExt as _;
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !seen.contains(needle) {
            let chunk = stream.next().await.expect("the stream stays open").unwrap();
            seen.push_str(&String::from_utf8_lossy(chunk.as_ref()));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{needle:?} within 10 s; the stream said {seen:?}"));
}

/// When a [`gate`] holds the call it was armed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Before the provider sees it: the call is in flight and nothing happened yet.
    Request,
    /// After the provider acted, before its answer reaches the shop.
    Answer,
}

/// A call a [`gate`] holds: its request body (or, held at [`Hold::Answer`], the provider's
/// answer), and the switch that lets it go on.
pub struct Held {
    pub body: String,
    pub release: tokio::sync::oneshot::Sender<()>,
}

struct GateInner {
    target: std::sync::Mutex<String>,
    method: reqwest::Method,
    path_ends: &'static str,
    hold: Hold,
    armed: std::sync::atomic::AtomicBool,
    held: tokio::sync::mpsc::UnboundedSender<Held>,
    http: Client,
}

/// A provider's API behind an HTTP forwarder that holds the first `method` call whose path ends
/// with `path_ends` (as a slow provider or a slow network would), until the test lets it go:
/// every other call passes straight on. Returns its port, the setter of the address it forwards
/// to (`http://host:port`, set once the shop behind it runs) and the held calls as they come.
pub async fn gate(
    method: reqwest::Method,
    path_ends: &'static str,
    hold: Hold,
) -> (
    u16,
    Arc<dyn Fn(&str) + Send + Sync>,
    tokio::sync::mpsc::UnboundedReceiver<Held>,
) {
    let (held, calls) = tokio::sync::mpsc::unbounded_channel();
    let inner = Arc::new(GateInner {
        target: std::sync::Mutex::new(String::new()),
        method,
        path_ends,
        hold,
        armed: std::sync::atomic::AtomicBool::new(true),
        held,
        http: Client::new(),
    });
    let router = axum::Router::new()
        .fallback(forward)
        .with_state(inner.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let set = move |to: &str| *inner.target.lock().unwrap() = to.to_string();
    (port, Arc::new(set), calls)
}

async fn forward(
    axum::extract::State(gate): axum::extract::State<Arc<GateInner>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let chosen = method.as_str() == gate.method.as_str()
        && uri.path().ends_with(gate.path_ends)
        && gate.armed.swap(false, std::sync::atomic::Ordering::SeqCst);
    let wait = |body: String| {
        let (release, released) = tokio::sync::oneshot::channel();
        gate.held.send(Held { body, release }).unwrap();
        released
    };
    if chosen && gate.hold == Hold::Request {
        let _ = wait(String::from_utf8_lossy(&body).into_owned()).await;
    }
    let target = gate.target.lock().unwrap().clone();
    let (status, content_type, answer) = pass_on(
        &gate.http,
        &format!("{target}{path}"),
        &method,
        &headers,
        body,
    )
    .await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    if chosen && gate.hold == Hold::Answer {
        let _ = wait(text.clone()).await;
    }
    (status, [("content-type", content_type)], text).into_response()
}

/// Send a request a test forwarder received on to `url` (without its `host` and
/// `content-length`): the answer's status, content type and body.
pub async fn pass_on(
    http: &Client,
    url: &str,
    method: &axum::http::Method,
    headers: &axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String, axum::body::Bytes) {
    let mut request = http.request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
        url,
    );
    for (name, value) in headers {
        if name.as_str() != "host" && name.as_str() != "content-length" {
            request = request.header(name.as_str(), value.as_bytes());
        }
    }
    let answer = request.body(body.to_vec()).send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    (status, content_type, answer.bytes().await.unwrap())
}
