//! Product descriptions: plain paragraphs, or a small safe subset of Markdown. Blank lines make
//! paragraphs; `**bold**`, `*italic*`, `` `code` ``, lists (`- ` or `1. `), quotes (`> `) and
//! links (`[text](https://…)`) are drawn. Everything else is text: raw HTML is shown as typed
//! (escaped), a heading becomes a bold paragraph (the page keeps its own heading order), an image
//! its alt text, and a link to anything but http(s), mailto or a path on this site just its text.

use pulldown_cmark::{html, CowStr, Event, LinkType, Parser, Tag, TagEnd};

/// The description as HTML that is safe to put in the page.
pub fn to_html(text: &str) -> String {
    let mut events = Vec::new();
    let mut link_dropped = false;
    for event in Parser::new(text) {
        match event {
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            Event::Start(Tag::Heading { .. }) => {
                events.push(Event::Start(Tag::Paragraph));
                events.push(Event::Start(Tag::Strong));
            }
            Event::End(TagEnd::Heading(_)) => {
                events.push(Event::End(TagEnd::Strong));
                events.push(Event::End(TagEnd::Paragraph));
            }
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => {}
            Event::Start(Tag::Link {
                dest_url, title, ..
            }) => {
                if safe_link(&dest_url) {
                    events.push(Event::Start(Tag::Link {
                        link_type: LinkType::Inline,
                        dest_url,
                        title,
                        id: CowStr::Borrowed(""),
                    }));
                } else {
                    link_dropped = true;
                }
            }
            Event::End(TagEnd::Link) => {
                // Links do not nest, so the end belongs to the last start.
                if !std::mem::take(&mut link_dropped) {
                    events.push(Event::End(TagEnd::Link));
                }
            }
            other => events.push(other),
        }
    }
    let mut out = String::new();
    html::push_html(&mut out, events.into_iter());
    out
}

/// http(s) and mailto links, and paths on this site (never `//host`, which is another site).
fn safe_link(url: &str) -> bool {
    let url = url.trim();
    if url.chars().any(|c| c.is_control() || c == '\\') {
        return false;
    }
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (url.starts_with('/') && !url.starts_with("//"))
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn plain_paragraphs_stay_paragraphs() {
        assert_eq!(
            to_html("A sturdy tote.\n\nMade in Dhaka."),
            "<p>A sturdy tote.</p>\n<p>Made in Dhaka.</p>\n"
        );
    }

    #[test]
    fn the_small_subset_is_drawn() {
        let html = to_html(
            "**Warm** and *soft*.\n\n- wool\n- cotton\n\n[Care guide](https://example.com/care)",
        );
        assert!(html.contains("<strong>Warm</strong>"), "{html}");
        assert!(html.contains("<em>soft</em>"), "{html}");
        assert!(html.contains("<li>wool</li>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/care">Care guide</a>"#),
            "{html}"
        );
    }

    #[test]
    fn html_and_scripts_are_shown_as_text_never_run() {
        let html = to_html("<script>alert(1)</script>\n\nHi <img src=x onerror=alert(2)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }

    #[test]
    fn dangerous_links_lose_their_address_and_keep_their_text() {
        for url in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "//evil.example/",
            "vbscript:x",
        ] {
            let html = to_html(&format!("[click]({url})"));
            assert_eq!(html, "<p>click</p>\n", "{url}");
        }
        assert_eq!(
            to_html("[Sizes](/products/canvas-tote)"),
            "<p><a href=\"/products/canvas-tote\">Sizes</a></p>\n"
        );
        // An autolink is a link too.
        assert_eq!(
            to_html("<javascript:alert(1)>"),
            "<p>javascript:alert(1)</p>\n"
        );
    }

    #[test]
    fn headings_and_images_do_not_break_the_page() {
        assert_eq!(to_html("# Big"), "<p><strong>Big</strong></p>\n");
        assert_eq!(to_html("![a cat](/x.png)"), "<p>a cat</p>\n");
    }
}
