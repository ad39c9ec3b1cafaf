//! A time as people and machines read it: `<time datetime="2026-12-01T12:50:40Z">2026-12-01
//! 12:50:40 UTC</time>`.

use crate::model::utc::{readable, rfc3339};
use leptos::prelude::*;

/// `ms` since the Unix epoch, shown in UTC.
#[component]
pub fn UtcTime(ms: i64) -> impl IntoView {
    view! { <time datetime=rfc3339(ms)>{readable(ms)}</time> }
}
