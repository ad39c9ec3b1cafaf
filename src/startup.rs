//! Builds the whole application: database, router, listener. `main` and the tests both use this.

use app::server::auth::session::GatedStore;
use app::server::auth::session_cache::SessionCache;
use app::server::config::{ConfigError, Settings};
use app::server::db::{Db, NativePool};
use app::server::error_links::ErrorLinks;
use app::server::events::OrderEvents;
use app::server::payments::kernel::PaymentsMode;
use app::server::payments::Payments;
use app::server::services::accounts;
use app::server::state::{AppState, Shared};
use app::{shell, App};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// Why the shop could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database named by DATABASE_URL: {0}")]
    Database(#[from] sqlx::Error),
    #[error("session store: {0}")]
    Sessions(String),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("{0}")]
    Setup(String),
}

/// Whether this build can run these settings: a build without the `sandboxes` feature (the live
/// build) has no sandbox to send a sandbox-mode payment to, so it runs in live mode only.
pub fn check_build(settings: &Settings) -> Result<(), ConfigError> {
    let sandbox_mode = settings.payments.mode == PaymentsMode::Sandbox;
    if sandbox_mode && !cfg!(feature = "sandboxes") {
        return Err(ConfigError {
            var: "PAYMENTS_MODE",
            expected: "live: this is the live build, which has no sandboxes (PAYMENTS_MODE is sandbox when unset); use a build with the `sandboxes` feature to try the shop".into(),
        });
    }
    Ok(())
}

/// A bound, ready-to-serve shop.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// The background workers, awaited on shutdown so they finish the pass in hand.
    workers: Vec<JoinHandle<()>>,
    readiness: crate::health::Readiness,
    /// The sandboxes this instance serves, if any provider uses one.
    #[cfg(feature = "sandboxes")]
    sandbox: Option<crate::sandboxes::Sandbox>,
}

/// The sandboxes' context when some provider uses its built-in sandbox: their own store beside
/// the shop's database, the shop's public URL for pages and returns, its internal URL for
/// webhooks.
#[cfg(feature = "sandboxes")]
async fn sandbox_for(state: &AppState) -> Result<Option<crate::sandboxes::Sandbox>, StartupError> {
    use crate::sandboxes::{store, Sandbox};
    if state.settings.payments.sandboxed().next().is_none() {
        return Ok(None);
    }
    let public_url: Arc<str> = state.settings.public_url.as_str().into();
    Ok(Some(Sandbox {
        db: store::open(&store::url_beside(&state.settings.database_url)).await?,
        http: state.http.clone(),
        shop_url: public_url.clone(),
        site_url: public_url,
        webhook_root: state.internal_url.clone(),
    }))
}

