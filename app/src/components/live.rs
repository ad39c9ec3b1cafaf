//! What the islands of one page share in the browser, and the live-status streams they follow.
//!
//! The shop renders every page on the server; only its `#[island]` components hydrate, each on its
//! own (Leptos islands: the browser downloads just their code). Islands that must agree (Add to
//! cart and the header's cart count; a list's status cells) meet here. This state
//! exists only in the browser, one copy per page: on the server [`shared`] is `None` and every
//! island renders from its props, so no visitor's state can reach another's page.

use crate::model::{OrderStatus, OrderStatusJson};
use leptos::prelude::*;
use std::collections::HashMap;

/// The page's shared signals.
#[derive(Clone, Default)]
pub struct Shared {
    /// The cart's item count once something was added on this page (the header shows it).
    pub cart_count: ArcRwSignal<Option<i64>>,
    /// The product of the last Add to cart on this page: only its form shows its answer.
    pub last_added: ArcRwSignal<Option<i64>>,
    /// Order statuses by reference, from the page's list stream.
    pub statuses: ArcRwSignal<HashMap<String, OrderStatus>>,
}

#[cfg(feature = "hydrate")]
thread_local! {
    static SHARED: Shared = Shared::default();
    static STREAMS: std::cell::RefCell<std::collections::HashSet<String>> = Default::default();
}

/// This page's shared signals in the browser; `None` on the server.
pub fn shared() -> Option<Shared> {
    #[cfg(feature = "hydrate")]
    {
        Some(SHARED.with(Shared::clone))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// Follow a list's stream into [`Shared::statuses`], once per page however many islands ask.
#[allow(unused_variables)]
pub fn follow_list(url: &str) {
    #[cfg(feature = "hydrate")]
    {
        let first = STREAMS.with(|s| s.borrow_mut().insert(url.to_string()));
        if first {
            let statuses = SHARED.with(|s| s.statuses.clone());
            follow(url, move |s| {
                statuses.update(|m| {
                    m.insert(s.reference, s.status);
                })
            });
        }
    }
}

/// Follow one Server-Sent Events stream of order statuses (`event: status`, JSON data) and hand
/// each status to `on_status`; [`Stream::close`] ends it. A stream that cannot open is left alone: the page
/// then shows what the server rendered, as it does without JavaScript.
#[allow(unused_variables)]
pub fn follow(url: &str, on_status: impl Fn(OrderStatusJson) + 'static) -> Option<Stream> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let source = web_sys::EventSource::new(url).ok()?;
        let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                if let Ok(status) = serde_json::from_str::<OrderStatusJson>(&text) {
                    on_status(status);
                }
            },
        );
        let _ =
            source.add_event_listener_with_callback("status", listener.as_ref().unchecked_ref());
        listener.forget();
        Some(Stream(send_wrapper::SendWrapper::new(source)))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// An open stream.
#[derive(Clone)]
pub struct Stream(#[cfg(feature = "hydrate")] send_wrapper::SendWrapper<web_sys::EventSource>);

impl Stream {
    pub fn close(&self) {
        #[cfg(feature = "hydrate")]
        self.0.close();
    }
}
