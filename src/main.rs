//! `storefront`: reads the configuration, starts the shop, serves until Ctrl-C or SIGTERM.

// See lib.rs: the release build needs more than the default 128 levels for the pages' view types.
#![recursion_limit = "256"]

use app::server::config::Settings;
use storefront::{startup::Application, telemetry};

#[tokio::main]
async fn main() {
    // A missing .env is fine; a malformed one is reported like any other bad setting.
    if let Err(e) = app::server::config::load_dotenv() {
        eprintln!("configuration error: .env: {e}");
        std::process::exit(2);
    }
    telemetry::init();
    let settings =
        match Settings::from_env().and_then(|s| storefront::startup::check_build(&s).map(|()| s)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("start-up failed: {e}");
            std::process::exit(1);
        }
    };
    println!("storefront listening on http://{}", app.local_addr());
    if let Err(e) = app.run_until_stopped().await {
        eprintln!("server error: {e}");
        std::process::exit(1);
    }
}