/// How long an idle session lives.
const SESSION_IDLE_DAYS: i64 = 14;
/// How long a shutdown waits for requests in flight, and then for each background worker.
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(25);
/// How often expired sessions are deleted from the database.
const EXPIRED_SESSION_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        check_build(&settings).map_err(|e| StartupError::Setup(e.to_string()))?;
        // Installed before anything records, so no early count is lost.
        crate::metrics::handle();
        let db = Db::connect(&settings.database_url).await?;
        let sessions = match &db.native {
            NativePool::Postgres(pool) => SessionCache::across_instances(pool.clone()),
            NativePool::Sqlite(_) => SessionCache::for_sqlite_file(&settings.database_url),
        };
        let demo = settings.catalogue.demo_load(settings.payments.mode);
        if app::server::db::demo_catalogue::load(&db, demo).await? {
            tracing::info!("loaded the demo catalogue (DEMO_CATALOGUE)");
        }
        accounts::ensure_admin(&db, &sessions, &settings)
            .await
            .map_err(|e| StartupError::Setup(format!("merchant account: {e}")))?;
        let listener = TcpListener::bind(settings.site_addr).await?;
        let addr = listener.local_addr()?;
        let leptos_options = leptos_options(addr);
        let internal_url = internal_url(addr);
        let events = match &db.native {
            NativePool::Postgres(pool) => OrderEvents::shared(pool.clone(), sessions.clone()),
            NativePool::Sqlite(_) => OrderEvents::local(),
        };
        // Until it hears other instances, catalogue pages are rendered without the cache.
        if !events
            .wait_until_in_sync(std::time::Duration::from_secs(5))
            .await
        {
            tracing::warn!(
                "not yet listening for other instances' changes; pages are not cached until then"
            );
        }
        let captures = Arc::new(app::server::services::capture_claims::DbCaptureClaims::new(
            db.clone(),
        ));
        let state = AppState::new(Shared {
            leptos_options,
            db,
            payments: Payments::new(
                &settings.payments.providers,
                &settings.payments.card_providers,
                &settings.public_url,
                &internal_url,
                captures,
            ),
            settings: Arc::new(settings),
            events,
            internal_url: internal_url.into(),
            http: app::server::payments::http_client(),
            webhook_rejections: Arc::default(),
            limits: Arc::default(),
            background: Arc::default(),
            sessions,
            prices: Default::default(),
        });
        let readiness = crate::health::Readiness::default();
        #[cfg(feature = "sandboxes")]
        let sandbox = sandbox_for(&state).await?;
        let router = router(
            state.clone(),
            readiness.clone(),
            #[cfg(feature = "sandboxes")]
            sandbox.clone(),
        )
        .await?;
        // Both stop by themselves on `background.stop()`: the reconciler after its pass, the
        // outbox worker after the message in hand, releasing its unsent claims.
        let workers = vec![
            app::server::services::reconciler::spawn(state.clone()),
            app::server::services::outbox::spawn(state.clone()),
        ];
        Ok(Application {
            listener,
            router,
            state,
            workers,
            readiness,
            #[cfg(feature = "sandboxes")]
            sandbox,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The sandboxes this instance serves (none when every provider has real keys).
    #[cfg(feature = "sandboxes")]
    pub fn sandbox(&self) -> Option<&crate::sandboxes::Sandbox> {
        self.sandbox.as_ref()
    }

    /// Serve until Ctrl-C / SIGTERM (or [`Background::stop`](app::server::background::Background::stop)).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serve until `signal` resolves or the instance is told to stop, then shut down in order:
    /// stop accepting connections, tell the live streams and workers (they end their streams
    /// with a reconnect hint and finish the pass in hand), let requests in flight — webhooks,
    /// checkouts — finish (for at most [`DRAIN_LIMIT`]), then wait for the workers.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let background = self.state.background.clone();
        let delay = self.state.settings.operations.shutdown_delay;
        let stop = {
            let background = background.clone();
            async move {
                tokio::select! {
                    _ = signal => background.request_stop(),
                    _ = background.stop_requested() => {}
                }
                if !delay.is_zero() && !background.is_stopping() {
                    tracing::info!(
                        ?delay,
                        "stopping: /readyz fails now; serving on while the load balancer notices"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = background.stopped() => {}
                    }
                }
                tracing::info!("stopping: no new connections; finishing requests in flight");
                background.stop();
            }
        };
        // No Nagle delay: responses written in several pieces (headers, streamed body) would
        // otherwise wait for the client's delayed ACK, about 40 ms each.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        // Migrations ran in `build`; from here requests are answered, so load balancers may send
        // traffic (`/readyz`).
        self.readiness.set(true);
        let serve = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .into_future();
        let drain_limit = {
            let background = background.clone();
            async move {
                background.stopped().await;
                tokio::time::sleep(DRAIN_LIMIT).await;
            }
        };
        let served = tokio::select! {
            served = serve => served,
            _ = drain_limit => {
                tracing::warn!(limit = ?DRAIN_LIMIT, "stopping: gave up waiting for requests in flight");
                Ok(())
            }
        };
        let workers = futures_util::future::join_all(self.workers);
        match tokio::time::timeout(DRAIN_LIMIT, workers).await {
            Ok(done) => {
                for e in done.into_iter().filter_map(Result::err) {
                    tracing::error!(error = %e, "a background worker failed");
                }
            }
            Err(_) => tracing::warn!("stopping: the background workers did not finish in time"),
        }
        tracing::info!("stopped");
        served
    }
}

/// How this instance reaches itself: its own port on the loopback address it listens on.
fn internal_url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}

/// Leptos settings: cargo-leptos' `LEPTOS_*` variables when present, else the layout of `target/site`.
fn leptos_options(addr: SocketAddr) -> LeptosOptions {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
    LeptosOptions::builder()
        .output_name(env("LEPTOS_OUTPUT_NAME", "storefront"))
        .site_root(env("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(addr)
        .reload_port(
            env("LEPTOS_RELOAD_PORT", "3001")
                .parse::<u32>()
                .unwrap_or(3001),
        )
        .hash_files(hashed_assets())
        .env(
            match env("LEPTOS_ENV", "PROD").to_ascii_uppercase().as_str() {
                "DEV" => leptos::config::Env::DEV,
                _ => leptos::config::Env::PROD,
            },
        )
        .build()
}

/// Whether the built assets have content-hashed names: `LEPTOS_HASH_FILES` when set (cargo-leptos
/// sets it), else whether cargo-leptos left its `hash.txt` beside this binary (a release build
/// started directly, as `.ci/serve.sh` and the benchmarks do). Test binaries have none.
fn hashed_assets() -> bool {
    if let Ok(value) = std::env::var("LEPTOS_HASH_FILES") {
        return value.trim() == "true";
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt")))
        .is_some_and(|file| file.is_file())
}

/// The app's route list, generated once per process. Generating it briefly switches off resource
/// loading for the whole process (a global flag in Leptos), so it must never run while another
/// instance in the same process (the tests run many) is serving pages.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: OnceLock<Vec<leptos_axum::AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

async fn router(
    state: AppState,
    readiness: crate::health::Readiness,
    #[cfg(feature = "sandboxes")] sandbox: Option<crate::sandboxes::Sandbox>,
) -> Result<Router, StartupError> {
    let routes = route_list();
    let options = state.leptos_options.clone();
    let context_state = state.clone();
    let shell_options = Arc::new(options.clone());
    let site_root = std::path::PathBuf::from(options.site_root.as_ref());
    let pkg_dir = site_root.join(options.site_pkg_dir.as_ref());
    let router = Router::new()
        .route("/healthz", get(crate::health::healthz))
        .route("/readyz", get(crate::health::readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .merge(crate::payment_routes::routes())
        .merge(crate::order_lists::routes())
        .merge(crate::catalogue_files::routes());
    // A sandbox is mounted only for a provider that uses it: with real keys set, nobody can
    // produce that provider's signed events through this shop.
    #[cfg(feature = "sandboxes")]
    let router = match sandbox {
        Some(sandbox) => router.merge(crate::sandboxes::mount(
            sandbox,
            state.settings.payments.sandboxed(),
        )),
        None => router,
    };
    let router = router
        // Everything but the files below goes to the app, whose fallback also serves the
        // remaining files of the site root (favicon, robots.txt).
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                leptos::prelude::provide_context(context_state.clone());
                crate::security_headers::provide_leptos_nonce();
            },
            // Behind an `Arc`: axum clones each route's handler, and so this closure, on every
            // request, and the options are a dozen fields; only a render needs its own copy.
            move || shell(LeptosOptions::clone(&shell_options)),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            crate::security_headers::provide_leptos_nonce, shell
        ))
        .with_state(state.clone());
    let error_links = Arc::new(ErrorLinks::from_settings(&state.settings));
    let trusted = Arc::new(state.settings.operations.trusted_proxies.clone());
    let security_headers = Arc::new(crate::security_headers::SecurityHeaders::new(
        &state.settings,
        &state.leptos_options,
    ));
    // Outermost first. What a page from the render cache does not need (the cross-site check,
    // the body limit, the error-link guard, the readiness flag: all for other requests) is inside
    // the cache, so a cached page skips it. One `layer` call for the lot: axum boxes each layer
    // added to a router on its own, and clones that box on every request.
    let router = router.layer(
        ServiceBuilder::new()
            // Inside the sessions (it reads the visitor's header from the session) and inside the
            // security headers (it splices in their nonce).
            .layer(axum::middleware::from_fn_with_state(
                crate::page_cache::PageCache::new(state.clone()),
                crate::page_cache::serve,
            ))
            .layer(axum::middleware::from_fn_with_state(
                crate::csrf::PublicOrigin(state.settings.public_url.as_str().into()),
                crate::csrf::guard,
            ))
            .layer(axum::middleware::from_fn(crate::body_limit::limit))
            .layer(axum::middleware::from_fn_with_state(
                error_links,
                crate::error_links::guard,
            ))
            .layer(axum::Extension(readiness)),
    );
    let router = with_sessions(router, &state)
        .await?
        // Built assets from memory, images, fonts and photos straight from disk: added after the
        // layers above (a layer applies to the routes already there), so a file skips the
        // sessions, the render cache and the checks for forms.
        .nest(
            &format!("/{}", options.site_pkg_dir),
            crate::static_assets::router(pkg_dir, options.hash_files),
        )
        .nest_service("/images", ServeDir::new(site_root.join("images")))
        .nest_service("/fonts", ServeDir::new(site_root.join("fonts")))
        .nest_service(
            "/media",
            crate::catalogue_files::media(&state.settings.catalogue.media_dir),
        );
    Ok(router.layer(
        ServiceBuilder::new()
            // Outermost: every request, whatever the layers inside answer, is logged under its id,
            // counted and timed.
            .layer(axum::middleware::from_fn_with_state(
                trusted,
                crate::request_id::trace_requests,
            ))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(crate::metrics::RequestMetrics::default()),
                crate::metrics::track_http,
            ))
            .layer(CompressionLayer::new())
            .layer(axum::middleware::from_fn_with_state(
                security_headers,
                crate::security_headers::add,
            )),
    ))
}

/// Sessions live in the shop's own database, so several instances can share them.
async fn with_sessions(router: Router, state: &AppState) -> Result<Router, StartupError> {
    let secure = state.settings.is_https();
    let key = state.settings.session_key_bytes();
    macro_rules! layer {
        ($store:expr) => {{
            let store = $store;
            store
                .migrate()
                .await
                .map_err(|e| StartupError::Sessions(e.to_string()))?;
            let sweeper = GatedStore::new(
                store.clone(),
                state.db.gate.clone(),
                state.sessions.clone(),
            );
            tokio::spawn(async move {
                if let Err(e) = sweeper.continuously_delete_expired(EXPIRED_SESSION_SWEEP).await {
                    tracing::error!(error = %e, "expired-session sweeper stopped");
                }
            });
            let layer = SessionManagerLayer::new(GatedStore::new(
                store,
                state.db.gate.clone(),
                state.sessions.clone(),
            ))
                .with_name("storefront_session")
                .with_same_site(SameSite::Lax)
                .with_http_only(true)
                .with_secure(secure)
                .with_expiry(Expiry::OnInactivity(time::Duration::days(
                    SESSION_IDLE_DAYS,
                )));
            match key {
                Some(bytes) => {
                    let key = Key::try_from(bytes.as_slice())
                        .map_err(|e| StartupError::Setup(format!("SESSION_SECRET: {e}")))?;
                    router.layer(layer.with_signed(key))
                }
                None => router.layer(layer),
            }
        }};
    }
    Ok(match &state.db.native {
        NativePool::Sqlite(pool) => layer!(SqliteStore::new(pool.clone())),
        NativePool::Postgres(pool) => layer!(PostgresStore::new(pool.clone())),
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
